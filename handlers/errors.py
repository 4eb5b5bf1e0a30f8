"""The error handler: log first, then a polite word to the user and a note to the staff."""

from __future__ import annotations

import html
import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot import views
from bot.context import BotContext
from bot.i18n import t
from handlers.render import reply

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    log.error("update %s failed", getattr(update, "update_id", None), exc_info=error)
    if not isinstance(update, Update) or isinstance(error, Forbidden):
        return
    lang = context.person.language if context.person else context.settings.default_language
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(t(lang, "error.generic"), show_alert=True)
        elif update.effective_chat is not None:
            await reply(update, views.Screen(t(lang, "error.generic")))
    except TelegramError:
        log.warning("could not tell the user about the failure", exc_info=True)
    if context.settings.staff_chat_id is not None and context.runtime.staff_chat is not None:
        user = update.effective_user.id if update.effective_user else "?"
        note = t(
            context.settings.default_language,
            "error.staff_report",
            user=user,
            error=html.escape(type(error).__name__),
        )
        try:  # where the staff chat is now, if the bot may still post there
            await context.staff_chat.post(context.bot, note)
        except Exception:  # TelegramError, or the database the failure came from
            log.warning("could not report the failure to the staff chat", exc_info=True)
