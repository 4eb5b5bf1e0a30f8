"""Inline mode (`@bot words` in any chat): the matching open programmes, the chosen one
posted as its card with a deep-link button. Needs inline mode switched on in @BotFather
(/setinline); until then Telegram sends no inline queries at all."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, InlineQueryHandler

from bot.catalog import inline
from bot.context import BotContext


async def inline_query(update: Update, context: BotContext) -> None:
    query = update.inline_query
    if query is None:
        return
    async with context.db() as session:
        found = await inline.find(
            session, context.runtime.search, query.from_user.id, query.from_user.language_code,
            query.query, context.settings.default_language,
        )  # fmt: skip
    await query.answer(
        inline.results(found, context.runtime.bot_username),
        cache_time=inline.CACHE_SECONDS,
        is_personal=True,
    )


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [InlineQueryHandler(inline_query)]
