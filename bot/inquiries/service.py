"""The inquiry pipeline: interest and questions in, notifications out, status changes,
answers relayed both ways, and the first-response deadline.

Every notification is queued in the outbox inside the same unit of work as the change
that caused it: committed together, or not at all."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.engines import outbox, staff_chat
from bot.forms.engine import typed_text
from bot.inquiries import board, board_views, charts, staff_thread
from bot.inquiries import views as render
from bot.inquiries.attachments import MAX_FILES
from bot.inquiries.limits import message_limit

# Quiet inquiries (bot/inquiries/stale.py), through this door for the engines and the digest.
from bot.inquiries.stale import NUDGE_BATCH as NUDGE_BATCH
from bot.inquiries.stale import next_nudge_at as next_nudge_at
from bot.inquiries.stale import nudge_due as nudge_due
from bot.inquiries.stale import quiet_by_person as quiet_by_person
from bot.people import roles as access
from bot.people.person import Person
from bot.people.roles import Act
from bot.settings import Settings
from bot.ui.errors import FieldError
from bot.ui.ids import parse_id
from storage import inquiries as repo
from storage import outbox as outbox_repo
from storage import programs as programs_repo
from storage import users as users_repo
from storage.models import (
    OPEN_INQUIRY_STATUSES,
    Inquiry,
    InquiryEvent,
    InquiryKind,
    InquiryStatus,
    OutboxMessage,
    Program,
    ProgramStatus,
    Role,
    utcnow,
)

# Questions a contact may open per hour (counted in the database, so it holds across
# instances and restarts); beyond that a polite refusal, and the staff chat is spared.
QUESTIONS_PER_HOUR = 5
QUESTION_WINDOW = timedelta(hours=1)
STATUS_FLOW = (
    InquiryStatus.NEW,
    InquiryStatus.CONTACTED,
    InquiryStatus.MEETING,
    InquiryStatus.AGREEMENT,
    InquiryStatus.DECLINED,
    InquiryStatus.CLOSED,
)


class InquiryError(FieldError):
    """A plain refusal the handler turns into a message key (a FieldError, so a form
    that hits one shows it on its confirmation screen)."""


def message_text(text: str) -> str:
    """A message as it is kept and relayed: whole, or refused when it could not be
    delivered whole (the forms refuse it earlier; replies in Telegram reach here)."""
    text = typed_text(text).strip()  # a NUL in a relayed reply crashed PostgreSQL
    if len(text) > message_limit():
        raise InquiryError("form.message_too_long", limit=message_limit(), length=len(text))
    return text


@dataclass(frozen=True)
class InterestResult:
    created: list[Inquiry]
    already: list[tuple[Program, Inquiry]]


async def staff_targets(session: AsyncSession, settings: Settings) -> list[tuple[int, str]]:
    """Where staff notifications go: the staff chat (where it is now, if the bot may post
    there), else every admin (with language)."""
    return await staff_chat.targets(session, settings)


async def _notify_staff(
    session: AsyncSession, settings: Settings, inquiry: Inquiry, program: Program | None,
    *, exclude: int | None = None,
) -> list[tuple[int, str]]:  # fmt: skip
    """Queue the inquiry's card for the staff; returns who gets it (chat, language)."""
    profile = await repo.get_profile(session, inquiry.user_id) if inquiry.user_id else None
    contact = await users_repo.get_user(session, inquiry.user_id) if inquiry.user_id else None
    owner_id = program.owner_id if program is not None else None
    targets = await staff_targets(session, settings)
    if owner_id is not None and owner_id != exclude:
        owner = await users_repo.get_user(session, owner_id)
        if owner is not None and owner.blocked_at is None:
            targets = [(owner_id, owner.language), *[t for t in targets if t[0] != owner_id]]
    sent: list[tuple[int, str]] = []
    for chat_id, lang in targets:
        if chat_id == exclude:
            continue
        text, keyboard = render.staff_card(lang, inquiry, program, profile, contact, settings)
        await outbox.queue(
            session, chat_id, outbox.payload_text(text, keyboard),
            ref=f"inquiry:{inquiry.id}", dedupe_key=f"inq:{inquiry.id}:new:{chat_id}",
        )  # fmt: skip
        sent.append((chat_id, lang))
    return sent


_NEW_CARD = re.compile(r"inq:(\d+):new:-\d+")


async def _card_for_admins(session: AsyncSession, settings: Settings, row: OutboxMessage) -> bool:
    """A new inquiry's card that could not go to the staff chat: the same card for each
    admin in their language (staff targets are the admins by now). The dedupe keys keep
    anyone who already has it, e.g. as the programme's owner, from getting it twice."""
    match = _NEW_CARD.fullmatch(row.dedupe_key or "")
    inquiry = await repo.get_inquiry(session, int(match.group(1))) if match else None
    if inquiry is None:
        return False
    await _notify_staff(session, settings, inquiry, await program_of(session, inquiry))
    return True


