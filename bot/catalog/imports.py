"""Programme import and export: every row validated, then all saved or nothing.

Decisions (from the issue), recorded here because the code depends on them:
- Import upserts by the stable key `code`: a known code updates that programme, a new code
  creates one. Departments are upserted by `department_code` the same way; their names are
  updated when the row gives them, and a new department needs at least one name. When
  several rows name one department differently, the last row wins.
- All or nothing: every row is checked (including the checks that need the database:
  owners exist, new departments are named, the merged programme has a title) before
  anything is written. If any row is bad, nothing is added to the session and the report
  lists every bad row with its number as the user sees it in the file.
- A blank `status` means "open". A column missing from the file (a YAML item without that
  key, a CSV without that column) leaves the stored value alone on update, so a file with
  just `code, kind, department_code, status` can close programmes; a blank cell in a
  present column clears the value.
- Values are normalised the same way on every import (trimmed, CR LF → LF, single-line
  fields on one line, tags joined with ", "), so an export imports back unchanged.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from html import escape
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.catalog.files import COLUMNS, RawRow
from bot.catalog.search import search_text_for
from bot.people import audit
from bot.people.audit import Action
from bot.ui.i18n import t
from bot.ui.text import clip_text
from storage import programs_io as repo
from storage.models import Department, Program, ProgramKind, ProgramStatus, utcnow

CODE_RE = re.compile(r"[A-Za-z0-9_.\-]{1,40}")
MAX_TITLE = 200
MAX_NAME = 200  # departments.name_zh / name_en
MAX_TEXT = 4000
MAX_TAGS = 500
MAX_CONTACT = 300
MAX_USER_ID = 2**63 - 1  # BIGINT
TAG_SPLIT = re.compile(r"[,，、;；\n]")
T = TypeVar("T")
SHOWN_VALUE_CHARS = 40  # how much of a bad value an error message repeats
YIELD_EVERY = 200  # rows between two turns given to the event loop while saving

SINGLE_LINE_LIMITS: Mapping[str, int] = {
    "department_zh": MAX_NAME,
    "department_en": MAX_NAME,
    "title_zh": MAX_TITLE,
    "title_en": MAX_TITLE,
    "contact": MAX_CONTACT,
}
MULTI_LINE = ("summary_zh", "summary_en", "benefits_zh", "benefits_en")
# The programme columns copied onto Program attributes of the same name.
PROGRAM_TEXTS = (
    "title_zh",
    "title_en",
    "summary_zh",
    "summary_en",
    "benefits_zh",
    "benefits_en",
    "tags",
    "contact",
)


@dataclass(frozen=True, slots=True)
class RowError:
    """Why row `row` was rejected: a message key and its values (rendered per language)."""

    row: int
    key: str
    values: Mapping[str, object] = field(default_factory=dict)

    def text(self, lang: str = "en", *, html: bool = False) -> str:
        return render(self.key, self.values, lang, html=html)

    @property
    def reason(self) -> str:
        return self.text("en")


@dataclass(frozen=True, slots=True)
class ProgramRow:
    """A valid row. None means "column not in the file": keep what is stored (see above)."""

    row: int
    code: str
    kind: ProgramKind
    department_code: str
    status: ProgramStatus | None = None
    department_zh: str | None = None  # None also when blank: names are only ever set
    department_en: str | None = None
    title_zh: str | None = None
    title_en: str | None = None
    summary_zh: str | None = None
    summary_en: str | None = None
    benefits_zh: str | None = None
    benefits_en: str | None = None
    tags: str | None = None
    contact: str | None = None
    owner_given: bool = False
    owner_id: int | None = None


@dataclass
class ImportReport:
    rows: int = 0  # data rows in the file
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    departments_created: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})


def render(key: str, values: Mapping[str, object], lang: str, *, html: bool = False) -> str:
    """A message with its values; for HTML replies the values (file content) are escaped."""
    shown = {name: escape(str(v)) if html else str(v) for name, v in values.items()}
    return t(lang, key, **shown)


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = "".join(c if c.isprintable() else "�" for c in text)
    return clip_text(text, SHOWN_VALUE_CHARS)


# --- One row ---------------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values


def _scalar_text(column: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # YAML's yes/no/on/off: surely not what was meant
        raise _Bad("files.not_text", column=column, value=_shown(value))
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores every number as a float
    if isinstance(value, int | float | date | datetime):
        return str(value)
    raise _Bad("files.not_text", column=column, value=_shown(value))


def _clean(column: str, value: object, *, multi_line: bool) -> str:
    if column == "tags" and isinstance(value, list | tuple):  # YAML may give a list
        text = ", ".join(_scalar_text(column, item) for item in value)
    else:
        text = _scalar_text(column, value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for char in text:
        if char not in "\n\t" and unicodedata.category(char) in ("Cc", "Cs"):
            raise _Bad("files.control_chars", column=column)
    if multi_line:
        return text.strip()
    return " ".join(text.split())


def _limit(column: str, text: str, limit: int) -> str:
    if len(text) > limit:
        raise _Bad("files.too_long", column=column, length=len(text), limit=limit)
    return text


def _code(column: str, text: str) -> str:
    if not text:
        raise _Bad("files.required", column=column)
    if not CODE_RE.fullmatch(text):
        raise _Bad("files.code_invalid", column=column, value=_shown(text))
    return text


def _kind(text: str) -> ProgramKind:
    key = text.lower().replace("-", "_").replace(" ", "_")
    if not key:
        raise _Bad("files.required", column="kind")
    try:
        return ProgramKind(key)
    except ValueError:
        allowed = ", ".join(k.value for k in ProgramKind)
        raise _Bad("files.kind_invalid", value=_shown(text), allowed=allowed) from None


def _status(text: str) -> ProgramStatus:
    if not text:
        return ProgramStatus.OPEN
    try:
        return ProgramStatus(text.lower())
    except ValueError:
        allowed = ", ".join(s.value for s in ProgramStatus)
        raise _Bad("files.status_invalid", value=_shown(text), allowed=allowed) from None


def _tags(text: str) -> str:
    seen: list[str] = []
    for part in TAG_SPLIT.split(text):
        tag = " ".join(part.split())
        if tag and tag not in seen:
            seen.append(tag)
    return _limit("tags", ", ".join(seen), MAX_TAGS)


def _owner(value: object) -> int | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = _clean("owner_id", value, multi_line=False)
        if not text:
            return None
        if not text.isascii() or not text.isdigit():
            raise _Bad("files.owner_invalid", value=_shown(text))
        number = int(text)
    if not 0 < number <= MAX_USER_ID:
        raise _Bad("files.owner_invalid", value=_shown(str(number)))
    return number


def _single(column: str, value: object, limit: int) -> str:
    return _limit(column, _clean(column, value, multi_line=False), limit)


def _multi(column: str, value: object) -> str:
    return _limit(column, _clean(column, value, multi_line=True), MAX_TEXT)


def _columns(raw: Mapping[object, object]) -> tuple[dict[str, object], list[str]]:
    values: dict[str, object] = {}
    unknown: list[str] = []
    for key, value in raw.items():
        name = key.strip().lower() if isinstance(key, str) else None
        if name in COLUMNS:
            values[name] = value
        else:
            unknown.append(_shown(key))
    return values, unknown


def validate_row(raw: RawRow) -> ProgramRow | list[RowError]:
    """Check one row's own values (nothing that needs the database). Never raises."""
    if raw.values is None:
        return [RowError(raw.number, "files.not_mapping")]
    values, unknown = _columns(raw.values)
    errors: list[RowError] = []
    if unknown:
        errors.append(
            RowError(raw.number, "files.unknown_item_columns", {"columns": ", ".join(unknown)})
        )

    def attempt(parse: Callable[..., T], *args: object) -> T | None:
        try:
            return parse(*args)
        except _Bad as bad:
            errors.append(RowError(raw.number, bad.key, bad.values))
            return None

    def text(column: str) -> str:
        return _clean(column, values.get(column), multi_line=False)

    code = attempt(lambda: _code("code", text("code")))
    kind = attempt(lambda: _kind(text("kind")))
    department = attempt(lambda: _code("department_code", text("department_code")))
    status = attempt(lambda: _status(text("status"))) if "status" in values else None
    texts = {column: attempt(parse) for column, parse in _text_parsers(values).items()}
    owner = attempt(_owner, values["owner_id"]) if "owner_id" in values else None
    if errors or code is None or kind is None or department is None:
        return errors
    return ProgramRow(
        row=raw.number,
        code=code,
        kind=kind,
        department_code=department,
        status=status,
        # A blank department name never erases a stored one: names are only ever set.
        department_zh=texts.pop("department_zh", None) or None,
        department_en=texts.pop("department_en", None) or None,
        owner_given="owner_id" in values,
        owner_id=owner,
        **texts,
    )


