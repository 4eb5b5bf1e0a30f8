"""The admin's staff screens (/staff): who is a teacher or an admin, and changing it."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.people.identity import CHANGEABLE_ROLES, StaffMember
from bot.ui.callbacks import cb
from bot.ui.i18n import t
from bot.ui.screens import Screen, button, pager, role_name
from storage.models import Role

PER_PAGE = 8
NAME_CHARS = 40


def _name(member: StaffMember) -> str:
    user = member.user
    name = " ".join(p for p in (user.first_name, user.last_name) if p).strip() or str(user.id)
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"


def listing(lang: str, members: list[StaffMember], page_no: int) -> Screen:
    pages = max(1, -(-len(members) // PER_PAGE))
    page_no = min(max(1, page_no), pages)
    chunk = members[(page_no - 1) * PER_PAGE : page_no * PER_PAGE]
    rows = [
        [
            InlineKeyboardButton(
                f"{_name(m)} · {role_name(lang, m.role)}",
                callback_data=cb("st", "o", m.user.id, page_no),
            )
        ]
        for m in chunk
    ]
    rows += pager(
        lang,
        cb("st", "l", page_no - 1) if page_no > 1 else None,
        cb("st", "l", page_no + 1) if page_no < pages else None,
    )
    rows.append([button(lang, "btn.menu", cb("m", "menu"))])
    key = "staff.title" if members else "staff.none"
    text = t(lang, key, page=page_no, pages=pages, n=len(members))
    return Screen(text, InlineKeyboardMarkup(rows))


def member(lang: str, found: StaffMember, page_no: int) -> Screen:
    lines = [
        t(lang, "staff.person", name=escape(_name(found)), id=found.user.id),
        t(lang, "staff.role", role=escape(role_name(lang, found.role))),
    ]
    rows: list[list[InlineKeyboardButton]] = []
    if found.fixed:
        lines.append(t(lang, "staff.fixed_admin"))
    else:
        for role in CHANGEABLE_ROLES:
            if role is not found.role:
                key = "staff.remove" if role is Role.ENTERPRISE else f"staff.make_{role.value}"
                rows.append([button(lang, key, cb("st", "set", found.user.id, role.value))])
    rows.append([button(lang, "btn.back", cb("st", "l", page_no))])
    return Screen("\n".join(lines), InlineKeyboardMarkup(rows))
