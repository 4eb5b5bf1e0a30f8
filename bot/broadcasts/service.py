"""Announcements: compose, audience, preview, send now or at a time, pause, resume,
cancel, live progress and the final report.

Deliveries are outbox rows queued in one transaction when sending starts (all recipients
or none), so a crash loses no recipient and repeats at most the sends in flight; the
one rate limiter paces them behind the replies to people's own clicks."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.engines import outbox
from bot.formats.spreadsheets import ExportFile
from bot.people import audit
from bot.people import roles as access
from bot.people.audit import Action
from bot.people.person import Person
from bot.people.roles import Act
from bot.settings import Settings
from bot.ui.callbacks import cb
from bot.ui.deeplinks import link
from bot.ui.errors import FieldError
from bot.ui.i18n import LANGUAGES, t
from bot.ui.ids import parse_id
from bot.ui.text import CAPTION_LIMIT, TEXT_LIMIT, visible_len
from storage import broadcasts as repo
from storage import programs as programs_repo
from storage.models import (
    Broadcast,
    BroadcastStatus,
    OutboxState,
    ProgramKind,
    ProgramStatus,
    utcnow,
)

ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code",
                "pre", "tg-spoiler", "span", "blockquote"}  # fmt: skip
_BARE_AMP = re.compile(r"&(?!(?:amp|lt|gt|quot|#\d{1,7}|#x[0-9A-Fa-f]{1,6});)")
_BUTTON = re.compile(r"^(?P<label>[^|]{1,40})\|\s*(?P<target>\S{1,300})$")
SEGMENTS = (
    "all", "enterprise", "teachers", "no_meeting", "lang-en", "lang-zh",
    *(f"kind-{k.value}" for k in ProgramKind),
)  # fmt: skip
STEERS = {
    "pause": Action.BROADCAST_PAUSE,
    "resume": Action.BROADCAST_RESUME,
    "cancel": Action.BROADCAST_CANCEL,
}


class BroadcastError(FieldError):
    """A refusal with a message key."""


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS and self.error is None:
            self.error = tag
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.error = self.error or f"/{tag}"


def check_html(text: str) -> str:
    """Telegram HTML only: known tags, properly closed, at most 4,096 characters as
    Telegram counts them (tags not at all); otherwise a clear refusal. A bare “&” (as in
    “R&D”) is what the admin meant literally, so it is written as &amp; for them rather
    than refused; "&lt;" and the other entities stay as typed."""
    value = _BARE_AMP.sub("&amp;", text.strip())
    if not value:
        raise BroadcastError("form.required")
    if visible_len(value) > TEXT_LIMIT:
        raise BroadcastError("form.too_long", limit=TEXT_LIMIT, length=visible_len(value))
    checker = _TagChecker()
    checker.feed(value)
    checker.close()
    if checker.error or checker.stack:
        raise BroadcastError("bc.bad_html", tag=checker.error or checker.stack[-1])
    return value


def check_caption(data: dict[str, Any]) -> None:
    """With a photo or a document the text is a caption, and a caption holds 1,024:
    refused at the text or media step, whichever comes second."""
    length = visible_len(str(data.get("text", "")))
    if isinstance(data.get("media"), dict) and length > CAPTION_LIMIT:
        raise BroadcastError("bc.caption_too_long", limit=CAPTION_LIMIT, length=length)


def parse_button(text: str) -> dict[str, str]:
    """'Label | https://…' (a link) or 'Label | p_12' (a programme card)."""
    match = _BUTTON.match(text.strip())
    if match is None:
        raise BroadcastError("bc.bad_button")
    label, target = match["label"].strip(), match["target"].strip()
    if target.startswith(("https://", "http://")):
        return {"text": label, "url": target}
    if target.startswith("p_") and parse_id(target[2:]) is not None:
        return {"text": label, "program": str(parse_id(target[2:]))}
    raise BroadcastError("bc.bad_button")


def _segment_term(segment: str) -> str:
    """An audience inside an audit detail, in the reader's language (segment_label)."""
    head, _, arg = segment.partition("-")
    if head == "kind":
        return audit.term(f"kind.{arg}")
    if head == "program":
        return f"{audit.word('program')} #{arg}"
    return audit.term(f"bc.seg_{segment.replace('-', '_')}")


