"""Async engine and session factory for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only

SQLITE_BUSY_TIMEOUT_MS = 30_000
QUERY_ONLY = "partnerbot_query_only"  # Connection.info: PRAGMA query_only is ON now


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Build the engine; SQLite gets WAL, a busy timeout and write-locking transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_reset_on_return=None,  # _on_reset below
        )  # fmt: skip
        _tune_sqlite(engine)
        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves (pysqlite's implicit BEGIN is DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # 32 MB of page cache per connection instead of SQLite's 2 MB: 10,000 programmes
        # are ~10 MB, and a board joining them read them back from the OS at every call
        # (19 ms → 8 ms). Only pages actually read take memory.
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a second writer waits on busy_timeout
        # instead of failing with "database is locked" when it upgrades a read lock later.
        # Read-only units of work (READ_ONLY) take no lock, and may not write: a write
        # there is a bug, and query_only makes it fail instead of taking the lock late.
        # The pragma stays with the pooled connection and is switched only when the kind
        # of unit changes: most units are reads, and each statement costs a hand-off to
        # aiosqlite's thread (issue 15's profile).
        readonly = bool(conn.get_execution_options().get("sqlite_readonly"))
        driver = conn.connection.driver_connection  # aiosqlite's
        if conn.info.get(QUERY_ONLY, False) != readonly:
            _at_once(driver, f"PRAGMA query_only = {'ON' if readonly else 'OFF'}")
            conn.info[QUERY_ONLY] = readonly
        _at_once(driver, "BEGIN" if readonly else "BEGIN IMMEDIATE")

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, _record: Any, _state: Any) -> None:
        # The pool's own reset is a ROLLBACK at every return, one more hand-off after a
        # COMMIT that left nothing open: only what is still open is rolled back.
        if dbapi_connection.driver_connection.in_transaction:
            dbapi_connection.rollback()


def _at_once(driver: Any, sql: str) -> None:
    """A statement without results in one hand-off to aiosqlite's thread, where the
    adapted cursor takes three (make, execute, close): a unit of work begins with one or
    two of them, and every hand-off wakes the event loop from that thread."""
    await_only(driver.execute(sql))


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


READ_ONLY = {"sqlite_readonly": True}  # execution options of a read-only unit of work
# Each session factory's engine with READ_ONLY set (the same pool): a read-only session
# bound to it takes its connection, and so its BEGIN, only at its first statement.
_read_only_binds: WeakKeyDictionary[async_sessionmaker[AsyncSession], AsyncEngine] = (
    WeakKeyDictionary()
)


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession] | None, *, write: bool
) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends normally, rolled back on error;
    read-only (no write lock on SQLite, no writes) unless `write`.

    A unit that runs no statement costs the database nothing: a catalogue page served
    from the process's copy opens no connection, so no BEGIN and no COMMIT, each a
    hand-off to aiosqlite's thread (issue 15)."""
    if sessions is None:
        raise RuntimeError("the database is not open yet")
    session = sessions() if write else sessions(bind=_read_only_bind(sessions))
    try:
        async with session.begin():
            yield session
    finally:
        if session.in_transaction():  # the block's end was interrupted (cancelled)
            # As AsyncSession's own exit does: a close that returns a connection must
            # not be cut short by a second cancellation.
            await asyncio.shield(asyncio.ensure_future(session.close()))
        else:
            # The transaction's end gave its connection back already; what is left is
            # CPU work, without the task (and turn of the event loop) the shield costs,
            # which let a press's edit wait behind the next getUpdates being built.
            await session.close()


def _read_only_bind(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    bind = _read_only_binds.get(sessions)
    if bind is None:
        engine = sessions.kw["bind"]
        if not isinstance(engine, AsyncEngine):
            raise TypeError("a unit of work needs a session factory bound to one engine")
        bind = _read_only_binds[sessions] = engine.execution_options(**READ_ONLY)
    return bind


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"
