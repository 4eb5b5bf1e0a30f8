"""The error handler: log first, then a polite word to the user and a note to the staff.

The user always hears of it: a button press that was already answered (its spinner
stopped, perhaps with "Saved") gets a message in the chat instead of the alert. Reports
to the staff chat are limited to one per kind of error a minute, with the count of the
ones held back, so a broken button pressed in a loop does not flood the staff.
"""

from __future__ import annotations

import html
import logging
import time

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.context import BotContext
from bot.ui import screens as views
from bot.ui.i18n import t
from handlers.render import reply, was_answered

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    log.error("update %s failed", getattr(update, "update_id", None), exc_info=error)
    if not isinstance(update, Update) or isinstance(error, Forbidden):
        return
    # Counted before the user is told, so a report is never overtaken by the next error.
    held = context.runtime.error_reports.admit(type(error).__name__, time.time())
    lang = context.person.language if context.person else context.settings.default_language
    try:
        query = update.callback_query
        if query is not None and not was_answered(context, query.id):
            await query.answer(t(lang, "error.generic"), show_alert=True)
        elif update.effective_chat is not None:
            await reply(update, views.Screen(t(lang, "error.generic")))
    except TelegramError:
        log.warning("could not tell the user about the failure", exc_info=True)
    if held is not None:  # None: one of its kind was reported less than a minute ago
        await _report(update, context, type(error).__name__, held)


async def _report(update: Update, context: BotContext, kind: str, held: int) -> None:
    if context.settings.staff_chat_id is None or context.runtime.staff_chat is None:
        return
    lang = context.settings.staff_lang
    user = update.effective_user.id if update.effective_user else "?"
    note = t(lang, "error.staff_report", user=user, error=html.escape(kind))
    if held:
        note += " " + t(lang, "error.staff_report_more", n=held)
    try:  # where the staff chat is now, if the bot may still post there
        await context.staff_chat.post(context.bot, note)
    except Exception:  # TelegramError, or the database the failure came from
        log.warning("could not report the failure to the staff chat", exc_info=True)
