"""/forget: a contact's data removed from every table, after a screen that says what goes
and what stays. Callback prefix `fg:`."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.people import forget as forgetting
from bot.people import forget_views
from bot.people.roles import Refused
from bot.ui import screens as views
from bot.ui.callbacks import Callback
from bot.ui.errors import FieldError
from handlers import guard
from handlers.render import answer, reply, show


async def forget_command(update: Update, context: BotContext) -> None:
    person = context.sender
    try:
        async with context.db() as session:
            footprint = await forgetting.preview(session, person)
    except FieldError as refusal:
        await reply(update, views.with_menu(person, refusal.key))
        return
    await reply(update, forget_views.confirm(person.language, footprint))


@guard.button()
async def forget_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    if data.action not in ("yes", "no"):
        raise Refused()
    await answer(update, context)
    if data.action == "no":
        await show(update, views.with_menu(person, "forget.kept"))
        return
    try:
        async with context.db(write=True) as session:
            did = await forgetting.forget(session, person)
    except FieldError as refusal:
        await show(update, views.with_menu(person, refusal.key))
        return
    await show(update, forget_views.done(person.language, did))


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("forget", forget_command),
        CallbackQueryHandler(forget_button, pattern=r"^fg:"),
    ]
