"""The demo catalogue: `partnerbot demo` loads bot/catalog/data/demo_programs.yaml.

It goes through the same import service as any admin's file, so the demo is also a
worked example of the import format; being an upsert by `code`, loading it twice changes
nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from bot.catalog.files import read_rows
from bot.catalog.imports import ImportReport, import_programs
from bot.formats.spreadsheets import FileFormat

DEMO_FILE: Final = Path(__file__).parent / "data" / "demo_programs.yaml"


async def load_demo(session: AsyncSession) -> ImportReport:
    table = read_rows(DEMO_FILE.read_bytes(), FileFormat.YAML)
    return await import_programs(session, table.rows, source="demo")
