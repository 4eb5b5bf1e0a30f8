"""Programme files: CSV, XLSX and YAML read into raw rows and written back. No database.

The three formats carry the same columns in the same order (`COLUMNS`). Reading checks the
shape of the file (size, row count, header); the values themselves are validated by
bot.program_import, so a problem in one cell is reported against its row, not the file.

A file comes from outside, so reading is bounded before any per-cell work, and every
bound is refused with its own message rather than truncated:
- at most 5 MB (MAX_BYTES) and 10,000 data rows (MAX_ROWS); blank rows are skipped cheaply;
- at most 64 columns (MAX_COLUMNS): a wider CSV row is refused, an XLSX sheet is read up to
  column 64 (cells further right are not ours; openpyxl would walk 16,384 of them);
- a cell (a YAML scalar) of at most 10,000 characters (MAX_CELL_CHARS; the longest
  column takes 4,000), and 5,242,880 characters in all cells together (MAX_TEXT_CHARS: no
  more text than a 5 MB CSV can hold, so an XLSX of shared strings cannot multiply it);
- YAML: no anchors or aliases (`&a`, `*a`; the "billion laughs" multiply a few hundred
  bytes into gigabytes once anything walks the values), at most 10 levels of nesting
  (MAX_YAML_DEPTH; a catalogue needs 3), checked on the parser's event stream before a
  single object is built; no integer too long to print (MAX_INT_BITS), no impossible date;
- XLSX: the archive is checked before openpyxl opens it (bot/xlsx_guard.py).
Time and memory are bounded too, by reading in a separate process: bot/safe_reader.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

import yaml

from bot.formats import spreadsheets

# Re-exported: they live in bot.formats (the audit and inquiry exports share them), and
# this module's callers have always found them here.
from bot.formats.spreadsheets import EXCEL_MAX_ROWS, FileError, FileFormat

try:  # libyaml: the same YAML, parsed in C
    from yaml import CSafeLoader as _YamlLoader
except ImportError:  # PyYAML built without it: slower, same results
    from yaml import SafeLoader as _YamlLoader  # type: ignore[assignment]

COLUMNS: tuple[str, ...] = (
    "code",
    "kind",
    "status",
    "department_code",
    "department_zh",
    "department_en",
    "title_zh",
    "title_en",
    "summary_zh",
    "summary_en",
    "benefits_zh",
    "benefits_en",
    "tags",
    "contact",
    "owner_id",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("code", "kind", "department_code")
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
# A header wider than this is not ours. XLSX reading stops there instead of walking
# 16,384 empty columns of every row; a CSV row this wide is refused.
MAX_COLUMNS = 64
MAX_CELL_CHARS = 10_000
MAX_TEXT_CHARS = MAX_BYTES
MAX_YAML_DEPTH = 10
MAX_INT_BITS = 10_000  # about 3,000 digits: Python refuses to print more than 4,300


EXTENSIONS: Mapping[str, FileFormat] = {
    ".csv": FileFormat.CSV,
    ".xlsx": FileFormat.XLSX,
    ".yaml": FileFormat.YAML,
    ".yml": FileFormat.YAML,
}
ACCEPTED = ", ".join(EXTENSIONS)  # ".csv, .xlsx, .yaml, .yml", for messages


def detect_format(filename: str) -> FileFormat | None:
    """The format an extension names (case-insensitive), or None for anything else."""
    return EXTENSIONS.get(PurePath(filename.strip()).suffix.lower())


@dataclass(frozen=True, slots=True)
class RawRow:
    """One data row as found in the file. `number` is what the user sees: the spreadsheet
    row for CSV/XLSX (the header is row 1, so data starts at 2), the item index from 1
    for YAML."""

    number: int
    values: Mapping[object, object] | None  # None: a YAML item that is not a mapping


@dataclass(frozen=True, slots=True)
class Table:
    format: FileFormat
    rows: list[RawRow] = field(default_factory=list)


def read_rows(data: bytes, fmt: FileFormat) -> Table:
    """Parse a file into raw rows; raises FileError for a file that is not a table of ours.
    In this process: a file from outside goes through bot.safe_reader.read_rows_safely."""
    if len(data) > MAX_BYTES:
        raise FileError("files.too_big", limit=MAX_BYTES // (1024 * 1024))
    if fmt is FileFormat.CSV:
        rows = _from_grid(_csv_grid(data))
    elif fmt is FileFormat.XLSX:
        rows = _from_grid(_xlsx_grid(data))
    else:
        rows = _yaml_rows(data)
    return Table(fmt, rows)


# --- CSV and XLSX: a grid of cells whose first row is the header -----------------------


def _decode(data: bytes) -> str:
    # Excel writes UTF-8 with a BOM ("CSV UTF-8"); Chinese Excel's plain "CSV" is GB18030
    # (a superset of GBK/GB2312). UTF-8 is tried first: GB18030 would "decode" almost
    # any bytes, so it is only the fallback.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise FileError("files.bad_encoding") from None


# The csv module's own field limit (131,072 characters, process-wide) is left alone; its
# error is recognised by this text and reported as a long cell.
_CSV_FIELD_LIMIT_ERROR = "field larger than field limit"


def _csv_grid(data: bytes) -> Iterable[tuple[int, Sequence[object]]]:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    # Excel in locales with a decimal comma saves CSV with semicolons.
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 0
    try:
        # reader.line_num counts physical lines (a quoted cell may span several), so the
        # row number is counted here: the n-th record is the n-th spreadsheet row.
        for number, cells in enumerate(reader, start=1):
            if len(cells) > MAX_COLUMNS:  # before anything looks at the cells
                raise FileError("files.too_many_columns", row=number, limit=MAX_COLUMNS)
            if "".join(cells).strip():  # blank rows skipped here, at C speed
                yield number, cells
    except csv.Error as exc:
        if _CSV_FIELD_LIMIT_ERROR in str(exc):
            raise FileError("files.cell_too_long", row=number + 1, limit=MAX_CELL_CHARS) from None
        raise FileError("files.bad_csv", line=reader.line_num, detail=str(exc)) from None


def _xlsx_grid(data: bytes) -> list[tuple[int, Sequence[object]]]:
    from openpyxl import load_workbook

    from bot.formats.xlsx_guard import check_archive

    check_archive(data)  # zip bombs and absurd sheets, before openpyxl unpacks anything
    grid: list[tuple[int, Sequence[object]]] = []
    # A damaged workbook can fail in many ways inside openpyxl (zip, XML, styles); all of
    # them mean the same to the user, so the whole read is guarded.
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0] if book.worksheets else None
            if sheet is not None:
                # openpyxl pads every sheet with empty rows up to its declared dimension;
                # the cells themselves say where the data ends.
                sheet.reset_dimensions()
            rows = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS) if sheet else ()
            for number, cells in enumerate(rows, start=1):
                if number > EXCEL_MAX_ROWS:  # a forged row number (r="999999999")
                    raise FileError("files.xlsx_dimension")
                if cells.count(None) == len(cells) or all(_blank(c) for c in cells):
                    continue  # kept out of memory: sheets often "use" a million empty rows
                grid.append((number, cells))
                if len(grid) > MAX_ROWS + 1:  # + the header
                    break
        finally:
            book.close()
    except FileError:
        raise
    except Exception:
        raise FileError("files.bad_xlsx") from None
    return grid


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _bounded(
    grid: Iterable[tuple[int, Sequence[object]]],
) -> Iterator[tuple[int, Sequence[object]]]:
    """The grid's rows, each checked for cell length and the running total of text."""
    text = 0
    for number, cells in grid:
        for cell in cells:
            if isinstance(cell, str):
                if len(cell) > MAX_CELL_CHARS:
                    raise FileError("files.cell_too_long", row=number, limit=MAX_CELL_CHARS)
                text += len(cell)
        if text > MAX_TEXT_CHARS:
            raise FileError("files.too_much_text", limit=f"{MAX_TEXT_CHARS:,}")
        yield number, cells


