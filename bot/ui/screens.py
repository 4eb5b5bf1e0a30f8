"""What people see: texts and keyboards shared by handlers and the engines."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    WebAppInfo,
)

from bot.people.person import Person
from bot.ui import commands
from bot.ui.callbacks import cb
from bot.ui.i18n import LANGUAGE_NAMES, LANGUAGES, t
from storage.models import Role


@dataclass(frozen=True, slots=True)
class Screen:
    """A reply: HTML text and an optional inline keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # A reply keyboard (share-contact) or its removal; such a screen is always sent anew.
    reply_keyboard: ReplyKeyboardMarkup | ReplyKeyboardRemove | None = None


def button(lang: str, key: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(t(lang, key), callback_data=data)


def pager(lang: str, prev: str | None, next_: str | None) -> list[list[InlineKeyboardButton]]:
    """The ◀ ▶ row of a paged list (callback data of each side, None where there is no
    page): no row at all on a single page."""
    nav = [
        button(lang, key, data)
        for key, data in (("btn.prev", prev), ("btn.next", next_))
        if data is not None
    ]
    return [nav] if nav else []


def main_menu(person: Person, web_app: str | None = None) -> Screen:
    """The menu; with `web_app` (WEBAPP_URL, in a private chat) its first row opens the
    Mini App: the board for staff, the catalogue for contacts. The rows below stay
    complete without it."""
    lang = person.language
    rows = [
        [
            button(lang, "btn.catalog", cb("c", "home")),
            button(lang, "btn.search", cb("c", "search")),
        ],
        [button(lang, "btn.my", cb("my", "list")), button(lang, "btn.ask", cb("i", "ask", 0))],
        [button(lang, "btn.help", cb("m", "help")), button(lang, "btn.language", cb("m", "lang"))],
    ]
    rows += staff_rows(person)
    if web_app:
        label = t(lang, "webapp.open_staff" if person.is_staff else "webapp.open")
        rows.insert(0, [InlineKeyboardButton(label, web_app=WebAppInfo(web_app))])
    if person.form is not None:  # a form left aside (paused): take it up again, or drop it
        title = t(lang, f"formname.{person.form}")
        rows.insert(
            0,
            [
                InlineKeyboardButton(
                    t(lang, "form.continue", title=title), callback_data=cb("f", "resume")
                ),
                button(lang, "form.discard", cb("f", "discard")),
            ],
        )
    if person.is_admin:
        rows.append(
            [
                button(lang, "btn.invite_teacher", cb("adm", "invite", "teacher")),
                button(lang, "btn.invite_admin", cb("adm", "invite", "admin")),
            ]
        )
    return Screen(t(lang, "menu.title"), InlineKeyboardMarkup(rows))


def staff_rows(person: Person) -> list[list[InlineKeyboardButton]]:
    """A teacher's (and admin's) own rows: their next steps, them as a calendar file, and
    the inquiries they work (a teacher's scope, an admin's all)."""
    if not person.is_staff:
        return []
    lang = person.language
    return [
        [button(lang, "btn.tasks", cb("m", "tasks")), button(lang, "btn.calendar", cb("m", "cal"))],
        [button(lang, "btn.inquiries", cb("m", "inq"))],
    ]


def welcome(person: Person, web_app: str | None = None) -> Screen:
    menu = main_menu(person, web_app)

    text = t(person.language, "start.welcome", name=escape(person.first_name or "")) + "\n\n"
    if person.form is not None:  # /start in the middle of a form says so
        title = escape(t(person.language, f"formname.{person.form}"))
        text += t(person.language, "form.paused_note", title=title) + "\n\n"
    return Screen(text + menu.text, menu.keyboard)


def with_menu(person: Person, key: str, **values: object) -> Screen:
    """A short notice followed by the main menu, for dead ends and refusals."""
    menu = main_menu(person)
    return Screen(t(person.language, key, **values) + "\n\n" + menu.text, menu.keyboard)


def help_screen(person: Person) -> Screen:
    """Every command of the person's role, each with its description (bot/ui/commands.py):
    everyone's, then the staff's, then the admins'."""
    lang = person.language

    def lines(names: tuple[str, ...]) -> str:
        return "\n".join(f"/{name} — {escape(t(lang, f'cmd.{name}'))}" for name in names)

    parts = [t(lang, "help.about"), lines(commands.USER_COMMANDS)]
    if person.is_staff:
        parts += [t(lang, "help.staff_head"), lines(commands.STAFF_COMMANDS)]
    if person.is_admin:
        parts += [t(lang, "help.admin_head"), lines(commands.ADMIN_ONLY_COMMANDS)]
        parts.append(t(lang, "help.admin_files"))
    back = InlineKeyboardMarkup([[button(lang, "btn.menu", cb("m", "menu"))]])
    return Screen("\n\n".join(parts), back)


def language_picker(lang: str) -> Screen:
    rows = [
        [InlineKeyboardButton(LANGUAGE_NAMES[code], callback_data=cb("lang", "set", code))]
        for code in LANGUAGES
    ]
    return Screen(t(lang, "language.choose"), InlineKeyboardMarkup(rows))


def role_name(lang: str, role: Role) -> str:
    return t(lang, f"role.{role.value}")
