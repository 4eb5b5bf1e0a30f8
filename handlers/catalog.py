"""Browsing the catalog: home, kinds, departments, pages, cards, search, share, deep links."""

from __future__ import annotations

import io

import segno
from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.catalog import service as catalog
from bot.catalog import views as catalog_views
from bot.catalog.service import ListRef, NotVisible
from bot.context import BotContext
from bot.people.person import Person
from bot.people.roles import Refused
from bot.ui import screens as views
from bot.ui.callbacks import Callback
from bot.ui.i18n import t
from bot.ui.ids import parse_id
from handlers import guard
from handlers.render import answer, reply, show


async def catalog_command(update: Update, context: BotContext) -> None:
    await reply(update, catalog_views.home(context.sender))


async def search_command(update: Update, context: BotContext) -> None:
    words = " ".join(context.args or [])
    if not words.strip():
        await reply(update, views.Screen(t(context.lang, "catalog.search_prompt")))
        return
    await run_search(update, context, words)


async def run_search(update: Update, context: BotContext, words: str) -> None:
    """Plain text outside a form is a search, too (see handlers/fallback.py)."""
    person = context.sender
    async with context.db() as session:
        ref = await catalog.search(session, person, words)
        page = await catalog.page(session, ref, person) if ref else None
        counts = await catalog.kinds(session) if not (page and page.items) else []
    if page is None or not page.items:
        await reply(update, catalog_views.no_results(person.language, words[:100], counts))
        return
    await reply(update, catalog_views.program_list(person.language, page))


async def open_program_link(
    update: Update, context: BotContext, person: Person, value: str
) -> None:
    """Deep link `p_<id>`: the programme's card, or a clear word and the catalog."""
    # An id beyond the INTEGER key made PostgreSQL's driver raise: it is simply not found.
    program_id = parse_id(value)
    if program_id is None:
        await reply(update, _with_home(person, "catalog.not_found"))
        return
    await _send_card(update, context, person, program_id, back=None, edit=False)


async def send_card(update: Update, context: BotContext, person: Person, program_id: int) -> None:
    """The card as a new message (after a form was saved, say)."""
    await _send_card(update, context, person, program_id, back=None, edit=False)


def _with_home(person: Person, key: str) -> views.Screen:
    home = catalog_views.home(person)
    return views.Screen(t(person.language, key) + "\n\n" + home.text, home.keyboard)


async def _send_card(
    update: Update, context: BotContext, person: Person, program_id: int,
    back: ListRef | None, *, edit: bool,
) -> None:  # fmt: skip
    try:
        async with context.db(readonly=True) as session:
            found = await catalog.card(session, program_id, person)
    except NotVisible as gone:
        if edit and not gone.closed:
            raise Refused() from None  # a button: gone, or hidden, look like any stale one
        key = "catalog.closed" if gone.closed else "catalog.not_found"
        if edit:
            await answer(update, t(person.language, key))
        await (show if edit else reply)(update, _with_home(person, key))
        return
    if edit:
        await answer(update)
    screen = catalog_views.card(person, found, back, context.runtime.bot_username)
    await (show if edit else reply)(update, screen)


@guard.button()
async def catalog_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    action = data.action
    if action == "home":
        await answer(update)
        await show(update, catalog_views.home(person))
    elif action == "kinds":
        async with context.db(readonly=True) as session:
            counts = await catalog.kinds(session)
        await answer(update)
        await show(update, catalog_views.kinds(person.language, counts))
    elif action == "deps" and data.int_arg(0) is not None:
        async with context.db(readonly=True) as session:
            rows = await catalog.departments(session)
        await answer(update)
        await show(update, catalog_views.departments(person.language, rows, data.int_arg(0) or 1))
    elif action == "l":
        await _list(update, context, person, data)
    elif action == "p":
        await _card_button(update, context, person, data)
    elif action == "share":
        await _share(update, context, person, data)
    elif action == "search":
        await answer(update)
        await reply(update, views.Screen(t(person.language, "catalog.search_prompt")))
    else:
        raise Refused()


async def _list(update: Update, context: BotContext, person: Person, data: Callback) -> None:
    ref = ListRef.parse(*data.args) if len(data.args) == 2 else None
    if ref is None:
        raise Refused()
    async with context.db(readonly=True) as session:
        page = await catalog.page(session, ref, person)
    if page is None:
        raise Refused()
    await answer(update)
    await show(update, catalog_views.program_list(person.language, page))


async def _card_button(update: Update, context: BotContext, person: Person, data: Callback) -> None:
    program_id = data.int_arg(0)
    back = ListRef.parse(*data.args[1:3]) if len(data.args) == 3 else None
    if program_id is None:
        raise Refused()
    await _send_card(update, context, person, program_id, back, edit=True)


async def _share(update: Update, context: BotContext, person: Person, data: Callback) -> None:
    program_id = data.int_arg(0)
    try:
        if program_id is None:
            raise NotVisible(closed=False)
        async with context.db(readonly=True) as session:
            found = await catalog.card(session, program_id, person)
    except NotVisible:
        raise Refused() from None
    await answer(update)
    username = context.runtime.bot_username
    url = catalog_views.program_link(username, found.program.id)
    png = io.BytesIO()
    segno.make(url, error="m").save(png, kind="png", scale=6, border=2)
    chat = update.effective_chat
    if chat is not None:
        await chat.send_photo(
            photo=png.getvalue(),
            caption=catalog_views.share_text(person.language, found, username),
        )


async def show_card(update: Update, context: BotContext, person: Person, program_id: int) -> None:
    """The card in place of the pressed button's message (after an admin change)."""
    await _send_card(update, context, person, program_id, back=None, edit=True)


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler(["catalog", "programs"], catalog_command),
        CommandHandler("search", search_command),
        CallbackQueryHandler(catalog_button, pattern=r"^c:"),
    ]
