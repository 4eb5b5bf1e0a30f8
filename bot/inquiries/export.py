"""Inquiries as a CSV or XLSX file, for staff: `/export_inquiries` and
`partnerbot inquiries export FILE`.

Only what staff need to follow an inquiry up goes in (personal data minimisation): the
contact's organisation, name, phone and email from their enterprise profile (blank once
they used /forget), never Telegram usernames or anyone's internal user id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import PurePath
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.formats import spreadsheets
from bot.formats.spreadsheets import FileFormat
from bot.ui.i18n import t
from storage import inquiries as repo
from storage.models import User

COLUMNS: tuple[str, ...] = (
    "id",
    "created_utc",
    "created_local",
    "program_code",
    "program_title_zh",
    "program_title_en",
    "program_kind",
    "inquiry_kind",
    "status",
    "organization",
    "contact_person",
    "phone",
    "email",
    "message",
    "assignee",
    "first_response_utc",
    "first_response_hours",
)
FORMATS: Mapping[str, FileFormat] = {".csv": FileFormat.CSV, ".xlsx": FileFormat.XLSX}
NUMERIC = frozenset({"id", "first_response_hours"})
WIDTHS = {"program_title_zh": 30, "program_title_en": 30, "organization": 28, "message": 60}
# A spreadsheet runs a cell that starts with one of these as a formula. Messages come from
# outside the college, so in CSV such a cell is prefixed with an apostrophe — unless it is
# a plain number or phone number ("+86 138 0000 0000"), which no spreadsheet abuses.


def detect_format(filename: str) -> FileFormat | None:
    """CSV or XLSX from a file name's extension; None for anything else."""
    return FORMATS.get(PurePath(filename.strip()).suffix.lower())


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).isoformat(timespec="seconds")


def _person(user: User | None) -> str:
    if user is None:
        return ""
    return " ".join(p for p in (user.first_name, user.last_name) if p).strip()


def to_row(found: repo.ExportRow, tz: ZoneInfo, lang: str | None = None) -> dict[str, str]:
    """One inquiry as strings, one per column: codes (status, kinds) as stored, or in
    `lang` for people to read."""
    inquiry, program, profile = found.inquiry, found.program, found.profile
    answered = inquiry.first_response_at
    hours = (answered - inquiry.created_at).total_seconds() / 3600 if answered else None
    values = {
        "id": str(inquiry.id),
        "created_utc": _utc(inquiry.created_at),
        "created_local": _local(inquiry.created_at, tz),
        "program_code": program.code if program else "",
        "program_title_zh": program.title_zh if program else "",
        "program_title_en": program.title_en if program else "",
        "program_kind": _word(lang, "kind.", program.kind.value) if program else "",
        "inquiry_kind": _word(lang, "export.ikind.", inquiry.kind.value),
        "status": _word(lang, "istatus.", inquiry.status.value),
        "organization": inquiry.organization or (profile.organization if profile else ""),
        "contact_person": profile.contact_person if profile else "",
        "phone": profile.phone if profile else "",
        "email": profile.email if profile else "",
        "message": inquiry.message,
        "assignee": _person(found.assignee),
        "first_response_utc": _utc(answered) if answered else "",
        "first_response_hours": f"{hours:.1f}" if hours is not None else "",
    }
    return {name: values[name] or "" for name in COLUMNS}


def _word(lang: str | None, prefix: str, code: str) -> str:
    return code if lang is None else t(lang, prefix + code)


async def export_rows(
    session: AsyncSession, tz: ZoneInfo, lang: str | None = None
) -> list[dict[str, str]]:
    """Every inquiry, oldest first, as rows of `COLUMNS` (see to_row for `lang`)."""
    return [to_row(found, tz, lang) for found in await repo.export_inquiries(session)]


def write_rows(
    rows: Sequence[Mapping[str, str]], fmt: FileFormat, lang: str | None = None
) -> bytes:
    """The file; with `lang`, its header row in that language (the chat's export),
    else the column names (the CLI's, for scripts)."""
    headers = [t(lang, f"export.inq.{c}") for c in COLUMNS] if lang else None
    if fmt is FileFormat.CSV:
        return spreadsheets.write_csv(COLUMNS, rows, headers=headers)
    if fmt is FileFormat.XLSX:
        return spreadsheets.write_xlsx(
            COLUMNS, rows, title="inquiries", widths=WIDTHS, numeric=NUMERIC, headers=headers
        )
    raise ValueError(f"inquiries are exported as CSV or XLSX, not {fmt}")