def _text_parsers(values: Mapping[str, object]) -> dict[str, Callable[[], str]]:
    """For each text column the row has, how to read it (a column it lacks is kept)."""
    parsers: dict[str, Callable[[], str]] = {}
    for column, limit in SINGLE_LINE_LIMITS.items():
        if column in values:
            parsers[column] = partial(_single, column, values[column], limit)
    for column in MULTI_LINE:
        if column in values:
            parsers[column] = partial(_multi, column, values[column])
    if "tags" in values:
        parsers["tags"] = partial(
            lambda v: _tags(_clean("tags", v, multi_line=False)), values["tags"]
        )
    return parsers


# --- The whole file --------------------------------------------------------------------------


def _validate_all(rows: Iterable[RawRow]) -> tuple[list[ProgramRow], list[RowError]]:
    valid: list[ProgramRow] = []
    errors: list[RowError] = []
    first_row: dict[str, int] = {}
    for raw in rows:
        result = validate_row(raw)
        if isinstance(result, list):
            errors += result
            continue
        if result.code in first_row:
            # Two rows for one code would make the result depend on row order: refuse.
            values = {"value": result.code, "first": first_row[result.code]}
            errors.append(RowError(raw.number, "files.code_repeated", values))
            continue
        first_row[result.code] = raw.number
        valid.append(result)
    return valid, errors


