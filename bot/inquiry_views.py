"""Texts and keyboards of the inquiry pipeline, for contacts and for staff."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import cb
from bot.catalog import localized
from bot.i18n import format_time, t
from bot.settings import Settings
from bot.views import Screen, button
from storage.models import (
    EnterpriseProfile,
    Inquiry,
    InquiryEvent,
    InquiryKind,
    InquiryStatus,
    Program,
    User,
)

CHANGEABLE = (
    InquiryStatus.CONTACTED,
    InquiryStatus.MEETING,
    InquiryStatus.AGREEMENT,
    InquiryStatus.DECLINED,
    InquiryStatus.CLOSED,
)


def program_title(lang: str, program: Program | None) -> str:
    if program is None:
        return t(lang, "inquiry.general")
    return localized(lang, program.title_zh, program.title_en)


def status_name(lang: str, status: InquiryStatus) -> str:
    return t(lang, f"istatus.{status.value}")


def staff_keyboard(lang: str, inquiry_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                button(lang, "inquiry.assign_me", cb("iq", "assign", inquiry_id)),
                button(lang, "inquiry.status_btn", cb("iq", "status", inquiry_id)),
            ],
            [
                button(lang, "inquiry.reply_btn", cb("iq", "reply", inquiry_id)),
                button(lang, "step.add_btn", cb("iq", "step", inquiry_id)),
            ],
        ]
    )


def staff_card(
    lang: str, inquiry: Inquiry, program: Program | None, profile: EnterpriseProfile | None,
    contact: User | None, settings: Settings,
) -> tuple[str, InlineKeyboardMarkup]:  # fmt: skip
    key = (
        "inquiry.card_interest" if inquiry.kind is InquiryKind.INTEREST else "inquiry.card_question"
    )
    lines = [t(lang, key, id=inquiry.id)]
    lines.append(t(lang, "inquiry.line_program", title=escape(program_title(lang, program))))
    who = []
    if profile is not None:
        who.append(escape(profile.organization))
        who.append(escape(profile.contact_person))
    elif contact is not None:
        who.append(escape(contact.first_name))
    if contact is not None and contact.username:
        who.append("@" + escape(contact.username))
    if who:
        lines.append(t(lang, "inquiry.line_from", who=" · ".join(who)))
    if profile is not None:
        details = [escape(v) for v in (profile.phone, profile.email, profile.industry) if v]
        if details:
            lines.append(" · ".join(details))
    if inquiry.message:
        lines.append(t(lang, "inquiry.line_message", text=escape(inquiry.message)))
    lines.append(t(lang, "inquiry.line_status", status=status_name(lang, inquiry.status)))
    lines.append(
        t(lang, "inquiry.line_time", time=format_time(inquiry.created_at, lang, settings.tz))
    )
    lines.append("<i>" + t(lang, "inquiry.reply_hint") + "</i>")
    return "\n".join(lines), staff_keyboard(lang, inquiry.id)


def status_menu(lang: str, inquiry: Inquiry) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                status_name(lang, s), callback_data=cb("iq", "set", inquiry.id, s.value)
            )
        ]
        for s in CHANGEABLE
        if s is not inquiry.status
    ]
    return InlineKeyboardMarkup(rows)


def answer_to_contact(
    lang: str, inquiry: Inquiry, program: Program | None, body: str, staff_name: str | None
) -> tuple[str, InlineKeyboardMarkup]:
    sender = escape(staff_name) if staff_name else t(lang, "inquiry.the_college")
    text = t(
        lang, "inquiry.answer", who=sender, title=escape(program_title(lang, program)),
        id=inquiry.id, text=escape(body),
    )  # fmt: skip
    keyboard = InlineKeyboardMarkup(
        [[button(lang, "inquiry.follow_up_btn", cb("my", "reply", inquiry.id))]]
    )
    return text, keyboard


def status_to_contact(lang: str, inquiry: Inquiry, program: Program | None) -> str:
    return t(
        lang, "inquiry.status_changed", title=escape(program_title(lang, program)),
        id=inquiry.id, status=status_name(lang, inquiry.status),
    )  # fmt: skip


def follow_up_for_staff(
    lang: str, inquiry: Inquiry, profile: EnterpriseProfile | None, body: str
) -> str:
    who = escape(profile.organization) if profile else t(lang, "inquiry.the_contact")
    return t(lang, "inquiry.follow_up", id=inquiry.id, who=who, text=escape(body))


def overdue_notice(
    lang: str, inquiry: Inquiry, program: Program | None, settings: Settings, *, escalated: bool
) -> tuple[str, InlineKeyboardMarkup]:
    """The first-response reminder (to the owner) or its escalation (to the admins)."""
    hours = settings.first_response_hours * (2 if escalated else 1)
    text = t(
        lang, "inquiry.escalated" if escalated else "inquiry.remind_owner",
        id=inquiry.id, title=escape(program_title(lang, program)), hours=f"{hours:g}",
        since=format_time(inquiry.created_at, lang, settings.tz),
    )  # fmt: skip
    return text, staff_keyboard(lang, inquiry.id)


def my_list(lang: str, rows: list[tuple[Inquiry, Program | None]]) -> Screen:
    if not rows:
        return Screen(
            t(lang, "my.none"),
            InlineKeyboardMarkup([[button(lang, "btn.catalog", cb("c", "home"))]]),
        )
    buttons = [
        [
            InlineKeyboardButton(
                f"#{inq.id} {program_title(lang, program)[:36]} · {status_name(lang, inq.status)}",
                callback_data=cb("my", "open", inq.id),
            )
        ]
        for inq, program in rows
    ]
    buttons.append([button(lang, "btn.menu", cb("m", "menu"))])
    return Screen(t(lang, "my.title"), InlineKeyboardMarkup(buttons))


def timeline(
    lang: str, inquiry: Inquiry, program: Program | None, events: list[InquiryEvent],
    settings: Settings,
) -> Screen:  # fmt: skip
    lines = [
        t(lang, "my.timeline_title", id=inquiry.id, title=escape(program_title(lang, program))),
        t(lang, "inquiry.line_status", status=status_name(lang, inquiry.status)),
        "",
    ]
    for event in events:
        when = format_time(event.created_at, lang, settings.tz)
        if event.kind == "created":
            what = t(lang, "event.created")
        elif event.kind == "status" and event.status is not None:
            what = t(lang, "event.status", status=status_name(lang, event.status))
        elif event.kind == "reply":
            what = t(lang, "event.reply", text=escape(event.text[:300]))
        elif event.kind == "follow_up":
            what = t(lang, "event.follow_up", text=escape(event.text[:300]))
        else:
            continue
        lines.append(f"• {when} — {what}")
    keyboard = InlineKeyboardMarkup(
        [
            [button(lang, "inquiry.follow_up_btn", cb("my", "reply", inquiry.id))],
            [button(lang, "btn.back", cb("my", "list")), button(lang, "btn.menu", cb("m", "menu"))],
        ]
    )
    return Screen("\n".join(lines)[:4000], keyboard)
