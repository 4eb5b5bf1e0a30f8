"""The staff's board of inquiries: /inquiries (filtered, paginated; admins see all, a
teacher their scope), /stats and /export_inquiries (admins). Callback prefix `ia:` (the
data shapes are in bot/inquiries/board_views.py). Private chats only: the list and the
file carry contacts' personal data."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.inquiries import board
from bot.inquiries import board_views as render
from bot.inquiries.board import ListState
from bot.people.person import Person
from bot.people.roles import Act, Refused
from bot.ui.callbacks import Callback
from bot.ui.i18n import format_time, t
from handlers import guard
from handlers.render import answer, reply, show


async def _send_list(
    update: Update, context: BotContext, person: Person, state: ListState, *, edit: bool
) -> None:
    async with context.db() as session:
        found = await board.page(session, person, state, context.now())
    await (show if edit else reply)(update, render.list_screen(person.language, found))


@guard.command(Act.LIST_INQUIRIES)
async def inquiries_command(update: Update, context: BotContext) -> None:
    async with context.db() as session:  # FieldError: usage, or no such programme
        state = await board.state_from_args(session, context.args or [])
    await _send_list(update, context, context.sender, state, edit=False)


@guard.button(Act.LIST_INQUIRIES)
async def on_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    lang = person.language
    if data.action == "l":
        state = ListState.from_args(data.args)
        if state is None:
            raise Refused()
        await answer(update, context)
        await _send_list(update, context, person, state, edit=True)
    elif data.action == "f" and data.args and data.args[0] in ("s", "k", "a"):
        state = ListState.from_args(data.args[1:])
        if state is None:
            raise Refused()
        await answer(update, context)
        await show(update, render.filter_screen(lang, data.args[0], state))
    elif data.action == "o":
        inquiry_id = data.int_arg(0)
        state = ListState.from_args(data.args[1:])
        if inquiry_id is None or state is None:
            raise Refused()
        async with context.db() as session:
            view = await board.staff_view(session, person, inquiry_id)
        await answer(update, context)
        await show(update, render.inquiry_screen(lang, view, state, context.settings.tz))
    else:
        raise Refused()


@guard.command(Act.INQUIRY_REPORTS)
async def stats_command(update: Update, context: BotContext) -> None:
    person = context.sender
    async with context.db() as session:
        stats = await board.stats(session, person)
    await reply(update, render.stats_screen(person.language, stats))


@guard.command(Act.INQUIRY_REPORTS)
async def export_command(update: Update, context: BotContext) -> None:
    person = context.sender
    chat = update.effective_chat
    if chat is None:
        return
    tz, now = context.settings.tz, context.now()
    async with context.db() as session:  # FieldError: a format we do not write
        made = await board.export(session, person, context.args or [], tz, now, person.language)
    lang = person.language
    await chat.send_document(
        document=made.data,
        filename=made.filename,
        caption=t(lang, "ia.export_caption", count=made.count, time=format_time(now, lang, tz)),
    )


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("inquiries", inquiries_command, filters=private),
        CommandHandler("stats", stats_command, filters=private),
        CommandHandler("export_inquiries", export_command, filters=private),
        CallbackQueryHandler(on_button, pattern=r"^ia:"),
    ]