def _department_names(rows: Sequence[ProgramRow]) -> dict[str, tuple[str | None, str | None]]:
    """The names each department code is given in the file; the last row naming it wins."""
    names: dict[str, tuple[str | None, str | None]] = {}
    for row in rows:
        zh, en = names.get(row.department_code, (None, None))
        names[row.department_code] = (row.department_zh or zh, row.department_en or en)
    return names


def _merged_title(row: ProgramRow, stored: Program | None) -> bool:
    zh = row.title_zh if row.title_zh is not None else (stored.title_zh if stored else "")
    en = row.title_en if row.title_en is not None else (stored.title_en if stored else "")
    return bool(zh or en)


async def import_programs(
    session: AsyncSession, rows: Sequence[RawRow], *, actor_id: int | None = None,
    source: str = "",
) -> ImportReport:  # fmt: skip
    """Validate every row, then upsert them all; with any error, nothing is written.

    The caller owns the transaction (commits on success). Nothing touches the session
    before every check has passed, so a rejected file leaves no trace even if the caller
    commits anyway. An accepted import is audited (`actor_id` None: the command line).
    """
    # The row checks are pure Python and take seconds for 10,000 rows: in a thread, so
    # the event loop (everyone else's answers) gets its turns meanwhile.
    valid, errors = await asyncio.to_thread(_validate_all, rows)
    names = _department_names(valid)
    departments = await repo.departments_by_codes(session, list(names))
    programs = await repo.programs_by_codes(session, [r.code for r in valid])
    owner_ids = {r.owner_id for r in valid if r.owner_id is not None}
    known_users = await repo.existing_user_ids(session, owner_ids)
    for row in valid:
        if row.owner_id is not None and row.owner_id not in known_users:
            errors.append(RowError(row.row, "files.unknown_user", {"value": row.owner_id}))
        if row.department_code not in departments and names[row.department_code] == (None, None):
            errors.append(
                RowError(row.row, "files.department_needs_name", {"value": row.department_code})
            )
        if not _merged_title(row, programs.get(row.code)):
            errors.append(RowError(row.row, "files.title_missing"))
    if errors:
        return ImportReport(rows=len(rows), errors=sorted(errors, key=lambda e: e.row))
    report = await _apply(session, valid, names, departments, programs)
    report.rows = len(rows)
    await audit.record(
        session, actor_id, Action.PROGRAMS_IMPORT, "programs", _summary(report, source)
    )
    return report