staff_chat.rewriters.append(_card_for_admins)


async def register_interest(
    session: AsyncSession, settings: Settings, person: Person, program_ids: list[int],
    message: str, source: str | None = None,
) -> InterestResult:  # fmt: skip
    profile = await repo.get_profile(session, person.id)
    if profile is None:
        raise InquiryError("interest.need_profile")
    programs = await repo.programs_by_ids(session, program_ids)
    text = message_text(message)
    created: list[Inquiry] = []
    already: list[tuple[Program, Inquiry]] = []
    for program_id in dict.fromkeys(program_ids):
        program = programs.get(program_id)
        if program is None or program.status is not ProgramStatus.OPEN:
            continue
        existing = await repo.open_inquiry_for(session, person.id, program_id)
        if existing is not None:
            already.append((program, existing))
            continue
        inquiry = await repo.add_inquiry(
            session,
            Inquiry(
                user_id=person.id, program_id=program_id, kind=InquiryKind.INTEREST,
                message=text, source=source, organization=profile.organization,
                status=InquiryStatus.NEW, assignee_id=program.owner_id,
            ),
        )  # fmt: skip
        await repo.add_event(
            session,
            InquiryEvent(inquiry_id=inquiry.id, actor_id=person.id, kind="created",
                         status=InquiryStatus.NEW, text=text),
        )  # fmt: skip
        await _notify_staff(session, settings, inquiry, program)
        created.append(inquiry)
    return InterestResult(created, already)


BASKET_LIMIT = 20  # programmes collected at once; more is refused with a word


async def open_program(session: AsyncSession, person: Person, program_id: int | None) -> Program:
    """A programme one can register interest in: visible to this person and open."""
    program = await access.program(session, person, program_id)
    if program.status is not ProgramStatus.OPEN:
        raise access.Refused()
    return program


async def repeat_interest(
    session: AsyncSession, person: Person, program_ids: list[int]
) -> list[int]:
    """The programmes still worth a new interest: those without an open one of this
    person's; raises InquiryError (naming one) when none is left, so a repeat is caught
    before the form starts rather than at its last step."""
    fresh: list[int] = []
    first: tuple[Program, Inquiry] | None = None
    for program_id in dict.fromkeys(program_ids):
        program = await open_program(session, person, program_id)
        existing = await repo.open_inquiry_for(session, person.id, program_id)
        if existing is None:
            fresh.append(program_id)
        elif first is None:
            first = (program, existing)
    if not fresh and first is not None:
        program, existing = first
        title = program.title_en or program.title_zh
        if person.language == "zh":
            title = program.title_zh or program.title_en
        raise InquiryError("interest.already", id=existing.id, title=_clip(title, 60))
    return fresh


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def basket_add(session: AsyncSession, person: Person, program_id: int) -> list[Program]:
    """Add an open programme to the person's list; returns the list's open programmes."""
    await open_program(session, person, program_id)
    ids = await repo.basket(session, person.id)
    if program_id not in ids:
        if len(ids) >= BASKET_LIMIT:
            raise InquiryError("basket.full", limit=BASKET_LIMIT)
        await repo.add_to_basket(session, person.id, program_id)
    return await basket_programs(session, person)


async def basket_programs(session: AsyncSession, person: Person) -> list[Program]:
    """The open programmes in the person's list, in the order they were added (one closed
    since is left out, never shown)."""
    ids = await repo.basket(session, person.id)
    found = await repo.programs_by_ids(session, ids)
    return [found[i] for i in ids if i in found and found[i].status is ProgramStatus.OPEN]


async def basket_clear(session: AsyncSession, person: Person) -> None:
    await repo.clear_basket(session, person.id, await repo.basket(session, person.id))


async def ask_question(
    session: AsyncSession, settings: Settings, person: Person, program_id: int | None,
    text: str, *, attachments: list[dict[str, Any]] | None = None, source: str | None = None,
) -> Inquiry:  # fmt: skip
    """A contact's question, with the files they sent (checked by bot/inquiries/
    attachments.py: kind, file_id, name, size), kept on its "created" event and sent on
    to the staff by file_id after the card. With `source` (the message it was made from,
    in one tap), asking again from the same message returns the first question."""
    files = list(attachments or [])[:MAX_FILES]
    body = message_text(text)
    if not body:
        raise InquiryError("question.empty")
    await _within_question_limit(session, person, utcnow())  # locks the asker first
    if source is not None:
        earlier = await repo.question_from(session, person.id, source)
        if earlier is not None:
            return earlier
    # A question about a programme the asker may not see would show them its title.
    program = await access.program(session, person, program_id) if program_id else None
    profile = await repo.get_profile(session, person.id)
    inquiry = await repo.add_inquiry(
        session,
        Inquiry(
            user_id=person.id, program_id=program.id if program else None,
            kind=InquiryKind.QUESTION, message=body, source=source,
            organization=profile.organization if profile else "",
            status=InquiryStatus.NEW, assignee_id=program.owner_id if program else None,
        ),
    )  # fmt: skip
    await repo.add_event(
        session,
        InquiryEvent(inquiry_id=inquiry.id, actor_id=person.id, kind="created",
                     status=InquiryStatus.NEW, text=body, attachments=files or None),
    )  # fmt: skip
    for chat_id, lang in await _notify_staff(session, settings, inquiry, program):
        for n, file in enumerate(files, 1):
            await _queue_file(session, chat_id, lang, inquiry, file, n, len(files))
    return inquiry


