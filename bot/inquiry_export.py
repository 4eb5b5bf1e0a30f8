"""Inquiries as a CSV or XLSX file, for staff: `/export_inquiries` and
`partnerbot inquiries export FILE`.

Only what staff need to follow an inquiry up goes in (personal data minimisation): the
contact's organisation, name, phone and email from their enterprise profile (blank once
they used /forget), never Telegram usernames or anyone's internal user id.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.program_files import FileFormat
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
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_LIKE = re.compile(r"^[+\-]?[\d\s().\-]*$")


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


def to_row(found: repo.ExportRow, tz: ZoneInfo) -> dict[str, str]:
    """One inquiry as strings, one per column."""
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
        "program_kind": program.kind.value if program else "",
        "inquiry_kind": inquiry.kind.value,
        "status": inquiry.status.value,
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


async def export_rows(session: AsyncSession, tz: ZoneInfo) -> list[dict[str, str]]:
    """Every inquiry, oldest first, as rows of `COLUMNS`."""
    return [to_row(found, tz) for found in await repo.export_inquiries(session)]


def write_rows(rows: Sequence[Mapping[str, str]], fmt: FileFormat) -> bytes:
    if fmt is FileFormat.CSV:
        return write_csv(COLUMNS, rows)
    if fmt is FileFormat.XLSX:
        return write_xlsx(COLUMNS, rows, title="inquiries", widths=WIDTHS, numeric=NUMERIC)
    raise ValueError(f"inquiries are exported as CSV or XLSX, not {fmt}")


# --- Table writers: any columns, every value a string --------------------------------------


def _csv_cell(value: str) -> str:
    if value.startswith(_FORMULA_START) and not _NUMBER_LIKE.match(value):
        return "'" + value
    return value


def write_csv(columns: Sequence[str], rows: Sequence[Mapping[str, str]]) -> bytes:
    """UTF-8 with a BOM and CRLF line ends: what Excel opens correctly, Chinese included."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(name, "")) for name in columns])
    return out.getvalue().encode("utf-8-sig")


def write_xlsx(
    columns: Sequence[str], rows: Sequence[Mapping[str, str]], *, title: str,
    widths: Mapping[str, int], numeric: frozenset[str] = frozenset(),
) -> bytes:  # fmt: skip
    """A single sheet with a bold, frozen header; text stays text (never a formula)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "B2"
    for row in rows:
        values: list[Any] = []
        for name in columns:
            value = row.get(name, "")
            if name in numeric and value:
                values.append(float(value) if "." in value else int(value))
            else:
                values.append(value or None)
        sheet.append(values)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # openpyxl would make "=…" a formula
                if "\n" in cell.value:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
    for index, name in enumerate(columns, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = widths.get(name, 16)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
