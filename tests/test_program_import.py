"""Programme import/export (CSV, XLSX, YAML) and the demo catalogue: service and CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.catalog.demo import load_demo
from bot.catalog.files import COLUMNS, RawRow, detect_format, read_rows, write_rows
from bot.catalog.imports import (
    ImportReport,
    ProgramRow,
    RowError,
    export_rows,
    import_programs,
    validate_row,
)
from bot.catalog.search import search_text_for
from bot.formats.spreadsheets import FileError, FileFormat
from storage.models import Department, Program, ProgramStatus, Role, User
from tests.constants import TOKEN

Sessions = async_sessionmaker[AsyncSession]

TRICKY = [
    {
        "code": "JR-LAB.01",
        "kind": "joint_research",
        "status": "open",
        "department_code": "SIE",
        "department_zh": "信息与智能工程学院",
        "department_en": "School of Information, and Intelligent Engineering",
        "title_zh": "智能制造联合实验室（“走出去、引进来”）",
        "title_en": 'Joint lab "Smart, Manufacturing" & <robots>',
        "summary_zh": "第一行，含逗号\n第二行：“引号”\n\n第四行",
        "summary_en": 'Line one, with a comma\nLine "two"\n  indented line three',
        "benefits_zh": "共享设备",
        "benefits_en": "=SUM(A1:A2) is text, not a formula",
        "tags": "智能制造, robotics, 机器视觉",
        "contact": "Room 305; tel. 022-0000 ext. 1",
        "owner_id": "",
    },
    {
        "code": "TT-1",
        "kind": "tech_transfer",
        "status": "draft",
        "department_code": "RES",
        "department_zh": "科研处",
        "department_en": "Research Office",
        "title_zh": "",
        "title_en": "Results transfer",
        "summary_zh": "",
        "summary_en": "Tab\tinside, and a trailing quote'",
        "benefits_zh": "",
        "benefits_en": "",
        "tags": "",
        "contact": "",
        "owner_id": "",
    },
    {
        "code": "inc_2",
        "kind": "incubation",
        "status": "closed",
        "department_code": "RES",
        "department_zh": "科研处",
        "department_en": "Research Office",
        "title_zh": "天开高教科创园孵化",
        "title_en": "",
        "summary_zh": "- 看起来像 YAML 列表\n# 看起来像注释\nkey: value",
        "summary_en": "yes",
        "benefits_zh": "123",
        "benefits_en": "1.50",
        "tags": "孵化",
        "contact": "@college",
        "owner_id": "",
    },
]


def as_file(rows: list[dict[str, str]], fmt: FileFormat) -> list[RawRow]:
    return read_rows(write_rows(rows, fmt), fmt).rows


async def run_import(sessions: Sessions, rows: list[RawRow]) -> ImportReport:
    async with sessions() as session, session.begin():
        return await import_programs(session, rows)


async def exported(sessions: Sessions) -> list[dict[str, str]]:
    async with sessions() as session:
        return await export_rows(session)


async def count(sessions: Sessions, model: type[Program] | type[Department]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def csv_bytes(text: str, encoding: str = "utf-8") -> list[RawRow]:
    return read_rows(text.encode(encoding), FileFormat.CSV).rows


# --- Round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FileFormat))
async def test_export_imports_back_unchanged(sessions: Sessions, fmt: FileFormat) -> None:
    async with sessions() as session, session.begin():
        session.add(User(id=4242, first_name="Teacher", language="zh", role=Role.TEACHER))
    rows = [dict(r) for r in TRICKY]
    rows[0]["owner_id"] = "4242"
    report = await run_import(sessions, as_file(rows, fmt))
    assert report.ok, [e.reason for e in report.errors]
    assert (report.created, report.updated, report.departments_created) == (3, 0, 2)
    first = await exported(sessions)
    assert first == sorted(rows, key=lambda r: r["code"])
    assert list(first[0]) == list(COLUMNS)
    again = await run_import(sessions, as_file(first, fmt))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert await exported(sessions) == first


def test_csv_is_utf8_with_bom_and_reads_gb18030() -> None:
    data = write_rows(TRICKY, FileFormat.CSV)
    assert data.startswith(b"\xef\xbb\xbf")
    header = "code,kind,department_code,title_zh\n"
    [row] = csv_bytes(header + "A,training,D,企业定制培训班\n", "gb18030")
    assert row.values is not None and row.values["title_zh"] == "企业定制培训班"
    [row] = csv_bytes("code;kind;department_code\nA;training;D\n")  # Excel in some locales
    assert row.values is not None and row.values["kind"] == "training"


def test_xlsx_numbers_and_blank_rows() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["code", "kind", "department_code", "title_en", "owner_id", None])
    sheet.append([2024, "training", "D", "Numbers", 4242.0, None])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["B", "training", "D", "Second", 7, None])
    out = io.BytesIO()
    book.save(out)
    rows = read_rows(out.getvalue(), FileFormat.XLSX).rows
    assert [r.number for r in rows] == [2, 4]
    first = validate_row(rows[0])
    assert isinstance(first, ProgramRow)
    assert (first.code, first.owner_id) == ("2024", 4242)


def test_detect_format() -> None:
    assert detect_format("Catalog.XLSX") is FileFormat.XLSX
    assert detect_format("a.yml") is FileFormat.YAML
    assert detect_format("a.csv") is FileFormat.CSV
    assert detect_format("a.xls") is None
    assert detect_format("csv") is None


# --- Rejections ------------------------------------------------------------------------------


async def test_bad_rows_are_all_reported_and_nothing_is_saved(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await load_demo(session)
    before = await exported(sessions)
    departments = await count(sessions, Department)
    text = (
        "code,kind,status,department_code,department_en,title_zh,title_en,owner_id\n"
        "NEW-OK,training,open,NEWDEPT,New department,新项目,New programme,\n"  # row 2: fine
        "TT-RESULTS,training,,RES,,,Renamed,\n"  # row 3: fine (an update)
        "BAD-KIND,foo,open,RES,,,x,\n"  # row 4
        "bad code!,training,open,RES,,,x,\n"  # row 5
        "NO-TITLE,training,open,RES,,,,\n"  # row 6
        "NEW-OK,training,open,RES,,,dup,\n"  # row 7
        "OWNER,training,open,RES,,,x,777\n"  # row 8
        "NONAME,training,open,NOBODY,,,x,\n"  # row 9
        "STATUS,training,gone,RES,,,x,abc\n"  # row 10: two problems
        f"LONG,training,open,RES,,,{'x' * 201},\n"  # row 11
    )
    report = await run_import(sessions, csv_bytes(text))
    assert not report.ok
    reasons = [(e.row, e.reason) for e in report.errors]
    assert reasons == [
        (4, "kind 'foo' is not one of joint_research, tech_transfer, internship, "
            "co_built_major, incubation, training, teacher_practice, expert_lecture"),
        (5, "code 'bad code!' must be 1–40 letters, digits, '_', '.' or '-'"),
        (6, "a programme needs a title: title_zh or title_en"),
        (7, "code 'NEW-OK' already appears in row 2"),
        (8, "owner_id 777: unknown user"),
        (9, "department 'NOBODY' is new and needs department_zh or department_en"),
        (10, "status 'gone' is not one of draft, open, closed"),
        (10, "owner_id 'abc' is not a Telegram user id"),
        (11, "title_en is too long (201 characters; at most 200)"),
    ]  # fmt: skip
    assert report.bad_rows == 8 and report.rows == 10
    assert await exported(sessions) == before
    assert await count(sessions, Department) == departments


async def test_yaml_items_are_numbered_from_one(sessions: Sessions) -> None:
    text = yaml.safe_dump(
        [
            {"code": "A", "kind": "training", "department_code": "D", "department_zh": "部门",
             "title_en": "ok"},
            "not a mapping",
            {"code": "B", "kind": "training", "department_code": "D", "title_en": "x",
             "titel_zh": "typo", "status": True},
        ]
    )  # fmt: skip
    report = await run_import(sessions, read_rows(text.encode(), FileFormat.YAML).rows)
    assert [(e.row, e.key) for e in report.errors] == [
        (2, "files.not_mapping"),
        (3, "files.unknown_item_columns"),
        (3, "files.not_text"),
    ]
    assert await count(sessions, Program) == 0


@pytest.mark.parametrize(
    ("data", "fmt", "key"),
    [
        (b"", FileFormat.CSV, "files.empty"),
        (b"code,title_en\nA,x\n", FileFormat.CSV, "files.missing_columns"),
        (b"code,kind,department_code,titel\nA,training,D,x\n", FileFormat.CSV,
         "files.unknown_columns"),
        (b"code,kind,department_code,code\n", FileFormat.CSV, "files.duplicate_columns"),
        (b"code,kind,department_code\nA,training,D,extra\n", FileFormat.CSV,
         "files.cell_without_header"),
        (b"\xff\xfe\x00\x81", FileFormat.CSV, "files.bad_encoding"),
        (b"not a zip", FileFormat.XLSX, "files.bad_xlsx"),
        (b"a: [1, 2", FileFormat.YAML, "files.bad_yaml"),
        (b"code: A\nkind: training\n", FileFormat.YAML, "files.yaml_not_list"),
        (b"x" * (5 * 1024 * 1024 + 1), FileFormat.CSV, "files.too_big"),
        (b"code,kind,department_code\n" + b"A,training,D\n" * 10_001, FileFormat.CSV,
         "files.too_many_rows"),
    ],
)  # fmt: skip
def test_file_level_errors(data: bytes, fmt: FileFormat, key: str) -> None:
    with pytest.raises(FileError) as caught:
        read_rows(data, fmt)
    assert caught.value.key == key


# --- Upsert rules ------------------------------------------------------------------------------


async def test_partial_columns_keep_stored_values(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await load_demo(session)
    text = "code,kind,department_code,status\nTT-RESULTS,tech_transfer,RES,closed\n"
    report = await run_import(sessions, csv_bytes(text))
    assert (report.updated, report.created) == (1, 0)
    async with sessions() as session:
        program = await session.scalar(select(Program).where(Program.code == "TT-RESULTS"))
    assert program is not None
    assert program.status is ProgramStatus.CLOSED
    assert program.title_zh == "科研成果转化服务" and program.summary_en


async def test_department_rename_refreshes_search_text(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await load_demo(session)
    text = (
        "code,kind,department_code,department_en\n"
        "TT-RESULTS,tech_transfer,RES,Office of Science and Technology\n"
    )
    report = await run_import(sessions, csv_bytes(text))
    assert report.ok
    async with sessions() as session:
        pairs = await session.execute(
            select(Program, Department).join(Department).where(Department.code == "RES")
        )
        for program, department in pairs:
            assert department.name_zh == "科研处"  # a name not given is kept
            assert "office of science and technology" in program.search_text
            assert program.search_text == search_text_for(program, department)


# --- Demo ----------------------------------------------------------------------------------------


async def test_demo_is_bilingual_and_idempotent(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        first = await load_demo(session)
    assert first.ok and 12 <= first.created <= 20 and first.departments_created >= 5
    async with sessions() as session, session.begin():
        second = await load_demo(session)
    assert (second.created, second.updated, second.unchanged) == (0, 0, first.created)
    assert await count(sessions, Program) == first.created
    rows = await exported(sessions)
    for row in rows:
        assert row["title_zh"] and row["title_en"] and row["summary_zh"] and row["summary_en"]
        assert row["owner_id"] == ""
    kinds = {row["kind"] for row in rows}
    assert {"joint_research", "tech_transfer", "incubation", "internship"} <= kinds
    assert {"teacher_practice", "training", "expert_lecture"} <= kinds
    assert any("天开高教科创园" in row["title_zh"] for row in rows)


# --- Properties -------------------------------------------------------------------------------

CELL = st.one_of(
    st.text(max_size=60),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.lists(st.text(max_size=10), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
KEYS = st.one_of(st.sampled_from(COLUMNS), st.text(max_size=12), st.integers())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=1, max_value=10_000), st.dictionaries(KEYS, CELL, max_size=18))
def test_validation_never_raises(number: int, values: dict[object, object]) -> None:
    result = validate_row(RawRow(number, values))
    if isinstance(result, list):
        assert result and all(isinstance(e, RowError) and e.row == number for e in result)
        for error in result:
            assert error.text("zh") and error.text("en", html=True)
    else:
        assert isinstance(result, ProgramRow)


SAFE_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), whitelist_characters="\n\t"), max_size=80
)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(FileFormat)), SAFE_TEXT, SAFE_TEXT, SAFE_TEXT)
def test_valid_values_survive_every_format(
    fmt: FileFormat, title: str, summary: str, tags: str
) -> None:
    raw: dict[object, object] = {
        "code": "A", "kind": "training", "department_code": "D", "title_en": title,
        "title_zh": "标题", "summary_en": summary, "tags": tags,
    }  # fmt: skip
    first = validate_row(RawRow(2, raw))
    if isinstance(first, list):
        return  # too long: rejected, which is fine
    stored = {name: getattr(first, name) or "" for name in ("title_en", "summary_en", "tags")}
    row = {name: "" for name in COLUMNS} | {"code": "A", "kind": "training"}
    row |= {"department_code": "D", "title_zh": "标题", **stored}
    [back] = read_rows(write_rows([row], fmt), fmt).rows
    again = validate_row(back)
    assert isinstance(again, ProgramRow)
    assert {name: getattr(again, name) or "" for name in stored} == stored


# --- The CLI -----------------------------------------------------------------------------------


def cli(tmp_path: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ADMIN_IDS", "LOG_LEVEL")}
    env |= {"BOT_TOKEN": TOKEN, "DATABASE_URL": db_url, "LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


async def test_cli_demo_export_import_roundtrip(tmp_path: Path, db_url: str) -> None:
    first = cli(tmp_path, db_url, "demo")
    assert first.returncode == 0, first.stderr
    assert "15 created" in first.stdout
    second = cli(tmp_path, db_url, "demo")
    assert "0 created, 0 updated, 15 unchanged" in second.stdout
    contents: dict[str, bytes] = {}
    for ext in ("csv", "xlsx", "yaml"):
        path = tmp_path / f"catalog.{ext}"
        result = cli(tmp_path, db_url, "programs", "export", str(path))
        assert result.returncode == 0, result.stderr
        assert "Exported 15 programmes" in result.stdout
        back = cli(tmp_path, db_url, "programs", "import", str(path))
        assert back.returncode == 0, back.stderr
        assert "0 created, 0 updated, 15 unchanged" in back.stdout
        if ext != "xlsx":  # an XLSX carries its creation time
            contents[ext] = path.read_bytes()
    for ext, data in contents.items():
        path = tmp_path / f"again.{ext}"
        assert cli(tmp_path, db_url, "programs", "export", str(path)).returncode == 0
        assert path.read_bytes() == data
    assert TOKEN not in first.stdout + first.stderr


async def test_cli_rejects_bad_file_and_saves_nothing(tmp_path: Path, db_url: str) -> None:
    assert cli(tmp_path, db_url, "demo").returncode == 0
    before = tmp_path / "before.yaml"
    assert cli(tmp_path, db_url, "programs", "export", str(before)).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "code,kind,department_code,title_en\n"
        "TT-RESULTS,tech_transfer,RES,Renamed\n"
        "X1,unknown,RES,x\n",
        encoding="utf-8-sig",
    )
    result = cli(tmp_path, db_url, "programs", "import", str(bad))
    assert result.returncode == 1
    assert "Row 3: kind 'unknown' is not one of" in result.stderr
    assert "Nothing was saved" in result.stderr
    after = tmp_path / "after.yaml"
    assert cli(tmp_path, db_url, "programs", "export", str(after)).returncode == 0
    assert after.read_bytes() == before.read_bytes()
    wrong = cli(tmp_path, db_url, "programs", "import", str(tmp_path / "catalog.xls"))
    assert wrong.returncode == 2 and "unknown file type" in wrong.stderr


def test_cli_help_lists_programs_and_demo(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "programs" in result.stdout and "demo" in result.stdout
