"""Texts and keyboards of the inquiry pipeline, for contacts and for staff."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.settings import Settings
from bot.ui.callbacks import cb
from bot.ui.i18n import format_time, localized, t
from bot.ui.screens import Screen, button
from bot.ui.text import KEEP, TEXT_LIMIT, Html, Part, Plain, clip_text, fit_lines, italic, tr
from storage.models import (
    EnterpriseProfile,
    Inquiry,
    InquiryEvent,
    InquiryKind,
    InquiryStatus,
    Program,
    User,
)

TITLE_CHARS = 36  # of a programme title in a button
EVENT_CHARS = 300  # of an answer or follow-up in the timeline (each came whole on its own)
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


@dataclass(frozen=True)
class StepLine:
    """A next step as the card shows it (plain data: the card knows no next_steps)."""

    title: str
    owner: str
    due_at: datetime
    done: bool = False


@dataclass(frozen=True)
class CardFacts:
    """What the live card shows beyond the inquiry itself (bot/inquiries/staff_thread.py)."""

    assignee: str | None = None
    answered_at: datetime | None = None
    waiting_since: datetime | None = None  # the contact wrote after the last answer
    steps: Sequence[StepLine] = field(default_factory=tuple)


CARD_STEPS = 5  # step lines on a card; the rest are counted


def staff_card(
    lang: str, inquiry: Inquiry, program: Program | None, profile: EnterpriseProfile | None,
    contact: User | None, settings: Settings, facts: CardFacts | None = None,
) -> tuple[str, InlineKeyboardMarkup]:  # fmt: skip
    text = staff_card_text(lang, inquiry, program, profile, contact, settings.tz, facts)
    return text.fit(), staff_keyboard(lang, inquiry.id)


def card_state_lines(lang: str, facts: CardFacts, tz: ZoneInfo) -> list[Part]:
    """The live part of a card: who has it, whether it is answered, its next steps."""
    lines: list[Part] = []
    if facts.assignee:
        lines.append(tr(lang, "card.assignee", name=Plain(facts.assignee)))
    else:
        lines.append(t(lang, "card.nobody"))
    if facts.waiting_since is not None:
        lines.append(t(lang, "card.waiting", time=format_time(facts.waiting_since, lang, tz)))
    elif facts.answered_at is not None:
        lines.append(t(lang, "card.answered", time=format_time(facts.answered_at, lang, tz)))
    else:
        lines.append(t(lang, "card.unanswered"))
    if facts.steps:
        lines.append(t(lang, "card.steps"))
        for step in facts.steps[:CARD_STEPS]:
            title = Plain(step.title)
            if step.done:
                lines.append(tr(lang, "card.step_done", title=title))
            else:
                due = format_time(step.due_at, lang, tz)
                lines.append(tr(lang, "card.step_open", title=title, owner=Plain(step.owner),
                                due=due))  # fmt: skip
        if len(facts.steps) > CARD_STEPS:
            lines.append(t(lang, "card.steps_more", n=len(facts.steps) - CARD_STEPS))
    return lines


def topic_name(lang: str, inquiry: Inquiry, limit: int = 128) -> str:
    """A forum topic's title: number, organisation, status, within Telegram's 128
    characters (the organisation gives way)."""
    who = inquiry.organization.strip() or t(lang, "card.no_org")
    status = status_name(lang, inquiry.status)
    name = t(lang, "card.topic_name", id=inquiry.id, who=who, status=status)
    if len(name) > limit:
        room = limit - (len(name) - len(who))
        name = t(lang, "card.topic_name", id=inquiry.id, who=clip_text(who, max(1, room)),
                 status=status)  # fmt: skip
    return name[:limit]


def answer_for_staff(lang: str, inquiry: Inquiry, who: str, body: str) -> str:
    """An answer given privately (the Reply button), shown under the card to the others."""
    return answer_posted_text(lang, inquiry, who, body).fit()


def answer_posted_text(lang: str, inquiry: Inquiry, who: str, body: str) -> Html:
    return tr(lang, "card.answer_posted", id=inquiry.id, who=Plain(who), text=Plain(body, KEEP))


def _who_lines(lang: str, profile: EnterpriseProfile | None, contact: User | None) -> list[Part]:
    """Who wrote: organisation and person (or their Telegram name), then how to reach them."""
    who: list[Part] = []
    if profile is not None:
        who.append(Plain(profile.organization))
        who.append(Plain(profile.contact_person))
    elif contact is not None:
        who.append(Plain(contact.first_name))
    if contact is not None and contact.username:
        who.append(Html("@", Plain(contact.username)))
    lines: list[Part] = [tr(lang, "inquiry.line_from", who=Html.join(" · ", who))] if who else []
    if profile is not None:
        details = [Plain(v) for v in (profile.phone, profile.email, profile.industry) if v]
        if details:
            lines.append(Html.join(" · ", details))
    return lines


def staff_card_text(
    lang: str, inquiry: Inquiry, program: Program | None, profile: EnterpriseProfile | None,
    contact: User | None, tz: ZoneInfo, facts: CardFacts | None = None,
) -> Html:  # fmt: skip
    """The card staff get. The message is kept whole (bot/inquiry_limits.py sizes it so
    the card always fits); names give way first should old data be longer. With `facts`
    it is the live card of the staff chat (assignee, answered, next steps)."""
    key = (
        "inquiry.card_interest" if inquiry.kind is InquiryKind.INTEREST else "inquiry.card_question"
    )
    lines: list[Part] = [tr(lang, key, id=inquiry.id)]
    lines.append(tr(lang, "inquiry.line_program", title=Plain(program_title(lang, program))))
    lines += _who_lines(lang, profile, contact)
    if inquiry.message:
        lines.append(tr(lang, "inquiry.line_message", text=Plain(inquiry.message, KEEP)))
    lines.append(tr(lang, "inquiry.line_status", status=status_name(lang, inquiry.status)))
    tail: list[Part] = [
        tr(lang, "inquiry.line_time", time=format_time(inquiry.created_at, lang, tz)),
        italic(t(lang, "inquiry.reply_hint")),
    ]
    if facts is not None:
        # The live lines come on top of a card sized to hold the message whole
        # (bot/inquiries/limits.py): each is shown only while the card still fits.
        for line in card_state_lines(lang, facts, tz):
            if Html.join("\n", [*lines, line, *tail]).length() > TEXT_LIMIT:
                break
            lines.append(line)
    return Html.join("\n", [*lines, *tail])


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
    keyboard = InlineKeyboardMarkup(
        [[button(lang, "inquiry.follow_up_btn", cb("my", "reply", inquiry.id))]]
    )
    return answer_text(lang, inquiry, program, body, staff_name).fit(), keyboard


def answer_text(
    lang: str, inquiry: Inquiry, program: Program | None, body: str, staff_name: str | None
) -> Html:
    sender: Part = Plain(staff_name) if staff_name else t(lang, "inquiry.the_college")
    return tr(
        lang, "inquiry.answer", who=sender, title=Plain(program_title(lang, program)),
        id=inquiry.id, text=Plain(body, KEEP),
    )  # fmt: skip


def status_to_contact(lang: str, inquiry: Inquiry, program: Program | None) -> str:
    return tr(
        lang, "inquiry.status_changed", title=Plain(program_title(lang, program)),
        id=inquiry.id, status=status_name(lang, inquiry.status),
    ).fit()  # fmt: skip


def follow_up_for_staff(
    lang: str, inquiry: Inquiry, profile: EnterpriseProfile | None, body: str
) -> str:
    return follow_up_text(lang, inquiry, profile, body).fit()


def follow_up_text(
    lang: str, inquiry: Inquiry, profile: EnterpriseProfile | None, body: str
) -> Html:
    who: Part = Plain(profile.organization) if profile else t(lang, "inquiry.the_contact")
    return tr(lang, "inquiry.follow_up", id=inquiry.id, who=who, text=Plain(body, KEEP))


def overdue_notice(
    lang: str, inquiry: Inquiry, program: Program | None, settings: Settings, *, escalated: bool
) -> tuple[str, InlineKeyboardMarkup]:
    """The first-response reminder (to the owner) or its escalation (to the admins)."""
    hours = settings.first_response_hours * (2 if escalated else 1)
    text = tr(
        lang, "inquiry.escalated" if escalated else "inquiry.remind_owner",
        id=inquiry.id, title=Plain(program_title(lang, program)), hours=f"{hours:g}",
        since=format_time(inquiry.created_at, lang, settings.tz),
    )  # fmt: skip
    return text.fit(), staff_keyboard(lang, inquiry.id)


def my_list(lang: str, rows: list[tuple[Inquiry, Program | None]]) -> Screen:
    if not rows:
        return Screen(
            t(lang, "my.none"),
            InlineKeyboardMarkup([[button(lang, "btn.catalog", cb("c", "home"))]]),
        )
    buttons = [
        [
            InlineKeyboardButton(
                f"#{inq.id} {clip_text(program_title(lang, program), TITLE_CHARS)}"
                f" · {status_name(lang, inq.status)}",
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
    head = Html(
        tr(lang, "my.timeline_title", id=inquiry.id, title=Plain(program_title(lang, program))),
        "\n",
        tr(lang, "inquiry.line_status", status=status_name(lang, inquiry.status)),
        "\n",
    )
    lines: list[Part] = []
    for event in events:
        when = format_time(event.created_at, lang, settings.tz)
        said = Plain(clip_text(event.text, EVENT_CHARS))
        what: Part
        if event.kind == "created":
            what = t(lang, "event.created")
        elif event.kind == "status" and event.status is not None:
            what = t(lang, "event.status", status=status_name(lang, event.status))
        elif event.kind == "reply":
            what = tr(lang, "event.reply", text=said)
        elif event.kind == "follow_up":
            what = tr(lang, "event.follow_up", text=said)
        else:
            continue
        lines.append(Html(f"• {when} — ", what))
    keyboard = InlineKeyboardMarkup(
        [
            [button(lang, "inquiry.follow_up_btn", cb("my", "reply", inquiry.id))],
            [button(lang, "btn.back", cb("my", "list")), button(lang, "btn.menu", cb("m", "menu"))],
        ]
    )
    # The newest events matter most: when there are too many, the oldest give way.
    text = fit_lines(head, lines, more=lambda n: t(lang, "list.earlier", n=n), keep="last")
    return Screen(text, keyboard)


def basket(lang: str, programs: list[Program]) -> Screen:
    """The contact's list of programmes, to register interest in all of them at once."""
    lines = [Html("• ", Plain(localized(lang, p.title_zh, p.title_en))) for p in programs]
    text = fit_lines(
        t(lang, "basket.title", n=len(programs)), lines, more=lambda n: t(lang, "list.more", n=n)
    )
    keyboard = InlineKeyboardMarkup(
        [
            [button(lang, "basket.send", cb("i", "send"))],
            [
                button(lang, "basket.clear", cb("i", "clear")),
                button(lang, "btn.catalog", cb("c", "home")),
            ],
        ]
    )
    return Screen(text, keyboard)


