"""Editing a message in place without reading Telegram's reply into objects.

editMessageText answers with the whole edited message, its keyboard included, and
python-telegram-bot's edit_message_text builds a Message of it: the second largest cost
of a button press after the database (issue 15's profile: Message.de_json and its
keyboard's buttons, ~15 % of the bot's CPU per press). Nobody reads that Message, so the
edit goes through PTB's generic do_api_request without a return type: the same request
path (defaults, the send limiter, errors raised as BadRequest and friends), and the
result left as Telegram's JSON.
"""

from __future__ import annotations

import warnings

from telegram import Bot, InlineKeyboardMarkup
from telegram.warnings import PTBUserWarning

# do_api_request suggests the named method for every endpoint PTB knows; here the
# generic call is the point (the named one parses the reply).
warnings.filterwarnings(
    "ignore", message=r"Please use 'Bot\.editMessageText'", category=PTBUserWarning
)


async def edit_text(
    bot: Bot, chat_id: int, message_id: int, html: str, keyboard: InlineKeyboardMarkup | None
) -> None:
    """The message's text (HTML, no link previews) and buttons, as
    `bot.edit_message_text` would set them."""
    kwargs: dict[str, object] = {
        "chat_id": chat_id,
        "message_id": message_id,
        "text": html,
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }
    if keyboard is not None:
        kwargs["reply_markup"] = keyboard
    await bot.do_api_request("editMessageText", api_kwargs=kwargs)
