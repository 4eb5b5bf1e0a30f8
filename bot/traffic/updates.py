"""What of an incoming update is not read into objects.

A button press arrives with the whole message the button was on, its keyboard included,
and python-telegram-bot builds an object for every button of it: after the press's edit,
the largest cost left in a press (issue 15's profile: InlineKeyboardMarkup.de_json, 7 % of
the bot's CPU per press). No handler reads the pressed message's keyboard (the callback
data says what was pressed, and the edit replaces the keyboard anyway), so it is dropped
before parsing, on both ways in: getUpdates (bot/traffic/aiohttp_request.py) and the
webhook (bot/web/webhook.py).

Only the pressed message's keyboard goes. A reply's `reply_to_message` keeps its own:
the staff's replies find their inquiry by it (handlers/pipeline.py).
"""

from __future__ import annotations

from typing import Any


def trim(update: Any) -> Any:
    """The update (a Bot API JSON object) without its pressed message's keyboard; anything
    that is not shaped like an update is returned as it is, for PTB to judge."""
    if isinstance(update, dict):
        query = update.get("callback_query")
        message = query.get("message") if isinstance(query, dict) else None
        if isinstance(message, dict):
            message.pop("reply_markup", None)
    return update