def segment_label(lang: str, segment: str) -> str:
    head, _, arg = segment.partition("-")
    if head == "kind":
        return t(lang, "bc.seg_kind", kind=t(lang, f"kind.{arg}"))
    if head == "program":
        return t(lang, "bc.seg_program", id=arg)
    return t(lang, f"bc.seg_{segment.replace('-', '_')}")


def require_admin(person: Person) -> None:
    access.require(person, Act.BROADCAST)


def payload_for(broadcast: Broadcast, lang: str, bot_username: str) -> tuple[str, dict[str, Any]]:
    """The exact message a recipient in `lang` gets: (method, parameters)."""
    rows: list[list[InlineKeyboardButton]] = []
    if broadcast.button_text and broadcast.button_url:
        url = broadcast.button_url
        if url.startswith("p_"):
            url = link(bot_username, "p", url[2:])
        rows.append([InlineKeyboardButton(broadcast.button_text, url=url)])
    rows.append([InlineKeyboardButton(t(lang, "bc.stop_btn"), callback_data=cb("bc", "stop"))])
    markup = InlineKeyboardMarkup(rows).to_dict()
    if broadcast.media_kind in ("photo", "document") and broadcast.media_file_id:
        method = "sendPhoto" if broadcast.media_kind == "photo" else "sendDocument"
        return method, {
            broadcast.media_kind: broadcast.media_file_id,
            "caption": broadcast.text, "parse_mode": "HTML", "reply_markup": markup,
        }  # fmt: skip
    return "sendMessage", {
        "text": broadcast.text, "parse_mode": "HTML", "reply_markup": markup,
        "link_preview_options": {"is_disabled": True},
    }  # fmt: skip


async def create_draft(
    session: AsyncSession, settings: Settings, admin: Person, data: dict[str, Any]
) -> Broadcast:
    require_admin(admin)
    media = data.get("media") if isinstance(data.get("media"), dict) else None
    text = str(data["text"])
    check_caption(data)  # the form refused it already; a last guard
    button = data.get("button") if isinstance(data.get("button"), dict) else None
    target = None
    if button:
        target = button.get("url") or f"p_{button.get('program')}"
        if not button.get("url"):
            # Everyone gets the button: it must open a published programme for everyone.
            program = await programs_repo.get_program(session, int(button["program"]))
            if program is None or program.status is not ProgramStatus.OPEN:
                raise BroadcastError("bc.button_not_open", target=target)
    return await repo.add(
        session,
        Broadcast(
            author_id=admin.id, text=text,
            media_kind=media["kind"] if media else None,
            media_file_id=media["file_id"] if media else None,
            button_text=button["text"] if button else None, button_url=target,
            segment=str(data["audience"]), status=BroadcastStatus.DRAFT,
        ),
    )  # fmt: skip


async def _editable(
    session: AsyncSession, settings: Settings, admin: Person, broadcast_id: int
) -> Broadcast:
    require_admin(admin)
    broadcast = await repo.get(session, broadcast_id, lock=True)
    if broadcast is None:
        raise BroadcastError("bc.gone")
    return broadcast


async def start(
    session: AsyncSession, settings: Settings, broadcast: Broadcast, bot_username: str,
    now: datetime,
) -> int:  # fmt: skip
    """Queue every delivery now (one transaction: all recipients or none)."""
    payloads: dict[str, dict[str, Any]] = {}
    method = "sendMessage"
    for lang in LANGUAGES:
        method, payloads[lang] = payload_for(broadcast, lang, bot_username)
    total = await repo.queue_deliveries(
        session, broadcast, payloads, method, outbox.BROADCAST, now, settings.admin_ids
    )
    broadcast.total = total
    broadcast.status = BroadcastStatus.SENDING if total else BroadcastStatus.DONE
    broadcast.started_at = now
    if not total:
        broadcast.finished_at = now
    return total