def _from_grid(grid: Iterable[tuple[int, Sequence[object]]]) -> list[RawRow]:
    iterator = iter(_bounded(grid))
    header: list[str] | None = None
    for _number, cells in iterator:
        if not all(_blank(c) for c in cells):
            header = [str(c).strip().lower() if c is not None else "" for c in cells]
            break
    if header is None:
        raise FileError("files.empty")
    _check_header(header)
    rows: list[RawRow] = []
    for number, cells in iterator:
        if all(_blank(c) for c in cells):
            continue  # Excel leaves empty rows at the end; they are not data
        if len(rows) >= MAX_ROWS:
            raise FileError("files.too_many_rows", limit=MAX_ROWS)
        rows.append(RawRow(number, _row_values(header, number, cells)))
    return rows


def _row_values(header: list[str], number: int, cells: Sequence[object]) -> dict[object, object]:
    """A row's cells by column name; a value under no column is refused (not dropped)."""
    for index in range(len(header), len(cells)):
        if not _blank(cells[index]):
            raise FileError("files.cell_without_header", row=number, column=index + 1)
    values: dict[object, object] = {}
    for index, name in enumerate(header):
        cell = cells[index] if index < len(cells) else None
        if name:
            values[name] = cell
        elif not _blank(cell):
            raise FileError("files.cell_without_header", row=number, column=index + 1)
    return values


