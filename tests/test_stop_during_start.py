"""A supervisor's stop while `partnerbot run` or `partnerbot worker` is still migrating:
the process finishes the migration, never starts, and exits 0, where it used to die of
the signal (exit -15) with the migration cut wherever it was."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.fakebot import FakeTelegram
from tests.test_reminder_durability import Proc, bot_env

MIGRATING = b"Running upgrade"  # alembic's line as each migration begins


async def wait_for_line(path: Path, text: bytes, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not (path.exists() and text in path.read_bytes()):
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("command", ["worker", "run"])
async def test_a_stop_while_migrating_exits_cleanly_after_the_migration(
    tg: FakeTelegram, tmp_path: Path, command: str
) -> None:
    database = tmp_path / "fresh.sqlite3"  # every migration to run: start-up takes a while
    log = tmp_path / f"{command}.log"
    proc = Proc(command, bot_env(tg, f"sqlite+aiosqlite:///{database}"), log)
    try:
        await proc.start()
        await wait_for_line(log, MIGRATING)
        code = await proc.stop(signal.SIGTERM, timeout=60)
    finally:
        await proc.ensure_dead()
    text = log.read_text()
    assert code == 0, text
    assert "stopped" in text and "worker running" not in text and "polling for" not in text
    with sqlite3.connect(database) as db:  # the migration went to its end, not cut midway
        (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    versions = Path(__file__).resolve().parent.parent / "storage" / "migrations" / "versions"
    assert version == max(p.name[:4] for p in versions.glob("0*.py"))
