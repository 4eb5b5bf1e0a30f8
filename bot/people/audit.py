"""The audit trail: who changed what, and when.

Services call `record` inside the unit of work of the change itself, so an entry is
committed exactly when its action is (a rolled-back action leaves no entry, and no action
commits without one). Admins read it with /audit (newest first, keyset pages) and export
it as CSV and XLSX.
"""

from __future__ import annotations

import asyncio
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.formats import spreadsheets
from bot.formats.spreadsheets import ExportFile, FileFormat
from bot.people import roles as access
from bot.people.person import Person
from bot.people.roles import Act
from bot.ui.i18n import bracketed, catalog, format_clock, t
from bot.ui.text import clip_text
from storage import audit as repo
from storage.models import AuditEntry, User, utcnow

PAGE_SIZE = 10
DETAIL_LIMIT = 500  # characters kept of a detail; the action itself holds the full data


class Action(enum.StrEnum):
    """The stable codes stored in `audit_log.action` (`program.create` and so on).

    Generated from the member names, so no dotted literal appears in the code
    (tests/test_i18n.py reads those as message keys). Each code's wording is the message
    `audit.act.<code>` in every language; removing a member leaves old rows shown by code.
    """

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[str]) -> str:
        return name.lower().replace("_", ".", 1)

    PROGRAM_CREATE = enum.auto()
    PROGRAM_EDIT = enum.auto()
    PROGRAM_STATUS = enum.auto()
    PROGRAM_OWNER = enum.auto()
    PROGRAMS_IMPORT = enum.auto()
    INQUIRY_STATUS = enum.auto()
    INQUIRY_ASSIGN = enum.auto()
    INQUIRY_REPLY = enum.auto()
    STEP_CREATE = enum.auto()
    STEP_EDIT = enum.auto()
    STEP_DONE = enum.auto()
    STEP_CANCEL = enum.auto()
    BROADCAST_SEND = enum.auto()
    BROADCAST_SCHEDULE = enum.auto()
    BROADCAST_PAUSE = enum.auto()
    BROADCAST_RESUME = enum.auto()
    BROADCAST_CANCEL = enum.auto()
    INVITE_CREATE = enum.auto()
    INVITE_REVOKE = enum.auto()
    ROLE_TEACHER = enum.auto()  # an invite was redeemed: this person is now a teacher
    ROLE_ADMIN = enum.auto()
    ROLE_CHANGE = enum.auto()  # an admin changed or removed someone's staff role (/staff)


def clip(text: str, limit: int = DETAIL_LIMIT) -> str:
    """A detail as stored: one line (a summary, not a document), at most `limit`."""
    return clip_text(" ".join(text.split()), limit)


# A detail is one line of English-free glue and the person's own words: the words the
# bot supplies are tokens (⟦istatus.new⟧, ⟦t:2030-01-02 03:00Z⟧) that each reader sees in
# their language and zone; what people typed (a title, a name) stays as it was, so /forget
# can still find and scrub it as plain text.
_TOKEN = re.compile(r"⟦([^⟦⟧]{1,80})⟧")
_STAMP = "%Y-%m-%d %H:%MZ"


def term(key: str) -> str:
    """A message key inside a detail, shown in the reader's language."""
    return f"⟦{key}⟧"


def word(name: str) -> str:
    """One of the detail words of the audit catalog (audit.w.*): owner, due…"""
    return term(f"audit.w.{name}")


def change(prefix: str, old: str, new: str) -> str:
    """A value changed: ⟦istatus.new⟧ → ⟦istatus.contacted⟧."""
    return f"{term(prefix + old)} → {term(prefix + new)}"


def stamp(moment: datetime) -> str:
    """A moment inside a detail: UTC, to the minute; shown in the reader's zone."""
    return f"⟦t:{moment.astimezone(UTC).strftime(_STAMP)}⟧"


def shown_detail(lang: str, detail: str, tz: ZoneInfo) -> str:
    """A stored detail as `lang` reads it: its tokens in words, its times in `tz`."""

    def word(match: re.Match[str]) -> str:
        inner = match[1]
        if inner.startswith("t:"):
            try:
                moment = datetime.strptime(inner[2:], _STAMP).replace(tzinfo=UTC)
            except ValueError:
                return match[0]
            return format_clock(moment, lang, tz)
        return t(lang, inner) if inner in catalog(lang) else match[0]

    return _TOKEN.sub(word, detail)


async def record(
    session: AsyncSession, actor_id: int | None, action: Action, subject: str = "",
    detail: str = "",
) -> None:  # fmt: skip
    """Add an entry to the caller's unit of work (see the module docstring)."""
    repo.add(
        session,
        AuditEntry(
            at=utcnow(), actor_id=actor_id, action=action.value, subject=subject[:60],
            detail=clip(detail),
        ),
    )  # fmt: skip


# Reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    actors: Mapping[int, User]
    page: int = 1
    pages: int = 1
    total: int = 0
    newer_top: int | None = None  # where Previous goes (None on the first page)
    older_top: int | None = None  # where Next goes (None on the last)