async def send_now(
    session: AsyncSession, settings: Settings, admin: Person, broadcast_id: int,
    bot_username: str, progress: tuple[int, int] | None,
) -> Broadcast:  # fmt: skip
    broadcast = await _editable(session, settings, admin, broadcast_id)
    if broadcast.status not in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED):
        raise BroadcastError("bc.not_draft")
    if progress is not None:
        broadcast.progress_chat_id, broadcast.progress_message_id = progress
    total = await start(session, settings, broadcast, bot_username, utcnow())
    audience = _segment_term(broadcast.segment)
    detail = f"{audience}: {total} {audit.word('recipients')} · {broadcast.text}"
    await audit.record(
        session, admin.id, Action.BROADCAST_SEND, f"broadcast:{broadcast.id}", detail
    )
    return broadcast


async def schedule(
    session: AsyncSession, settings: Settings, admin: Person, broadcast_id: int, at: datetime
) -> Broadcast:
    broadcast = await _editable(session, settings, admin, broadcast_id)
    if broadcast.status not in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED):
        raise BroadcastError("bc.not_draft")
    broadcast.status, broadcast.scheduled_at = BroadcastStatus.SCHEDULED, at
    detail = f"{_segment_term(broadcast.segment)} · {audit.stamp(at)} · {broadcast.text}"
    await audit.record(
        session, admin.id, Action.BROADCAST_SCHEDULE, f"broadcast:{broadcast.id}", detail
    )
    return broadcast


async def steer(
    session: AsyncSession, settings: Settings, admin: Person, broadcast_id: int, action: str
) -> Broadcast:
    """Pause, resume or cancel."""
    broadcast = await _editable(session, settings, admin, broadcast_id)
    status = broadcast.status
    if action == "pause" and status is BroadcastStatus.SENDING:
        await repo.set_delivery_state(
            session, broadcast.id, [OutboxState.PENDING], OutboxState.HELD
        )
        broadcast.status = BroadcastStatus.PAUSED
    elif action == "resume" and status is BroadcastStatus.PAUSED:
        await repo.set_delivery_state(
            session, broadcast.id, [OutboxState.HELD], OutboxState.PENDING
        )
        broadcast.status = BroadcastStatus.SENDING
    elif action == "cancel" and status not in (BroadcastStatus.DONE, BroadcastStatus.CANCELLED):
        await repo.set_delivery_state(
            session, broadcast.id, [OutboxState.PENDING, OutboxState.HELD], OutboxState.CANCELLED
        )
        broadcast.status, broadcast.finished_at = BroadcastStatus.CANCELLED, utcnow()
    else:
        raise BroadcastError("bc.cannot")
    await audit.record(session, admin.id, STEERS[action], f"broadcast:{broadcast.id}")
    return broadcast


@dataclass(frozen=True)
class Progress:
    broadcast: Broadcast
    sent: int
    failed: int
    blocked: int
    remaining: int
    cancelled: int
    rate: float  # sent per second since the start
    finished: bool


async def progress(session: AsyncSession, broadcast: Broadcast, now: datetime) -> Progress:
    counts = await repo.delivery_counts(session, broadcast.id)
    sent, failed = counts.get("sent", 0), counts.get("failed", 0)
    blocked, cancelled = counts.get("blocked", 0), counts.get("cancelled", 0)
    remaining = counts.get("pending", 0) + counts.get("sending", 0) + counts.get("held", 0)
    elapsed = (now - broadcast.started_at).total_seconds() if broadcast.started_at else 0
    rate = sent / elapsed if elapsed > 0 else 0.0
    finished = broadcast.status in (BroadcastStatus.DONE, BroadcastStatus.CANCELLED)
    return Progress(broadcast, sent, failed, blocked, remaining, cancelled, rate, finished)


