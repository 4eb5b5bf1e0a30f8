"""What Telegram shows about the bot, and the commands of each role.

The commands of each role come in the order the command menu and /help list them
(bot/ui/screens.help_screen lists them, each with its `cmd.<name>` description, so /help
names every command a person can use). The command menus: one per language for everyone,
and each staff member's own in their chat, in their language; and the descriptions a
person reads before pressing Start.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.ui.i18n import LANGUAGES, t
from storage.models import Role

log = logging.getLogger(__name__)

USER_COMMANDS = (
    "start", "catalog", "search", "my", "ask", "profile", "tasks", "calendar", "help",
    "language", "cancel", "forget", "unsubscribe", "subscribe",
)  # fmt: skip
ALIASES = ("menu", "programs")  # /menu is /start, /programs is /catalog: not listed twice
STAFF_COMMANDS = ("overdue", "inquiries")  # teachers and admins
ADMIN_ONLY_COMMANDS = (
    "broadcast", "broadcasts", "newprogram", "invite", "invites", "export", "stats",
    "export_inquiries", "audit", "staff",
)  # fmt: skip
TEACHER_COMMANDS = (*USER_COMMANDS, *STAFF_COMMANDS)
ADMIN_COMMANDS = (*USER_COMMANDS, *STAFF_COMMANDS, *ADMIN_ONLY_COMMANDS)


def commands_of(role: Role) -> tuple[str, ...]:
    if role is Role.ADMIN:
        return ADMIN_COMMANDS
    return TEACHER_COMMANDS if role is Role.TEACHER else USER_COMMANDS


def menu(lang: str, names: tuple[str, ...]) -> list[BotCommand]:
    return [BotCommand(name, t(lang, f"cmd.{name}")) for name in names]


async def set_default_menus(bot: Bot) -> None:
    for lang in LANGUAGES:
        code = None if lang == "en" else lang  # English is the default for other languages
        await bot.set_my_commands(
            menu(lang, USER_COMMANDS), scope=BotCommandScopeDefault(), language_code=code
        )


async def set_role_menu(bot: Bot, chat_id: int, lang: str, role: Role) -> None:
    """The commands of a staff member's role in their own chat, in their language; for a
    contact (a teacher demoted, say) the chat's own list goes and the default applies. A
    chat the bot cannot reach is not fatal (an admin who never opened the bot)."""
    scope = BotCommandScopeChat(chat_id)
    try:
        if role is Role.ENTERPRISE:
            await bot.delete_my_commands(scope=scope)
        else:
            await bot.set_my_commands(menu(lang, commands_of(role)), scope=scope)
    except TelegramError as exc:
        log.warning("could not set the commands for %s: %s", chat_id, exc)


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