async def page(session: AsyncSession, top: int | None = None) -> AuditPage:
    """The page whose newest entry is the newest with id <= `top` (None: the newest).

    Keyset paging: a button carries its page's top id, so page 40 costs one index range,
    and entries added meanwhile do not shift the page being read; they only make it a
    later page number.
    """
    latest = await repo.latest_id(session)
    if latest is None:
        return AuditPage(entries=[], actors={})
    if top is None or top > latest or top < 1:
        top = latest
    entries = await repo.page_from(session, top, PAGE_SIZE)
    if not entries:  # a forged or ancient top below every entry: start over
        top = latest
        entries = await repo.page_from(session, top, PAGE_SIZE)
    newer = await repo.count_newer(session, top)
    remaining = await repo.count_from(session, top)
    page_no = -(-newer // PAGE_SIZE) + 1
    pages = page_no - 1 + -(-remaining // PAGE_SIZE)
    newer_ids = await repo.newer_ids(session, top, PAGE_SIZE) if newer else []
    actors = await repo.users_by_id(session, [e.actor_id for e in entries if e.actor_id])
    return AuditPage(
        entries=entries,
        actors=actors,
        page=page_no,
        pages=pages,
        total=newer + remaining,
        newer_top=newer_ids[-1] if newer_ids else None,
        older_top=entries[-1].id - 1 if remaining > len(entries) else None,
    )


def action_name(lang: str, action: str) -> str:
    """The action in the reader's language; an unknown code is shown as it is."""
    key = f"audit.act.{action}"
    text = t(lang, key)
    return action if text == key else text


def person_name(user: User | None) -> str:
    if user is None:
        return ""
    return " ".join(p for p in (user.first_name, user.last_name) if p).strip()


def actor_label(
    lang: str, actor_id: int | None, actors: Mapping[int, User], *, name_chars: int = 129
) -> str:
    """Name and id; the id alone when the person is gone; the command line for None."""
    if actor_id is None:
        return t(lang, "audit.system")
    name = clip_text(person_name(actors.get(actor_id)), name_chars)
    return bracketed(lang, name, actor_id) if name else str(actor_id)


# Export -----------------------------------------------------------------------------------

COLUMNS: tuple[str, ...] = (
    "id", "at_utc", "at_local", "actor_id", "actor", "action", "action_name", "subject",
    "detail",
)  # fmt: skip
WIDTHS = {"at_local": 26, "actor": 24, "action_name": 28, "subject": 16, "detail": 70}
NUMERIC = frozenset({"id", "actor_id"})


async def export_rows(session: AsyncSession, lang: str, tz: ZoneInfo) -> list[dict[str, str]]:
    """Every entry, oldest first, with names and action wording in `lang`."""
    rows: list[dict[str, str]] = []
    async for batch in repo.batches(session):
        actors = await repo.users_by_id(session, [e.actor_id for e in batch if e.actor_id])
        for entry in batch:
            rows.append(
                {
                    "id": str(entry.id),
                    "at_utc": entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "at_local": entry.at.astimezone(tz).isoformat(timespec="seconds"),
                    "actor_id": "" if entry.actor_id is None else str(entry.actor_id),
                    "actor": person_name(actors.get(entry.actor_id or 0))
                    if entry.actor_id
                    else t(lang, "audit.system"),
                    "action": entry.action,
                    "action_name": action_name(lang, entry.action),
                    "subject": entry.subject,
                    "detail": shown_detail(lang, entry.detail, tz),
                }
            )
    return rows


def write_rows(rows: Sequence[Mapping[str, str]], fmt: FileFormat, lang: str) -> bytes:
    headers = [t(lang, f"export.audit.{c}") for c in COLUMNS]  # the admin's language
    if fmt is FileFormat.CSV:  # details can be user text: guarded
        return spreadsheets.write_csv(COLUMNS, rows, headers=headers)
    if fmt is FileFormat.XLSX:
        return spreadsheets.write_xlsx(
            COLUMNS, rows, title="audit", widths=WIDTHS, numeric=NUMERIC, headers=headers
        )
    raise ValueError(f"the audit trail is exported as CSV or XLSX, not {fmt}")


async def export_files(
    session: AsyncSession, admin: Person, lang: str, tz: ZoneInfo, now: datetime
) -> list[ExportFile]:
    """The whole trail as a CSV and an XLSX file (admins)."""
    access.require(admin, Act.AUDIT)
    rows = await export_rows(session, lang, tz)
    stamp = f"{now.astimezone(tz):%Y%m%d-%H%M}"
    made = []
    for fmt in (FileFormat.CSV, FileFormat.XLSX):
        data = await asyncio.to_thread(write_rows, rows, fmt, lang)  # XLSX takes a moment
        made.append(ExportFile(f"audit-{stamp}.{fmt.value}", data, len(rows)))
    return made
