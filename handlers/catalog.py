"""Browsing the catalogue: home, kinds, departments, pages, cards, search, share, deep links.

Callback prefix `c:` (data shapes in bot/catalog/service.py ListRef and views.py)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.catalog import service as catalog
from bot.catalog import views as catalog_views
from bot.catalog.service import ListRef, NotVisible
from bot.context import BotContext
from bot.forms.engine import Saved
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
    async with context.db(write=True) as session:  # the query is saved: buttons refer to it
        found = await catalog.run_search(session, person, words, context.runtime.search)
    if found.page is None or not found.page.items:
        await reply(update, catalog_views.no_results(person.language, words[:100], found.kinds))
        return
    await reply(update, catalog_views.program_list(person.language, found.page))


async def open_program_link(
    update: Update, context: BotContext, person: Person, value: str
) -> None:
    """Deep link `p_<id>`: the programme's card, or a clear word and the catalogue."""
    # An id beyond the INTEGER key made PostgreSQL's driver raise: it is simply not found.
    program_id = parse_id(value)
    if program_id is None:
        await reply(update, catalog_views.with_home(person, "catalog.not_found"))
        return
    await _send_card(update, context, person, program_id, back=None, edit=False)


async def _send_card(
    update: Update, context: BotContext, person: Person, program_id: int,
    back: ListRef | None, *, edit: bool,
) -> None:  # fmt: skip
    try:
        async with context.db() as session:
            found = await catalog.card(session, program_id, person)
    except NotVisible as gone:
        if edit and not gone.closed:
            raise Refused() from None  # a button: gone, or hidden, look like any stale one
        key = "catalog.closed" if gone.closed else "catalog.not_found"
        if edit:
            await answer(update, context, t(person.language, key))
        await (show if edit else reply)(update, catalog_views.with_home(person, key))
        return
    if edit:
        await answer(update, context)
    screen = catalog_views.card(person, found, back, context.runtime.bot_username)
    await (show if edit else reply)(update, screen)


@guard.button()
async def catalog_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    lang = person.language
    if data.action == "home":
        await answer(update, context)
        await show(update, catalog_views.home(person))
    elif data.action == "kinds":
        async with context.db() as session:
            counts = await catalog.kinds(session)
        await answer(update, context)
        await show(update, catalog_views.kinds(lang, counts))
    elif data.action == "deps" and data.int_arg(0) is not None:
        async with context.db() as session:
            rows = await catalog.departments(session)
        await answer(update, context)
        await show(update, catalog_views.departments(lang, rows, data.int_arg(0) or 1))
    elif data.action == "l":
        await _list(update, context, person, data)
    elif data.action == "p" and data.int_arg(0) is not None:
        back = ListRef.parse(*data.args[1:3]) if len(data.args) == 3 else None
        await _send_card(update, context, person, data.int_arg(0) or 0, back, edit=True)
    elif data.action == "share":
        await _share(update, context, person, data.int_arg(0))
    elif data.action == "search":
        await answer(update, context)
        await reply(update, views.Screen(t(lang, "catalog.search_prompt")))
    else:
        raise Refused()


async def _list(update: Update, context: BotContext, person: Person, data: Callback) -> None:
    ref = ListRef.parse(*data.args) if len(data.args) == 2 else None
    if ref is None:
        raise Refused()
    async with context.db() as session:
        page = await catalog.page(session, ref, person, context.runtime.search)
    if page is None:
        raise Refused()
    await answer(update, context)
    await show(update, catalog_views.program_list(person.language, page))


async def _share(
    update: Update, context: BotContext, person: Person, program_id: int | None
) -> None:
    try:
        async with context.db() as session:
            found = await catalog.card(session, program_id or 0, person)
    except NotVisible:
        raise Refused() from None
    await answer(update, context)
    username = context.runtime.bot_username
    photo, caption = catalog_views.share_photo(person.language, found, username)
    chat = update.effective_chat
    if chat is not None:
        keyboard = catalog_views.share_keyboard(person.language, found, username)
        await chat.send_photo(photo=photo, caption=caption, reply_markup=keyboard)


async def show_card(update: Update, context: BotContext, person: Person, program_id: int) -> None:
    """The card in place of the pressed button's message (after an admin change)."""
    await _send_card(update, context, person, program_id, back=None, edit=True)


async def card_after_save(
    update: Update, context: BotContext, person: Person, saved: Saved
) -> None:
    """After a programme form is saved: the programme's card, as a new message."""
    if saved.made is not None:
        await _send_card(update, context, person, saved.made, back=None, edit=False)


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler(["catalog", "programs"], catalog_command),
        CommandHandler("search", search_command),
        CallbackQueryHandler(catalog_button, pattern=r"^c:"),
    ]
