"""Shared fixtures: databases (SQLite file and a real PostgreSQL), the fake Bot API server,
and the real partnerbot Application running against both."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import ApplicationBuilder, JobQueue

from bot import logs
from bot.context import CONTEXT_TYPES, BotContext
from bot.settings import Settings
from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from tests.constants import ADMIN_ID, TOKEN
from tests.databases import new_pg_database, sqlite_url
from tests.fakebot import FakeTelegram
from tests.harness import BotRunner
from tests.pgserver import PgCluster, find_bindir

LOG_FILE_NAME = "partnerbot-test-session.log"


@pytest.fixture(scope="session")
def session_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Everything logged in the whole run, at DEBUG, checked for the token at the end."""
    path = tmp_path_factory.mktemp("logs") / LOG_FILE_NAME
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(previous)
    handler.close()
    text = path.read_text(encoding="utf-8")
    assert TOKEN not in text and TOKEN.split(":")[1] not in text, "bot token leaked into logs"


@pytest.fixture(autouse=True)
def _log_everything(session_log: Path) -> None:
    return None


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str | None]:
    env_url = os.environ.get("PARTNERBOT_TEST_PG_URL")
    if env_url:
        yield env_url
        return
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("PARTNERBOT_REQUIRE_PG"):
            pytest.fail("PostgreSQL server binaries not found, and the suite requires them")
        yield None
        return
    cluster = PgCluster(bindir)
    url = cluster.start()
    try:
        yield url
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    server: str | None = request.getfixturevalue("pg_server")
    if server is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    return await new_pg_database(server)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A migrated database of either kind, for tests that call the services directly."""
    engine = create_engine(db_url)
    await upgrade(engine)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def make_settings(db_url: str, tmp_path: Path) -> Callable[..., Settings]:
    def make(tg: FakeTelegram | None = None, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "bot_token": TOKEN,
            "database_url": db_url,
            "admin_ids": str(ADMIN_ID),
            "timezone": "Asia/Shanghai",
            "default_language": "en",
            # The harness types and taps at machine speed, far beyond FLOOD_BURST; tests
            # of flood protection (test_hostile, test_flood) set their own limits.
            "flood_burst": 1000,
        }
        if tg is not None:
            values["telegram_api_url"] = tg.base_url
            values["telegram_file_url"] = tg.file_url
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def job_queue(tg: FakeTelegram) -> AsyncIterator[JobQueue[BotContext]]:
    """PTB's JobQueue (APScheduler) of a bare running Application, with no handlers and
    no engines of its own: what the engines' jobs (bot/engines/wakeup.py) run on."""
    logs.add_secrets([TOKEN])  # as build_application does: PTB logs URLs with the token
    app = ApplicationBuilder().token(TOKEN).base_url(tg.base_url).context_types(CONTEXT_TYPES)
    bare = app.build()
    await bare.initialize()
    await bare.start()
    try:
        assert bare.job_queue is not None
        yield bare.job_queue
    finally:
        await bare.stop()
        await bare.shutdown()


@pytest.fixture
async def bot(tg: FakeTelegram, make_settings: Callable[..., Settings]) -> AsyncIterator[BotRunner]:
    runner = BotRunner(make_settings(tg))
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()
