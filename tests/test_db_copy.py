"""Moving house: `partnerbot db copy --from OLD.sqlite3` into the database of DATABASE_URL
(PostgreSQL, and SQLite too), run as the operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcasts import service as broadcasts
from bot.inquiries import service as inquiries
from bot.next_steps import service as next_steps
from bot.people.identity import TelegramProfile, recognize
from bot.people.person import Person
from bot.settings import Settings
from storage import forms as forms_repo
from storage import inquiries as inquiries_repo
from storage.copy import tables
from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import (
    Department,
    EngineMark,
    EnterpriseProfile,
    Invite,
    OutboxMessage,
    Role,
    User,
    utcnow,
)
from tests.constants import ADMIN_ID, TOKEN
from tests.seed import add_teacher, seed_catalog

TEACHER_ID, CONTACT_ID = 7001, 7002
# Every table the seed below must fill, so the comparison is not vacuous.
SEEDED = {
    "users", "invites", "departments", "programs", "saved_searches", "form_drafts", "outbox",
    "enterprise_profiles", "inquiries", "inquiry_events", "interest_basket", "next_steps",
    "reminders", "engine_marks", "broadcasts",
}  # fmt: skip


async def seed_everything(engine: AsyncEngine, settings: Settings) -> None:
    """A small but complete database, built through the services where they are quick."""
    sessions = create_session_factory(engine)
    program_ids = await seed_catalog(sessions, count=5)
    await add_teacher(sessions, TEACHER_ID, "王老师")
    now = utcnow()
    async with sessions() as session, session.begin():
        session.add(User(id=ADMIN_ID, first_name="Admin", language="en", role=Role.ADMIN))
        contact = await recognize(
            session,
            TelegramProfile(CONTACT_ID, "张<b>伟</b>", "Zhang", "zw", "zh-hans"),
            default_language="en",
            admin_ids=settings.admin_ids,
        )
        session.add(
            Invite(token="tok-123", role=Role.TEACHER, created_by=ADMIN_ID, created_at=now,
                   expires_at=now + timedelta(days=3))
        )  # fmt: skip
        session.add(EngineMark(key="digest:2026-11-27"))
    async with sessions() as session, session.begin():
        await inquiries_repo.put_profile(
            session,
            EnterpriseProfile(user_id=CONTACT_ID, organization="天津某某科技有限公司",
                              contact_person="张伟", phone="+86 22 0000 0000",
                              email="zw@example.cn", consent_at=now),
        )  # fmt: skip
        await inquiries_repo.add_to_basket(session, CONTACT_ID, program_ids[2])
        await forms_repo.save_search(session, CONTACT_ID, "智能 制造")
        await forms_repo.put_draft(session, CONTACT_ID, "ask", "message", {"text": "半填 & <x>"})
        result = await inquiries.register_interest(
            session, settings, contact, [program_ids[0], program_ids[1]], "We'd like to join 🙂"
        )
    admin = Person(ADMIN_ID, "Admin", "en", Role.ADMIN)
    async with sessions() as session, session.begin():
        await next_steps.create(
            session, settings, admin, inquiry_id=result.created[0].id, title="Call them",
            owner_id=TEACHER_ID, due_at=now + timedelta(days=2), note="笔记",
        )  # fmt: skip
        draft = await broadcasts.create_draft(
            session, settings, admin, {"text": "<b>Open day</b> 开放日", "audience": "all"}
        )
    async with sessions() as session, session.begin():
        await broadcasts.send_now(session, settings, admin, draft.id, "partner_bot", (ADMIN_ID, 5))


async def table_rows(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, all columns, in primary-key order."""
    rows: dict[str, list[dict[str, Any]]] = {}
    async with engine.connect() as conn:
        for table in tables():
            ordered = select(table).order_by(*table.primary_key.columns)
            rows[table.name] = [dict(r) for r in (await conn.execute(ordered)).mappings()]
    return rows


