"""/start (with deep-link payloads), /help and the main menu buttons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.people.person import Person
from bot.ui import screens as views
from bot.ui.callbacks import Callback
from bot.ui.deeplinks import parse_payload
from handlers import board, catalog, guard, invites, next_steps
from handlers.render import answer, reply, show

PayloadHandler = Callable[[Update, BotContext, Person, str], Awaitable[None]]

# Each deep-link kind belongs to the feature that made the link.
PAYLOAD_ROUTES: dict[str, PayloadHandler] = {
    "inv": invites.open_invite,
    "p": catalog.open_program_link,
}


async def start(update: Update, context: BotContext) -> None:
    person = context.sender
    raw = context.args[0] if context.args else None
    if raw is None:
        await reply(update, views.welcome(person, mini_app(update, context)))
        return
    payload = parse_payload(raw)
    route = PAYLOAD_ROUTES.get(payload.kind) if payload else None
    if payload is None or route is None:
        await reply(update, views.with_menu(person, "start.bad_link"))
        return
    await route(update, context, person, payload.value)


async def help_command(update: Update, context: BotContext) -> None:
    await reply(update, views.help_screen(context.sender))


@guard.button()
async def menu_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    if data.action == "inq":  # the staff's rows (screens.staff_rows); the board decides
        await board.menu_list(update, context)
        return
    await answer(update, context)
    if data.action == "help":
        await show(update, views.help_screen(person))
    elif data.action == "tasks":
        await next_steps.tasks_command(update, context)
    elif data.action == "cal":
        await next_steps.calendar_command(update, context)
    else:
        await show(update, views.main_menu(person, mini_app(update, context)))


def mini_app(update: Update, context: BotContext) -> str | None:
    """The Mini App's URL where its button can open it: a private chat (Telegram refuses
    web_app buttons elsewhere), and only when WEBAPP_URL is set."""
    chat = update.effective_chat
    private = chat is not None and chat.type == ChatType.PRIVATE
    return context.settings.webapp_url if private else None


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("start", start),
        CommandHandler("help", help_command),
        CommandHandler("menu", start),
        CallbackQueryHandler(menu_button, pattern=r"^m:(menu|help|tasks|cal|inq)$"),
    ]