async def tick(
    session: AsyncSession, settings: Settings, bot_username: str, now: datetime
) -> list[Progress]:
    """Start what is scheduled, finish what has no delivery left, report on the rest."""
    for broadcast in await repo.due_scheduled(session, now):
        await start(session, settings, broadcast, bot_username, now)
    reports = []
    for broadcast in await repo.active(session):
        report = await progress(session, broadcast, now)
        if report.remaining == 0 and broadcast.status is BroadcastStatus.SENDING:
            broadcast.status, broadcast.finished_at = BroadcastStatus.DONE, now
            report = await progress(session, broadcast, now)
        reports.append(report)
    return reports


async def unsubscribe(session: AsyncSession, person: Person, value: bool = True) -> None:
    await repo.set_opted_out(session, person.id, value)


# What the admin's screens show ---------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    broadcast: Broadcast
    recipients: int
    method: str  # the exact Bot API call a recipient in the admin's language gets
    params: dict[str, Any]


async def preview(
    session: AsyncSession, settings: Settings, admin: Person, broadcast_id: int,
    bot_username: str,
) -> Preview:  # fmt: skip
    require_admin(admin)
    draft = await repo.get(session, broadcast_id)
    if draft is None:
        raise access.Refused()
    count = await repo.count_audience(session, draft.segment, settings.admin_ids)
    method, params = payload_for(draft, admin.language, bot_username)
    return Preview(draft, count, method, params)


@dataclass(frozen=True)
class Opened:
    """An announcement opened from the list: as recipients get it, and where it stands."""

    preview: Preview
    report: Progress | None  # None while it is a draft or scheduled: nothing sent yet


async def open_one(
    session: AsyncSession, settings: Settings, admin: Person, broadcast_id: int,
    bot_username: str, now: datetime,
) -> Opened:  # fmt: skip
    found = await preview(session, settings, admin, broadcast_id, bot_username)
    waiting = found.broadcast.status in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)
    return Opened(found, None if waiting else await progress(session, found.broadcast, now))


async def reschedulable(session: AsyncSession, admin: Person, broadcast_id: int) -> Broadcast:
    """The announcement to (re)schedule: a draft or a scheduled one, nothing that started."""
    require_admin(admin)
    broadcast = await repo.get(session, broadcast_id)
    if broadcast is None:
        raise BroadcastError("bc.gone")
    if broadcast.status not in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED):
        raise BroadcastError("bc.not_draft")
    return broadcast


async def send_now_reported(
    session: AsyncSession, settings: Settings, admin: Person, broadcast_id: int,
    bot_username: str, progress_message: tuple[int, int] | None, now: datetime,
) -> Progress:  # fmt: skip
    """Send now, and the first progress report (shown in the pressed message)."""
    sent = await send_now(session, settings, admin, broadcast_id, bot_username, progress_message)
    return await progress(session, sent, now)


async def steer_reported(
    session: AsyncSession, settings: Settings, admin: Person, broadcast_id: int, action: str,
    now: datetime,
) -> Progress:  # fmt: skip
    steered = await steer(session, settings, admin, broadcast_id, action)
    return await progress(session, steered, now)


async def failed_file(session: AsyncSession, admin: Person, broadcast_id: int) -> ExportFile:
    """The recipients a broadcast did not reach, as CSV (chat id, state, error)."""
    require_admin(admin)
    rows = await repo.failed_recipients(session, broadcast_id)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["chat_id", "state", "error"])
    writer.writerows(rows)
    data = out.getvalue().encode("utf-8-sig")
    return ExportFile(f"broadcast-{broadcast_id}-failed.csv", data, len(rows))


async def recent(session: AsyncSession, admin: Person) -> list[tuple[Broadcast, dict[str, int]]]:
    """The latest broadcasts with their delivery counts per state."""
    require_admin(admin)
    return [(b, await repo.delivery_counts(session, b.id)) for b in await repo.recent(session)]
