"""The baseline: a bare python-telegram-bot echo bot, nothing else.

Run: python benchmarks/echo_bot.py [BASE_URL]  (token from BOT_TOKEN; the Bot API base URL
from the argument or TELEGRAM_API_URL, as python-telegram-bot's `base_url` takes it).
"""

from __future__ import annotations

import os
import sys

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters


async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.text:
        await message.reply_text(message.text)


def main() -> None:
    base_url = sys.argv[1] if len(sys.argv) > 1 else os.environ["TELEGRAM_API_URL"]
    app = Application.builder().token(os.environ["BOT_TOKEN"]).base_url(base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(allowed_updates=[Update.MESSAGE])


if __name__ == "__main__":
    main()
