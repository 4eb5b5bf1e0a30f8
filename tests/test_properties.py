"""Properties of every parser of outside input, beyond the totality checks already in
tests/test_parsers.py, tests/test_timeparse.py and tests/test_program_import.py:
round trips (encode → decode gives the value back), documented error types only, and
normalisations that are idempotent."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.catalog.files import COLUMNS, RawRow, read_rows, write_rows
from bot.catalog.imports import ProgramRow, export_rows, import_programs, validate_row
from bot.catalog.search import MAX_QUERY_CHARS, clean_query
from bot.formats import validate
from bot.formats.spreadsheets import FileError, FileFormat
from bot.formats.timeparse import format_echo, parse_when
from bot.forms.engine import typed_text
from bot.settings import parse_duration
from bot.ui.callbacks import MAX_BYTES, Callback, cb, parse
from bot.ui.deeplinks import Payload, make_payload, parse_payload
from bot.ui.errors import FieldError
from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import ProgramKind, ProgramStatus
from tests.databases import sqlite_url

MODEST = settings(max_examples=200, deadline=None)
PART = st.from_regex(r"[A-Za-z0-9_.\-]{1,40}", fullmatch=True)
ANY_TEXT = st.text(max_size=120) | st.binary(max_size=120).map(lambda b: b.decode("latin-1"))


# --- callback data ------------------------------------------------------------------------


@MODEST
@given(PART, PART, st.lists(PART, max_size=6))
def test_callback_pack_parse_roundtrip(ns: str, action: str, args: list[str]) -> None:
    """Packing gives at most 64 bytes or a ValueError, and parsing gives the value back."""
    value = Callback(ns, action, tuple(args))
    try:
        data = value.pack()
    except ValueError:
        assert len(":".join((ns, action, *args)).encode()) > MAX_BYTES
        return
    assert len(data.encode()) <= MAX_BYTES
    assert parse(data) == value
    assert cb(ns, action, *args) == data


@MODEST
@given(ANY_TEXT, ANY_TEXT, st.lists(ANY_TEXT, max_size=3))
def test_callback_pack_refuses_with_value_error_only(ns: str, action: str, args: list[str]) -> None:
    try:
        data = cb(ns, action, *args)
    except ValueError:
        return
    assert len(data.encode()) <= MAX_BYTES and parse(data) == Callback(ns, action, tuple(args))


@MODEST
@given(PART, PART, st.lists(st.integers() | PART, max_size=3))
def test_callback_int_arg_is_a_bigint_or_none(ns: str, action: str, args: list[int | str]) -> None:
    value = Callback(ns, action, tuple(str(a) for a in args))
    for index in range(len(args) + 1):
        number = value.int_arg(index)
        assert number is None or 0 <= number < 2**63  # fits the database's BIGINT


# --- deep links ---------------------------------------------------------------------------

KIND = st.from_regex(r"[A-Za-z0-9\-]{1,10}", fullmatch=True)
VALUE = st.from_regex(r"[A-Za-z0-9_\-]{1,50}", fullmatch=True)


@MODEST
@given(KIND, VALUE)
def test_deeplink_roundtrip(kind: str, value: str) -> None:
    payload = make_payload(kind, value)
    assert len(payload) <= 64
    assert parse_payload(payload) == Payload(kind, value)


@MODEST
@given(ANY_TEXT, ANY_TEXT)
def test_deeplink_make_refuses_with_value_error_only(kind: str, value: str) -> None:
    try:
        payload = make_payload(kind, value)
    except ValueError:
        return
    assert parse_payload(payload) == Payload(kind, value)


# --- phone numbers and email addresses ----------------------------------------------------

SEPARATOR = st.sampled_from(["", " ", "-", ".", "\u3000", "－"])


@st.composite
def typed_phones(draw: st.DrawFn) -> tuple[str, str]:
    """A phone number as people type it, and its digits as they should be stored."""
    digits = draw(st.from_regex(r"[0-9]{6,15}", fullmatch=True))
    plus = draw(st.sampled_from(["", "+", "＋"]))
    cut = draw(st.integers(0, len(digits)))
    head, tail = digits[:cut], digits[cut:]
    if head and draw(st.booleans()):
        head = f"({head})"
    typed = f"{plus}{head}{draw(SEPARATOR)}{tail}"
    return typed, ("+" if plus else "") + digits


@MODEST
@given(typed_phones())
def test_valid_phones_are_accepted_and_normalised_idempotently(case: tuple[str, str]) -> None:
    typed, stored = case
    assume(len(typed) <= 40)
    assert validate.phone(typed) == stored
    assert validate.phone(stored) == stored


LOCAL = st.from_regex(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\.[A-Za-z0-9_+-]{1,10}){0,2}", fullmatch=True
)
LABEL = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True)


@MODEST
@given(LOCAL, st.lists(LABEL, min_size=1, max_size=3), st.sampled_from(["com", "CN", "Example"]))
def test_valid_emails_are_accepted_and_normalised_idempotently(
    local: str, labels: list[str], tld: str
) -> None:
    address = f"{local}@{'.'.join(labels)}.{tld}"
    stored = validate.email(f"  {address} ")
    assert stored == f"{local}@{'.'.join(labels).lower()}.{tld.lower()}"  # local part kept
    assert validate.email(stored) == stored


@MODEST
@given(st.emails())
def test_emails_hypothesis_makes_are_accepted_or_refused_cleanly(address: str) -> None:
    try:
        stored = validate.email(address)
    except FieldError as refusal:
        assert refusal.key == "profile.bad_email"
    else:
        assert validate.email(stored) == stored


@MODEST
@given(ANY_TEXT, st.integers(1, 300))
def test_short_and_long_texts(text: str, limit: int) -> None:
    try:
        short = validate.short_text(limit)(text)
    except FieldError as refusal:
        assert refusal.key == "form.too_long"
    else:
        assert len(short) <= limit and validate.short_text(limit)(short) == short
    # Long texts are refused over the limit, never cut (they must reach their reader whole).
    try:
        long = validate.long_text(limit)(text)
    except FieldError as refusal:
        length = refusal.values["length"]
        assert refusal.key == "form.too_long" and isinstance(length, int) and length > limit
    else:
        assert long == text.strip() and len(long) <= limit


# --- typed text and search queries ------------------------------------------------------


@MODEST
@given(ANY_TEXT)
def test_typed_text_keeps_no_control_characters(text: str) -> None:
    cleaned = typed_text(text)
    assert all(c in "\n\t" or unicodedata.category(c) != "Cc" for c in cleaned)
    assert "\x00" not in cleaned and typed_text(cleaned) == cleaned


@MODEST
@given(ANY_TEXT)
def test_search_queries_are_clean_short_and_stable(text: str) -> None:
    query = clean_query(text)
    assert len(query) <= MAX_QUERY_CHARS
    assert not any(unicodedata.category(c) == "Cc" for c in query)
    assert query == query.strip()


# --- durations (REMINDER_OFFSETS) ---------------------------------------------------------


@MODEST
@given(st.integers(1, 10_000), st.sampled_from(["m", "min", "h", "d", "w"]))
def test_duration_roundtrip(number: int, unit: str) -> None:
    seconds = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f" {number}{unit.upper()} ") == timedelta(seconds=number * seconds)


@MODEST
@given(ANY_TEXT)
def test_duration_refuses_with_value_error_only(text: str) -> None:
    try:
        value = parse_duration(text)
    except ValueError:
        return
    assert value > timedelta(0)


# --- due times ----------------------------------------------------------------------------

ZONES = st.sampled_from(
    [ZoneInfo(z) for z in ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "UTC",
                           "Australia/Lord_Howe", "Pacific/Kiritimati")]
)  # fmt: skip
NOWS = st.datetimes(datetime(2001, 1, 1), datetime(2080, 12, 31), timezones=st.just(UTC))


@MODEST
@given(NOWS, ZONES, st.integers(2, 4 * 365 * 24 * 60), st.sampled_from(["en", "zh"]))
def test_a_typed_date_and_time_reads_back_as_that_moment(
    now: datetime, tz: ZoneInfo, minutes_ahead: int, lang: str
) -> None:
    """ "YYYY-MM-DD HH:MM" in the local zone is that wall time (fold=0, as documented)."""
    wall = (now.astimezone(tz) + timedelta(minutes=minutes_ahead)).replace(tzinfo=None)
    wall = wall.replace(second=0, microsecond=0)
    expected = wall.replace(tzinfo=tz).astimezone(UTC)
    assume(expected >= now)  # a wall time in a skipped hour may land before `now`
    text = wall.strftime("%Y-%m-%d %H:%M")
    assert parse_when(text, now=now, tz=tz, lang=lang) == expected
    assert format_echo(expected, lang, tz)  # the echo never fails either


# --- programme files: generated records survive export → import -------------------------

CODE = st.from_regex(r"[A-Za-z0-9_.\-]{1,20}", fullmatch=True)
LINE = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029"),
    max_size=60,
)
LINES = st.lists(LINE, max_size=3).map("\n".join)


@st.composite
def program_records(draw: st.DrawFn) -> dict[str, str]:
    return {
        "code": draw(CODE),
        "kind": draw(st.sampled_from(list(ProgramKind))).value,
        "status": draw(st.sampled_from(list(ProgramStatus))).value,
        "department_code": draw(st.sampled_from(["ME", "EC", "D-1"])),
        "department_zh": draw(LINE),
        "department_en": "Dept " + draw(LINE),  # a new department needs a name
        "title_zh": draw(LINE),
        "title_en": "Title " + draw(LINE),  # never blank: a title is required
        "summary_zh": draw(LINES),
        "summary_en": draw(LINES),
        "benefits_zh": draw(LINES),
        "benefits_en": draw(LINES),
        "tags": ", ".join(draw(st.lists(LINE, max_size=4))),
        "contact": draw(LINE),
        "owner_id": "",
    }


def as_row(record: dict[str, str]) -> dict[str, str]:
    """The record as the exporter writes it: every column, in COLUMNS order."""
    return {name: record.get(name, "") for name in COLUMNS}


def raw_row(number: int, row: Mapping[str, str]) -> RawRow:
    """A row of our columns as read from a file (RawRow takes any keys: YAML's may be
    numbers)."""
    return RawRow(number, dict[object, object](row.items()))


def comparable(result: ProgramRow | Sequence[object]) -> ProgramRow:
    assert isinstance(result, ProgramRow), result
    return ProgramRow(**{**{f: getattr(result, f) for f in result.__slots__}, "row": 0})


@MODEST
@given(st.sampled_from(list(FileFormat)), st.lists(program_records(), min_size=1, max_size=4))
def test_generated_rows_survive_every_file_format(
    fmt: FileFormat, records: list[dict[str, str]]
) -> None:
    first = [validate_row(raw_row(n, as_row(r))) for n, r in enumerate(records, start=2)]
    assume(all(isinstance(r, ProgramRow) for r in first))
    back = read_rows(write_rows([as_row(r) for r in records], fmt), fmt).rows
    assert [comparable(validate_row(raw)) for raw in back] == [comparable(r) for r in first]


@MODEST
@given(st.binary(max_size=400), st.sampled_from(list(FileFormat)))
def test_any_bytes_read_as_rows_or_a_file_error(data: bytes, fmt: FileFormat) -> None:
    try:
        table = read_rows(data, fmt)
    except FileError:
        return
    for raw in table.rows:
        validate_row(raw)  # and a row never raises either


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One migrated SQLite file for the round-trip examples (each uses its own codes).
    SQLite only: PostgreSQL's export → import round trip is the CLI test in
    tests/test_program_import.py; this one is about the values, many times over."""
    url = sqlite_url(tmp_path_factory.mktemp("props"))

    async def migrate() -> None:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    return url