def run_cli(cwd: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_"))}
    env.update(
        BOT_TOKEN=TOKEN, DATABASE_URL=database_url, PYTHONPATH=str(Path(__file__).parent.parent)
    )
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
async def old_sqlite(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> tuple[Path, dict[str, list[dict[str, Any]]]]:
    """The old bot's SQLite file, fully migrated and seeded, and what it holds."""
    path = tmp_path / "old" / "partnerbot.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(engine)
        await seed_everything(engine, make_settings())
        rows = await table_rows(engine)
    finally:
        await engine.dispose()
    empty = {name for name, found in rows.items() if not found}
    assert not SEEDED & empty, f"the seed left these tables empty: {SEEDED & empty}"
    return path, rows


async def test_copy_moves_every_row_and_resets_sequences(
    old_sqlite: tuple[Path, dict[str, list[dict[str, Any]]]], db_url: str, tmp_path: Path
) -> None:
    path, source_rows = old_sqlite
    result = run_cli(tmp_path, db_url, "db", "copy", "--from", str(path))
    assert result.returncode == 0, result.stderr
    assert TOKEN not in result.stdout + result.stderr
    for name in ("users", "programs", "outbox", "reminders"):
        assert f"  {name} " in result.stdout
        reported = next(x for x in result.stdout.splitlines() if x.startswith(f"  {name} "))
        assert reported.split()[1] == str(len(source_rows[name]))
    assert result.stdout.splitlines()[-1].startswith("Done: ")

    target = create_engine(db_url)
    try:
        assert await table_rows(target) == source_rows

        # A row added after the move gets a fresh id: the sequences were moved along.
        sessions = create_session_factory(target)
        async with sessions() as session, session.begin():
            box = OutboxMessage(chat_id=CONTACT_ID, payload={"text": "after the move"})
            dept = Department(code="NEW", name_zh="新学院", name_en="New School")
            session.add_all([box, dept])
            await session.flush()
            assert box.id == max(r["id"] for r in source_rows["outbox"]) + 1
            assert dept.id == max(r["id"] for r in source_rows["departments"]) + 1
        if target.dialect.name == "postgresql":
            await assert_every_sequence_past_max(target)
    finally:
        await target.dispose()


async def assert_every_sequence_past_max(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table in tables():
            for column in table.primary_key.columns:
                seq = await conn.scalar(
                    select(func.pg_get_serial_sequence(table.name, column.name))
                )
                if seq is None:
                    continue
                top = await conn.scalar(select(func.max(column)))
                fresh = await conn.scalar(text("SELECT nextval(CAST(:s AS regclass))"), {"s": seq})
                assert fresh == (top or 0) + 1, (table.name, fresh, top)


async def test_copy_into_a_non_empty_database_is_refused(
    old_sqlite: tuple[Path, dict[str, list[dict[str, Any]]]], db_url: str, tmp_path: Path
) -> None:
    path, _ = old_sqlite
    assert run_cli(tmp_path, db_url, "db", "copy", "--from", str(path)).returncode == 0
    target = create_engine(db_url)
    try:
        before = await table_rows(target)
        again = run_cli(tmp_path, db_url, "db", "copy", "--from", str(path))
        assert again.returncode == 1
        assert "not empty" in again.stderr and "Traceback" not in again.stderr
        assert await table_rows(target) == before
    finally:
        await target.dispose()


async def test_source_behind_is_refused_untouched(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "older.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(engine, "0001")
    finally:
        await engine.dispose()
    result = run_cli(tmp_path, db_url, "db", "copy", "--from", f"sqlite:///{path}")
    assert result.returncode == 1
    assert "at migration 0001" in result.stderr and "partnerbot db upgrade" in result.stderr


def test_missing_source_file_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'new.sqlite3'}"
    result = run_cli(tmp_path, url, "db", "copy", "--from", str(tmp_path / "nope.sqlite3"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"partnerbot: --from: no such SQLite file: {tmp_path / 'nope.sqlite3'}"
    ]


async def test_a_failed_copy_leaves_the_target_empty(
    old_sqlite: tuple[Path, dict[str, list[dict[str, Any]]]], db_url: str, tmp_path: Path
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite does not enforce string lengths, so this row copies fine there")
    path, _ = old_sqlite
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:  # SQLite kept a value PostgreSQL will refuse
            await conn.execute(text("UPDATE outbox SET method = :m"), {"m": "x" * 40})
    finally:
        await engine.dispose()
    result = run_cli(tmp_path, db_url, "db", "copy", "--from", str(path))
    assert result.returncode == 1
    assert "table outbox" in result.stderr and "Traceback" not in result.stderr
    target = create_engine(db_url)
    try:
        assert all(not rows for rows in (await table_rows(target)).values())
    finally:
        await target.dispose()