def _check_header(header: list[str]) -> None:
    named = [name for name in header if name]
    duplicates = sorted({name for name in named if named.count(name) > 1})
    if duplicates:
        raise FileError("files.duplicate_columns", columns=", ".join(duplicates))
    missing = [name for name in REQUIRED_COLUMNS if name not in named]
    if missing:
        raise FileError("files.missing_columns", columns=", ".join(missing))
    # An unknown column is most likely a typo ("titel_en"): refusing it beats silently
    # dropping what the user meant to import.
    unknown = [name for name in named if name not in COLUMNS]
    if unknown:
        raise FileError(
            "files.unknown_columns", columns=", ".join(unknown), expected=", ".join(COLUMNS)
        )


# --- YAML: a list of mappings -------------------------------------------------------------


def _yaml_rows(data: bytes) -> list[RawRow]:
    text = _decode(data)
    try:
        _check_yaml_events(text)
        document = yaml.load(text, Loader=_YamlLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FileError("files.bad_yaml", line=line, detail=problem) from None
    except (ValueError, OverflowError):  # 2024-02-30, or a decimal integer of 5,000 digits
        raise FileError("files.bad_yaml_value") from None
    if document is None:
        raise FileError("files.empty")
    if not isinstance(document, list):
        raise FileError("files.yaml_not_list")
    if len(document) > MAX_ROWS:
        raise FileError("files.too_many_rows", limit=MAX_ROWS)
    _check_numbers(document)
    # An item that is not a mapping is kept (as None) so the validator reports its number.
    return [
        RawRow(number, item if isinstance(item, dict) else None)
        for number, item in enumerate(document, start=1)
    ]


def _check_numbers(document: list[object]) -> None:
    """Refuse an integer too long to print (0x followed by 5,000 digits, or 59:59:…:59):
    str() of it raises, so every later message about it would."""
    stack: list[object] = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise FileError("files.bad_yaml_value")
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list | tuple | set | frozenset):
            stack.extend(value)


def _check_yaml_events(text: str) -> None:
    """Refuse aliases, deep nesting, long scalars and too many items on the parser's event
    stream: nothing is built yet, so a "billion laughs" costs what its few bytes cost."""
    depth = 0
    items = 0
    root_is_list = False
    for event in yaml.parse(text, Loader=_YamlLoader):
        if isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue  # stream and document boundaries
        line = _check_node(event)
        if depth == 1 and root_is_list:
            items += 1
            if items > MAX_ROWS:
                raise FileError("files.too_many_rows", limit=MAX_ROWS)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth == 1:
                root_is_list = isinstance(event, yaml.SequenceStartEvent)
            if depth > MAX_YAML_DEPTH:
                raise FileError("files.yaml_too_deep", line=line, limit=MAX_YAML_DEPTH)


def _check_node(event: yaml.NodeEvent) -> int:
    """Refuse an alias or anchor and an over-long scalar; returns the event's line."""
    line = event.start_mark.line + 1 if event.start_mark is not None else 0
    # An anchor alone expands nothing, but it is there only to be aliased.
    if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
        raise FileError("files.yaml_alias", line=line)
    if isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_CELL_CHARS:
        raise FileError("files.yaml_value_too_long", line=line, limit=MAX_CELL_CHARS)
    return line


# --- Writing --------------------------------------------------------------------------------


def write_rows(rows: Sequence[Mapping[str, str]], fmt: FileFormat) -> bytes:
    """Serialise rows (every column a string, `COLUMNS` order) in the given format."""
    if fmt is FileFormat.CSV:
        return _write_csv(rows)
    if fmt is FileFormat.XLSX:
        return _write_xlsx(rows)
    return _write_yaml(rows)


def _write_csv(rows: Sequence[Mapping[str, str]]) -> bytes:
    # No formula guard: the file must import back unchanged.
    return spreadsheets.write_csv(COLUMNS, rows, guard_formulas=False)


def _write_xlsx(rows: Sequence[Mapping[str, str]]) -> bytes:
    widths = {"code": 18, "title_zh": 30, "title_en": 36, "summary_zh": 50, "summary_en": 50}
    return spreadsheets.write_xlsx(
        COLUMNS, rows, title="programs", widths=widths, numeric=frozenset({"owner_id"})
    )


class _Dumper(yaml.SafeDumper):
    """Multi-line texts as `|` blocks, so the file reads like the programme it describes."""


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)


def _write_yaml(rows: Sequence[Mapping[str, str]]) -> bytes:
    items: list[dict[str, object]] = []
    for row in rows:
        item: dict[str, object] = {}
        for name in COLUMNS:
            value = row.get(name, "")
            item[name] = int(value) if name == "owner_id" and value.isdigit() else value
        items.append(item)
    text = yaml.dump(
        items,
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=100,
    )
    return text.encode("utf-8")