_round = iter(range(10**9))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from(list(FileFormat)), st.lists(program_records(), min_size=1, max_size=4))
def test_generated_records_roundtrip_through_the_database(
    migrated_sqlite: str, fmt: FileFormat, records: list[dict[str, str]]
) -> None:
    """import → export → file → import again: the second import changes nothing and the
    export is the same."""
    prefix = f"R{next(_round)}-"
    rows = [as_row(dict(r, code=prefix + r["code"])) for r in records]
    codes = {r["code"] for r in rows}
    assume(len(codes) == len(rows))
    raws = [raw_row(n, r) for n, r in enumerate(rows, start=2)]
    assume(all(isinstance(validate_row(raw), ProgramRow) for raw in raws))

    async def roundtrip() -> None:
        engine = create_engine(migrated_sqlite)
        sessions = create_session_factory(engine)
        try:
            async with sessions() as session, session.begin():
                report = await import_programs(session, raws)
                assert not report.errors, [e.reason for e in report.errors]
            async with sessions() as session:
                exported = [r for r in await export_rows(session) if r["code"] in codes]
            again = read_rows(write_rows(exported, fmt), fmt).rows
            async with sessions() as session, session.begin():
                second = await import_programs(session, again)
                assert not second.errors, [e.reason for e in second.errors]
                assert second.unchanged == len(rows), second
            async with sessions() as session:
                assert [r for r in await export_rows(session) if r["code"] in codes] == exported
        finally:
            await engine.dispose()

    asyncio.run(roundtrip())
