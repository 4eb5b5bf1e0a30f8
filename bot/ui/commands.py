"""The commands of each role, in the order the command menu and /help list them.

bot/app.py registers them with Telegram; bot/ui/screens.help_screen lists them, each with
its `cmd.<name>` description, so /help names every command a person can use.
"""

from __future__ import annotations

from storage.models import Role

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
