"""What Telegram shows about the bot: the command menus beside the text box (one per
language for everyone, and the admins' longer one in each admin's own chat, in that
admin's language) and the descriptions a person reads before pressing Start."""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.ui.i18n import LANGUAGES, t

log = logging.getLogger(__name__)

USER_COMMANDS = (
    "start", "catalog", "search", "my", "ask", "profile", "tasks", "calendar", "help",
    "language", "cancel", "forget", "unsubscribe",
)  # fmt: skip
ADMIN_COMMANDS = (
    *USER_COMMANDS,
    "overdue",
    "broadcast",
    "broadcasts",
    "newprogram",
    "invite",
    "invites",
    "export",
    "inquiries",
    "stats",
    "export_inquiries",
    "audit",
    "staff",
)


def menu(lang: str, names: tuple[str, ...]) -> list[BotCommand]:
    return [BotCommand(name, t(lang, f"cmd.{name}")) for name in names]


async def set_default_menus(bot: Bot) -> None:
    for lang in LANGUAGES:
        code = None if lang == "en" else lang  # English is the default for other languages
        await bot.set_my_commands(
            menu(lang, USER_COMMANDS), scope=BotCommandScopeDefault(), language_code=code
        )


async def set_admin_menu(bot: Bot, chat_id: int, lang: str) -> None:
    """The admin commands in one admin's chat; a chat the bot cannot reach is not fatal
    (an admin who never opened the bot gets the menu when they choose a language)."""
    try:
        await bot.set_my_commands(menu(lang, ADMIN_COMMANDS), scope=BotCommandScopeChat(chat_id))
    except TelegramError as exc:
        log.warning("could not set the admin commands for %s: %s", chat_id, exc)


async def set_descriptions(bot: Bot) -> None:
    """What a person sees before pressing Start (the description) and on the bot's
    profile and in shares (the short one), in each language; English is the default for
    other languages. Read first and set only what differs: every restart would otherwise
    spend four calls of a method Telegram rate-limits. Not fatal: the bot works without."""
    for lang in LANGUAGES:
        code = None if lang == "en" else lang
        description, short = t(lang, "about.description"), t(lang, "about.short")
        try:
            if (await bot.get_my_description(language_code=code)).description != description:
                await bot.set_my_description(description, language_code=code)
            current = await bot.get_my_short_description(language_code=code)
            if current.short_description != short:
                await bot.set_my_short_description(short, language_code=code)
        except TelegramError as exc:
            log.warning("could not set the bot's %s description: %s", lang, exc)
