"""Pre-handler (group -2): drop a flooding user's excess updates, telling them once."""

from __future__ import annotations

import logging
import time

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, BaseHandler, TypeHandler

from bot.context import BotContext
from bot.traffic import flood
from bot.ui.i18n import pick_language, t
from bot.ui.screens import Screen
from handlers.render import answer, reply

log = logging.getLogger(__name__)


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    gate: flood.FloodGate | None = None  # one per Application, built from its settings

    async def limit(update: Update, context: BotContext) -> None:
        nonlocal gate
        user = update.effective_user
        if user is None or user.is_bot:
            return  # channel posts and bots: the people pre-handler ignores them
        if gate is None:
            settings = context.settings
            gate = flood.FloodGate(settings.flood_burst, settings.flood_rate)
        verdict = gate.check(user.id, time.monotonic())
        if verdict is flood.Verdict.ALLOW:
            return
        log.info("flood: dropped an update of user %s (%s)", user.id, verdict.value)
        try:
            await _tell(update, context, gate, verdict)
        except TelegramError as exc:  # a blocked user or an expired query: nothing to do
            log.debug("flood note not delivered to %s: %s", user.id, exc)
        raise ApplicationHandlerStop

    return [TypeHandler(Update, limit)]


async def _tell(
    update: Update, context: BotContext, gate: flood.FloodGate, verdict: flood.Verdict
) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None
    settings = context.settings
    lang = gate.language(user.id)
    if lang is None and verdict is flood.Verdict.NOTE:
        async with context.db() as session:
            lang = await flood.note_language(
                session, user.id, user.language_code, settings.default_language
            )
        gate.remember_language(user.id, lang)
    lang = lang or pick_language(user.language_code, settings.default_language)
    if update.callback_query is not None:
        # Every dropped press is answered, so the button stops spinning.
        await answer(update, context, t(lang, "flood.slow_down_short"))
    elif verdict is flood.Verdict.NOTE and chat is not None and chat.type == ChatType.PRIVATE:
        # Groups (the staff chat) get no note: the drop is silent there.
        await reply(update, Screen(t(lang, "flood.slow_down")))
