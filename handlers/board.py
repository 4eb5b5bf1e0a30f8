"""The staff's board of inquiries: /inquiries (filtered, paginated; admins see all, a
teacher their scope), /stats and /export_inquiries (admins). Callback prefix `ia:` (the
data shapes are in bot/inquiries/board_views.py). Private chats only: the list and the
file carry contacts' personal data."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.forms.engine import Start
from bot.inquiries import board, charts, pipeline
from bot.inquiries import board_views as render
from bot.inquiries import forms as inquiry_forms
from bot.inquiries.board import ListState
from bot.next_steps import forms as step_forms
from bot.people.person import Person
from bot.people.roles import Act, Refused
from bot.ui.callbacks import Callback
from bot.ui.i18n import format_time, t
from bot.ui.screens import Screen
from handlers import guard
from handlers.forms import begin_form
from handlers.render import answer, reply, send_file, show


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


async def menu_list(update: Update, context: BotContext) -> None:
    """The main menu's "Inquiries" (staff): the first page, in place of the menu."""
    person = context.sender
    async with context.db() as session:  # Refused for anyone but staff (their scope)
        found = await board.page(session, person, ListState(), context.now())
    await answer(update, context)
    await show(update, render.list_screen(person.language, found))


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
    elif data.action in CARD_ACTIONS:
        await on_card(update, context, data)
    else:
        raise Refused()


# On one inquiry: open it, or one of its actions; each with the number of arguments that
# come before the list state.
CARD_ACTIONS = {"o": 1, "a": 1, "A": 2, "s": 1, "S": 2, "r": 1, "n": 1}


async def on_card(update: Update, context: BotContext, data: Callback) -> None:
    person, settings = context.sender, context.settings
    lang = person.language
    inquiry_id = data.int_arg(0)
    state = ListState.from_args(data.args[CARD_ACTIONS[data.action] :])
    if inquiry_id is None or state is None:
        raise Refused()
    note: str | None = None  # what the tap's answer says
    if data.action == "r":
        start = Start(inquiry_forms.STAFF_REPLY, {"inquiry_id": inquiry_id})
        await begin_form(update, context, start)  # the card stays, its Back too
        return
    if data.action == "n":
        start = Start(step_forms.NEW_STEP, {"inquiry_id": inquiry_id, "actor_id": person.id})
        await begin_form(update, context, start)
        return
    if data.action == "a" and person.is_admin:
        async with context.db() as session:
            view = await board.staff_view(session, person, inquiry_id)
            staff = await board.assignees(session, settings, person, inquiry_id)
        await answer(update, context)
        await show(update, render.assign_screen(lang, view, staff, state))
        return
    if data.action == "s":
        async with context.db() as session:
            view = await board.staff_view(session, person, inquiry_id)
        await answer(update, context)
        await show(update, render.status_screen(lang, view, state))
        return
    if data.action in ("a", "A"):  # a teacher's "assign to me", or an admin's pick
        whom = person.id if data.action == "a" else data.user_arg(1)
        if whom is None:
            raise Refused()
        async with context.db(write=True) as session:
            await pipeline.assign_to(session, settings, person, inquiry_id, whom)
    elif data.action == "S":
        async with context.db(write=True) as session:
            changed = await pipeline.set_status(session, settings, person, inquiry_id, data.args[1])
        context.wake_engines()  # the contact is told through the outbox
        note = t(lang, "inquiry.status_set", status=render.status_name(lang, changed.status))
    async with context.db() as session:
        view = await board.staff_view(session, person, inquiry_id)
    if data.action in ("a", "A"):
        note = t(lang, "ia.assigned", name=render.person_name(view.assignee) or "?")
    await answer(update, context, note)
    screen = render.inquiry_screen(lang, view, state, settings.tz, picks=person.is_admin)
    await show(update, screen)


@guard.command(Act.INQUIRY_REPORTS)
async def stats_command(update: Update, context: BotContext) -> None:
    person, chat = context.sender, update.effective_chat
    if chat is None:
        return
    async with context.db() as session:
        stats = await board.stats(session, person, context.settings.tz, context.now())
    lang = person.language
    caption = render.stats_caption(lang, stats)
    png = await charts.stats_png(lang, stats.trends)
    if png is None:  # no font to draw it readably: the figures alone
        await reply(update, Screen(caption))
    else:
        await chat.send_photo(photo=png, caption=caption, filename="stats.png")


@guard.command(Act.INQUIRY_REPORTS)
async def export_command(update: Update, context: BotContext) -> None:
    person = context.sender
    lang, tz, now = person.language, context.settings.tz, context.now()
    async with context.db() as session:  # FieldError: a format we do not write
        made = await board.export(session, person, context.args or [], tz, now, lang)
    caption = t(lang, "ia.export_caption", count=made.count, time=format_time(now, lang, tz))
    await send_file(update, made, caption)


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("inquiries", inquiries_command, filters=private),
        CommandHandler("stats", stats_command, filters=private),
        CommandHandler("export_inquiries", export_command, filters=private),
        CallbackQueryHandler(on_button, pattern=r"^ia:"),
    ]
