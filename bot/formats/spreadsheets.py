"""Spreadsheet formats and writers shared by every export (any columns, every value a
string), and the error for a file that cannot be read as a table."""

from __future__ import annotations

import csv
import enum
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

EXCEL_MAX_ROWS = 1_048_576  # what Excel itself can hold; a row beyond is forged


class FileFormat(enum.StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    YAML = "yaml"


class FileError(Exception):
    """The file as a whole cannot be read; `key` is a message key, `values` its fields."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key, values)
        self.key = key
        self.values: dict[str, object] = values


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_LIKE = re.compile(r"^[+\-]?[\d\s().\-]*$")


def _csv_cell(value: str) -> str:
    if value.startswith(_FORMULA_START) and not _NUMBER_LIKE.match(value):
        return "'" + value
    return value


def write_csv(
    columns: Sequence[str], rows: Sequence[Mapping[str, str]], *, guard_formulas: bool = True,
    headers: Sequence[str] | None = None,
) -> bytes:  # fmt: skip
    """UTF-8 with a BOM and CRLF line ends: what Excel opens correctly, Chinese included.
    With `guard_formulas`, a cell that Excel would run as a formula gets a leading
    apostrophe (for text that came from outside); a file meant to be imported back
    unchanged turns it off. `headers`: the header row people read (default: the column
    names), for a file meant for people rather than for importing back."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers or columns)
    for row in rows:
        cells = [row.get(name, "") for name in columns]
        writer.writerow([_csv_cell(c) for c in cells] if guard_formulas else cells)
    return out.getvalue().encode("utf-8-sig")


def write_xlsx(
    columns: Sequence[str], rows: Sequence[Mapping[str, str]], *, title: str,
    widths: Mapping[str, int], numeric: frozenset[str] = frozenset(),
    headers: Sequence[str] | None = None,
) -> bytes:  # fmt: skip
    """A single sheet with a bold, frozen header; text stays text (never a formula)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    sheet.append(list(headers or columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "B2"
    for row_no, row in enumerate(rows, start=2):
        values: list[Any] = []
        for name in columns:
            value = row.get(name, "")
            if name in numeric and value:
                values.append(float(value) if "." in value else int(value))
            else:
                values.append(value or None)
        sheet.append(values)
        # Cell by cell: `sheet[sheet.max_row]` scans every cell of the sheet each time,
        # which made 10,000 rows take over a minute.
        for index in range(1, len(columns) + 1):
            cell = sheet.cell(row=row_no, column=index)
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


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A file made for someone to download: its name, its bytes, and how many rows."""

    filename: str
    data: bytes
    count: int
