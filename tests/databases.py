"""Fresh databases per test: a SQLite file, or a new database on the session's PostgreSQL."""

from __future__ import annotations

import itertools
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

_counter = itertools.count(1)


def sqlite_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'partnerbot.sqlite3'}"


async def new_pg_database(server_url: str) -> str:
    url = make_url(server_url)
    name = f"pbtest_{next(_counter)}"
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await conn.close()
    return url.set(database=name).render_as_string(hide_password=False)
