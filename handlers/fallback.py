"""Registered last: everything no feature claimed gets a deliberate answer."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import BotContext
from bot.ui import screens as views
from handlers import catalog, guard
from handlers.render import reply


async def cancel_nothing(update: Update, context: BotContext) -> None:
    # Forms own /cancel while they run; reaching this handler means no form is open.
    await reply(update, views.with_menu(context.sender, "cancel.nothing"))


async def unknown_command(update: Update, context: BotContext) -> None:
    await reply(update, views.with_menu(context.sender, "fallback.unknown_command"))


async def stray_text(update: Update, context: BotContext) -> None:
    """Text outside any form is taken as a catalog search: the likeliest wish."""
    message = update.effective_message
    words = (message.text or "") if message else ""
    await catalog.run_search(update, context, words)


async def unsupported(update: Update, context: BotContext) -> None:
    await reply(update, views.with_menu(context.sender, "fallback.unsupported"))


async def stale_button(update: Update, context: BotContext) -> None:
    """Forged, stale or unknown callback data: the same polite word as every refusal."""
    await guard.refuse_button(update, context)


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("cancel", cancel_nothing, filters=private),
        MessageHandler(private & filters.COMMAND, unknown_command),
        MessageHandler(private & filters.UpdateType.MESSAGE & filters.TEXT, stray_text),
        MessageHandler(private & filters.UpdateType.MESSAGE, unsupported),
        CallbackQueryHandler(stale_button),
    ]