def _summary(report: ImportReport, source: str) -> str:
    counts = (
        f"{report.rows} rows: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.departments_created} new departments"
    )
    return f"{source}: {counts}" if source else counts


async def _apply(
    session: AsyncSession,
    rows: Sequence[ProgramRow],
    names: Mapping[str, tuple[str | None, str | None]],
    departments: dict[str, Department],
    programs: Mapping[str, Program],
) -> ImportReport:
    report = ImportReport()
    now = utcnow()
    renamed = await _upsert_departments(session, names, departments, report)
    added: list[Program] = []
    for number, row in enumerate(rows, start=1):
        if number % YIELD_EVERY == 0:
            await asyncio.sleep(0)  # let other updates in between
        department = departments[row.department_code]
        program = programs.get(row.code)
        if program is None:
            program = _new_program(row, now)
            added.append(program)
            _assign(program, row, department)
            report.created += 1
        elif _assign(program, row, department):
            report.updated += 1
        else:
            report.unchanged += 1
            continue
        program.search_text = search_text_for(program, department)
        program.updated_at = now
    for start in range(0, len(added), YIELD_EVERY):  # flushed in parts, for the same reason
        await repo.add_programs(session, added[start : start + YIELD_EVERY])
        await asyncio.sleep(0)
    # Department names are part of every programme's search text, including programmes
    # this file did not mention (or mentioned without changing them).
    for program, department in await repo.programs_in_departments(session, renamed):
        text = search_text_for(program, department)
        if program.search_text != text:
            program.search_text, program.updated_at = text, now
    await session.flush()
    return report


async def _upsert_departments(
    session: AsyncSession,
    names: Mapping[str, tuple[str | None, str | None]],
    departments: dict[str, Department],
    report: ImportReport,
) -> set[int]:
    """Add the new departments, rename the known ones (a name given wins, a blank one
    keeps what is stored); `departments` then holds them all. Returns the renamed ids."""
    new_departments = [
        Department(code=code, name_zh=zh or "", name_en=en or "")
        for code, (zh, en) in names.items()
        if code not in departments
    ]
    await repo.add_departments(session, new_departments)
    report.departments_created = len(new_departments)
    renamed: set[int] = set()
    for department in departments.values():
        zh, en = names[department.code]
        zh, en = zh or department.name_zh, en or department.name_en
        if (zh, en) != (department.name_zh, department.name_en):
            department.name_zh, department.name_en = zh, en
            renamed.add(department.id)
    departments.update({d.code: d for d in new_departments})
    return renamed


def _new_program(row: ProgramRow, now: datetime) -> Program:
    program = Program(code=row.code, status=ProgramStatus.OPEN, owner_id=None)
    for name in PROGRAM_TEXTS:
        setattr(program, name, "")
    program.created_at = now
    return program


def _assign(program: Program, row: ProgramRow, department: Department) -> bool:
    """Copy the row's given values onto the programme; True if anything changed."""
    wanted: dict[str, object] = {"kind": row.kind, "department_id": department.id}
    if row.status is not None:
        wanted["status"] = row.status
    for name in PROGRAM_TEXTS:
        value = getattr(row, name)
        if value is not None:
            wanted[name] = value
    if row.owner_given:
        wanted["owner_id"] = row.owner_id
    changed = False
    for name, value in wanted.items():
        if getattr(program, name) != value:
            setattr(program, name, value)
            changed = True
    return changed


async def export_rows(session: AsyncSession) -> list[dict[str, str]]:
    """Every programme as a row of strings in `COLUMNS` order, ordered by code."""
    rows: list[dict[str, str]] = []
    for program, department in await repo.programs_with_departments(session):
        values: dict[str, object] = {
            "code": program.code,
            "kind": program.kind.value,
            "status": program.status.value,
            "department_code": department.code,
            "department_zh": department.name_zh,
            "department_en": department.name_en,
            "owner_id": "" if program.owner_id is None else program.owner_id,
        }
        values.update({name: getattr(program, name) for name in PROGRAM_TEXTS})
        rows.append({name: str(values[name] or "") for name in COLUMNS})
    # Sorted here, not only in SQL: PostgreSQL's collation and SQLite's byte order differ.
    rows.sort(key=lambda r: r["code"])
    return rows