def file_caption(lang: str, inquiry_id: int, name: str, n: int, total: int) -> str:
    """The caption of a contact's file as the staff get it: which inquiry, which file."""
    return tr(lang, "attach.staff_caption", id=inquiry_id, n=n, total=total,
              name=Plain(name or "—")).fit(1024)  # fmt: skip


def quiet_nudge(
    lang: str, inquiry: Inquiry, program: Program | None, settings: Settings, last_at: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    """To the assignee (or the admins): this inquiry has gone quiet, with no next step."""
    who: Part = Plain(inquiry.organization) if inquiry.organization else t(lang, "quiet.no_org")
    text = tr(
        lang, "quiet.nudge", id=inquiry.id, title=Plain(program_title(lang, program)), who=who,
        days=settings.stale_days, since=format_time(last_at, lang, settings.tz),
        status=status_name(lang, inquiry.status),
    )  # fmt: skip
    keyboard = InlineKeyboardMarkup(
        [
            [
                button(lang, "step.add_btn", cb("iq", "step", inquiry.id)),
                button(lang, "step.open_inquiry", cb("ns", "inq", inquiry.id)),
            ]
        ]
    )
    return text.fit(), keyboard


def quiet_to_contact(
    lang: str, inquiry: Inquiry, program: Program | None
) -> tuple[str, InlineKeyboardMarkup]:
    """The contact's one short note per quiet spell: still on it, and the status; they
    can write back to it (a reply or the button), which starts a new spell."""
    text = tr(
        lang, "quiet.to_contact", title=Plain(program_title(lang, program)), id=inquiry.id,
        status=status_name(lang, inquiry.status),
    )  # fmt: skip
    keyboard = InlineKeyboardMarkup(
        [[button(lang, "inquiry.follow_up_btn", cb("my", "reply", inquiry.id))]]
    )
    return text.fit(), keyboard
