"""Catalogue files through the chat: an admin's upload checked, read and imported, and
the catalogue exported. The Telegram side (downloading, sending) stays in the handler;
reading runs in a limited child process (bot/catalog/safe_reader.py), before any unit of
work opens, so no transaction waits on a slow file."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.catalog.files import ACCEPTED, MAX_BYTES, Table, detect_format
from bot.catalog.files import write_rows as write_file
from bot.catalog.imports import ImportReport, export_rows, import_programs
from bot.catalog.safe_reader import read_rows_safely
from bot.formats.spreadsheets import ExportFile, FileError, FileFormat
from bot.people import roles as access
from bot.people.person import Person
from bot.people.roles import Act
from bot.ui.errors import FieldError

EXPORT_FORMATS = {f.value: f for f in FileFormat} | {"yml": FileFormat.YAML}


def accept_upload(person: Person, name: str, size: int | None) -> FileFormat:
    """The format of an upload the person may import; FileError for one refused as a
    whole (wrong type, too big), access.Refused for someone who may not import."""
    access.require(person, Act.MANAGE_CATALOG)
    fmt = detect_format(name)
    if fmt is None:
        raise FileError("files.wrong_type", formats=ACCEPTED)
    if size is not None and size > MAX_BYTES:
        raise FileError("files.too_big", limit=MAX_BYTES // (1024 * 1024))
    return fmt


async def read_upload(data: bytes, fmt: FileFormat) -> Table:
    """The rows of the file, read in a separate process with time and memory limits:
    other chats keep getting answers meanwhile, and a hostile file costs only that
    process. FileError when it cannot be read."""
    return await read_rows_safely(data, fmt)


async def import_table(
    session: AsyncSession, person: Person, table: Table, name: str
) -> ImportReport:
    """All rows or none (nothing is written when any row is refused)."""
    access.require(person, Act.MANAGE_CATALOG)
    return await import_programs(session, table.rows, actor_id=person.id, source=name)


async def export(
    session: AsyncSession, person: Person, choice: str, tz: ZoneInfo, now: datetime
) -> ExportFile:
    """The catalogue as a file in the format asked for (csv, xlsx, yaml/yml)."""
    access.require(person, Act.MANAGE_CATALOG)
    fmt = EXPORT_FORMATS.get(choice.lower().lstrip("."))
    if fmt is None:
        raise FieldError("files.export_usage")
    rows = await export_rows(session)
    data = await asyncio.to_thread(write_file, rows, fmt)  # XLSX takes a moment
    return ExportFile(f"programs-{now.astimezone(tz):%Y%m%d-%H%M}.{fmt.value}", data, len(rows))