async def _queue_file(
    session: AsyncSession, chat_id: int, lang: str, inquiry: Inquiry,
    file: dict[str, Any], n: int, total: int,
) -> None:  # fmt: skip
    """One file of a question for one staff chat, by file_id (never downloaded), its
    caption naming the inquiry; queued after the card, so it follows it."""
    caption = render.file_caption(lang, inquiry.id, str(file.get("name") or ""), n, total)
    method, field = ("sendPhoto", "photo") if file["kind"] == "photo" else ("sendDocument",
                                                                         "document")  # fmt: skip
    payload = {field: file["file_id"], "caption": caption, "parse_mode": "HTML"}
    await outbox.queue(
        session, chat_id, payload, method=method, ref=f"inquiry:{inquiry.id}",
        dedupe_key=f"inq:{inquiry.id}:file{n}:{chat_id}",
    )  # fmt: skip


async def _within_question_limit(session: AsyncSession, person: Person, now: datetime) -> None:
    """Refuse a question beyond QUESTIONS_PER_HOUR, saying when the next one is welcome."""
    if person.is_staff:
        return
    asked = await repo.questions_since(session, person.id, now - QUESTION_WINDOW, lock=True)
    if len(asked) < QUESTIONS_PER_HOUR:
        return
    # The next question is welcome once enough of these are an hour old.
    frees_at = asked[len(asked) - QUESTIONS_PER_HOUR] + QUESTION_WINDOW
    minutes = max(1, -(-int((frees_at - now).total_seconds()) // 60))
    raise InquiryError("question.too_many", limit=QUESTIONS_PER_HOUR, minutes=minutes)


async def program_of(session: AsyncSession, inquiry: Inquiry) -> Program | None:
    if inquiry.program_id is None:
        return None
    return await programs_repo.get_program(session, inquiry.program_id)


async def follow_up(
    session: AsyncSession, settings: Settings, person: Person, inquiry_id: int, text: str,
    *, message_id: int | None = None,
) -> Inquiry:  # fmt: skip
    """The contact writes again on their own inquiry; staff get it threaded. With the
    contact's own `message_id`, its receipts are reactions on it (bot/inquiries/staff_thread.py)."""
    inquiry = await access.inquiry(session, person, Act.OWN_INQUIRY, inquiry_id)
    body = message_text(text)
    if not body:
        raise InquiryError("question.empty")
    await repo.add_event(
        session,
        InquiryEvent(inquiry_id=inquiry.id, actor_id=person.id, kind="follow_up", text=body,
                     message_id=message_id),
    )  # fmt: skip
    inquiry.updated_at = utcnow()
    profile = await repo.get_profile(session, person.id)
    for chat_id, lang in await _followup_targets(session, settings, inquiry):
        original = await outbox_repo.first_sent_for(session, chat_id, f"inquiry:{inquiry.id}")
        # In the staff chat with the card's buttons: answered from where it is read.
        buttons = render.staff_keyboard(lang, inquiry.id) if chat_id < 0 else None
        payload = outbox.payload_text(
            render.follow_up_for_staff(lang, inquiry, profile, body), buttons
        )
        if original is not None and original.message_id is not None:
            payload["reply_parameters"] = {
                "message_id": original.message_id,
                "allow_sending_without_reply": True,
            }
        await outbox.queue(session, chat_id, payload, ref=f"inquiry:{inquiry.id}")
    await staff_thread.changed(session, settings, inquiry)
    return inquiry


async def card_changed(session: AsyncSession, settings: Settings, inquiry_id: int) -> None:
    """Something shown on the inquiry's staff card changed (e.g. one of its next steps):
    the card in the staff chat is edited to show it."""
    await staff_thread.card_changed(session, settings, inquiry_id)


async def _followup_targets(
    session: AsyncSession, settings: Settings, inquiry: Inquiry
) -> list[tuple[int, str]]:
    targets = await staff_targets(session, settings)
    if inquiry.assignee_id is not None:
        assignee = await users_repo.get_user(session, inquiry.assignee_id)
        if assignee is not None and all(t[0] != assignee.id for t in targets):
            targets.append((assignee.id, assignee.language))
    return targets


@dataclass(frozen=True)
class Timeline:
    inquiry: Inquiry
    program: Program | None
    events: list[InquiryEvent]


async def my_inquiries(
    session: AsyncSession, person: Person
) -> list[tuple[Inquiry, Program | None]]:
    rows = await repo.inquiries_of(session, person.id)
    programs = await repo.programs_by_ids(session, [r.program_id for r in rows if r.program_id])
    return [(r, programs.get(r.program_id) if r.program_id else None) for r in rows]


async def timeline(session: AsyncSession, person: Person, inquiry_id: int) -> Timeline:
    inquiry = await access.inquiry(session, person, Act.OWN_INQUIRY, inquiry_id)
    program = await program_of(session, inquiry)
    events = await repo.events_of(session, inquiry.id, public_only=True)
    return Timeline(inquiry, program, events)


# The first-response deadline ------------------------------------------------------------


async def escalate_due(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Remind the owner of inquiries untouched for FIRST_RESPONSE_HOURS, and tell the
    admins of those untouched twice as long. Returns how many messages were queued."""
    window = timedelta(hours=settings.first_response_hours)
    queued = 0
    for inquiry in await repo.overdue_first_response(session, now - window, escalation_below=1):
        inquiry.escalation = 1
        program = await program_of(session, inquiry)
        owner_id = inquiry.assignee_id or (program.owner_id if program else None)
        targets: list[tuple[int, str]] = []
        if owner_id is not None:
            owner = await users_repo.get_user(session, owner_id)
            if owner is not None:
                targets = [(owner.id, owner.language)]
        if not targets:  # nobody owns it: straight to the staff
            targets = await staff_targets(session, settings)
        for chat_id, lang in targets:
            text, keyboard = render.overdue_notice(
                lang, inquiry, program, settings, escalated=False
            )
            await outbox.queue(
                session, chat_id, outbox.payload_text(text, keyboard),
                ref=f"inquiry:{inquiry.id}", dedupe_key=f"inq:{inquiry.id}:remind:{chat_id}",
            )  # fmt: skip
            queued += 1
    for inquiry in await repo.overdue_first_response(session, now - 2 * window, escalation_below=2):
        inquiry.escalation = 2
        program = await program_of(session, inquiry)
        for chat_id, lang in await _admin_targets(session, settings):
            text, keyboard = render.overdue_notice(lang, inquiry, program, settings, escalated=True)
            await outbox.queue(
                session, chat_id, outbox.payload_text(text, keyboard),
                ref=f"inquiry:{inquiry.id}", dedupe_key=f"inq:{inquiry.id}:escalate:{chat_id}",
            )  # fmt: skip
            queued += 1
    return queued


async def _admin_targets(session: AsyncSession, settings: Settings) -> list[tuple[int, str]]:
    ids = set(settings.admin_ids) | set(await repo.staff_ids(session, Role.ADMIN))
    out = []
    for admin_id in sorted(ids):
        user = await users_repo.get_user(session, admin_id)
        out.append((admin_id, user.language if user else settings.default_language))
    return out


async def next_escalation_at(session: AsyncSession, settings: Settings) -> datetime | None:
    window = timedelta(hours=settings.first_response_hours)
    first = await repo.oldest_untouched(session, escalation_below=1)
    second = await repo.oldest_untouched(session, escalation_below=2)
    moments = [m + window for m in (first,) if m] + [m + 2 * window for m in (second,) if m]
    return min(moments) if moments else None


async def inquiry_of_message(session: AsyncSession, chat_id: int, message_id: int) -> int | None:
    """The inquiry one of our messages in that chat was about, if it was about one."""
    row = await outbox_repo.find_by_message(session, chat_id, message_id)
    ref = row.ref if row is not None else None
    if ref is not None and ref.startswith("inquiry:"):
        return parse_id(ref.removeprefix("inquiry:"))
    return None


def is_open(inquiry: Inquiry) -> bool:
    return inquiry.status in OPEN_INQUIRY_STATUSES


@dataclass(frozen=True)
class WeeklyChart:
    png: bytes | None  # None: no font here to draw it readably in this language
    caption: str


async def weekly_charts(
    session: AsyncSession, settings: Settings, now: datetime, languages: set[str]
) -> dict[str, WeeklyChart]:
    """The /stats chart with its figures, for the admins' Monday overview (bot/next_steps),
    drawn once per language."""
    trends = await board.trends(session, settings.tz, now)
    drawn = {}
    for lang in sorted(languages):
        png = await charts.stats_png(lang, trends)
        drawn[lang] = WeeklyChart(png, board_views.weekly_caption(lang, trends))
    return drawn
