"""Sending a Screen: as a new message, or by editing the message whose button was pressed."""

from __future__ import annotations

from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.context import BotContext
from bot.formats.spreadsheets import ExportFile
from bot.traffic.edits import edit_text
from bot.ui.screens import Screen
from bot.ui.text import TEXT_LIMIT, MessageTooLong, visible_len


def _measured(screen: Screen) -> str:
    """The last guard: views fit their text (bot/text.py); one that did not is a bug,
    named here rather than by Telegram's "message is too long"."""
    length = visible_len(screen.text)
    if length > TEXT_LIMIT:
        raise MessageTooLong(f"a screen of {length} characters (Telegram takes {TEXT_LIMIT})")
    return screen.text


async def reply(update: Update, screen: Screen) -> Message | None:
    """Answer in the chat the update came from (new message); the message sent."""
    chat = update.effective_chat
    if chat is None:
        return None
    _measured(screen)
    return await chat.send_message(
        screen.text,
        parse_mode=ParseMode.HTML,
        reply_markup=screen.reply_keyboard or screen.keyboard,
        disable_web_page_preview=True,
    )


async def show(update: Update, screen: Screen) -> Message | None:
    """Edit the pressed button's message in place; otherwise send a new message. The
    message now showing the screen (None: it already did). After an edit that is the
    pressed message as the press brought it: its ids are right, its text is the old one
    (Telegram's reply to the edit is not parsed, bot/traffic/edits.py)."""
    query = update.callback_query
    if (
        query is None
        or query.message is None
        or not isinstance(query.message, Message)
        or screen.reply_keyboard is not None
    ):
        return await reply(update, screen)
    _measured(screen)
    message = query.message
    try:
        await edit_text(
            query.get_bot(), message.chat.id, message.message_id, screen.text, screen.keyboard
        )
    except BadRequest as exc:
        text = str(exc).lower()
        if "not modified" in text:
            return None  # the same screen again (a double tap): nothing to do
        if "message to edit not found" in text or "can't be edited" in text:
            return await reply(update, screen)
        raise
    return message


async def send_file(update: Update, made: ExportFile, caption: str) -> None:
    """A file the bot made (an export, a calendar) into the chat the update came from."""
    chat = update.effective_chat
    if chat is not None:
        await chat.send_document(document=made.data, filename=made.filename, caption=caption)


def was_answered(context: BotContext, query_id: str) -> bool:
    return query_id in context.runtime.answered


async def answer(
    update: Update, context: BotContext, text: str | None = None, *, alert: bool = False
) -> None:
    """Acknowledge a button press (stops the client's spinner) exactly once: Telegram
    refuses a second answer, and paths that answer early may hand over to ones that
    would answer again. The answer goes out alongside what the handler sends next (a
    press costs one round trip, not two in a row); guard.button waits for it before the
    update is done, and a failure is logged (bot/traffic/answers.py)."""
    query = update.callback_query
    if query is None or not context.runtime.answered.add(query.id):
        return
    context.runtime.answers.start(query.id, query.answer(text=text, show_alert=alert))
