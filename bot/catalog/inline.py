"""Inline mode: `@bot words` in any chat lists the open programmes that match, and the
chosen one is posted there as its card with a button that opens it in the bot.

Anyone may type an inline query, also people who never started the bot: nothing is
stored for them (they are not recipients of anything), and only open programmes, which
the catalogue shows to everyone, are ever listed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
)

from bot.catalog.search import SearchCache, clean_query
from bot.catalog.service import title_of
from bot.catalog.views import card_text, kind_name, program_link
from bot.ui.i18n import LANGUAGES, localized, pick_language, t
from bot.ui.text import clip_text
from storage import programs as repo
from storage import users as users_repo
from storage.models import ProgramStatus
from storage.programs import Card, ProgramFilter

RESULTS = 10  # an empty query shows the newest; a search its newest matches
# Results differ by the asker's language, so they are cached for each asker only
# (is_personal); a minute keeps a closed programme from lingering in Telegram's cache.
CACHE_SECONDS = 60
DESCRIPTION_CHARS = 120  # the grey line under a result's title


@dataclass(frozen=True)
class Found:
    lang: str
    cards: list[Card]


async def find(
    session: AsyncSession, cache: SearchCache, user_id: int, language_code: str | None,
    raw_query: str, default_language: str,
) -> Found:  # fmt: skip
    """The asker's language (the one they chose in the bot, else Telegram's) and the open
    programmes matching the query, newest first; the newest ones for an empty query."""
    user = await users_repo.get_user(session, user_id)
    if user is not None and user.language in LANGUAGES:
        lang = user.language
    else:
        lang = pick_language(language_code, default_language)
    query = clean_query(raw_query)
    if query:
        ids = sorted(await cache.matching_ids(session, tuple(query.split())), reverse=True)
    else:
        ids = await repo.newest_ids(session, ProgramFilter(), RESULTS)
    cards = []
    for program_id in ids[:RESULTS]:
        card = await repo.get_card(session, program_id)
        if card is not None and card.program.status is ProgramStatus.OPEN:
            cards.append(card)
    return Found(lang, cards)


def results(found: Found, bot_username: str) -> list[InlineQueryResultArticle]:
    return [_article(found.lang, card, bot_username) for card in found.cards]


def _article(lang: str, card: Card, bot_username: str) -> InlineQueryResultArticle:
    p, d = card.program, card.department
    summary = localized(lang, p.summary_zh, p.summary_en)
    line = f"{kind_name(lang, p.kind)} · {localized(lang, d.name_zh, d.name_en)}"
    if summary:
        line = f"{line} — {summary}"
    opens = InlineKeyboardButton(t(lang, "inline.open"), url=program_link(bot_username, p.id))
    return InlineQueryResultArticle(
        id=f"p{p.id}",
        title=title_of(lang, card) or f"#{p.id}",
        description=clip_text(line, DESCRIPTION_CHARS),
        input_message_content=InputTextMessageContent(
            card_text(lang, card),  # fitted to one message, as in the bot
            parse_mode="HTML",
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
        reply_markup=InlineKeyboardMarkup([[opens]]),
    )
