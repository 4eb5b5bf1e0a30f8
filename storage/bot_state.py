"""SQL for bot_state, a small key-value table shared by every process. No commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import BotState


def _insert(session: AsyncSession, key: str, value: str, now: datetime) -> Any:
    """INSERT … ON CONFLICT in the session's dialect (both spell it the same way)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(BotState).values(key=key, value=value, updated_at=now)


async def with_prefix(session: AsyncSession, prefix: str) -> dict[str, str]:
    rows = await session.execute(
        select(BotState.key, BotState.value).where(BotState.key.startswith(prefix, autoescape=True))
    )
    return {key: value for key, value in rows.all()}


async def put(session: AsyncSession, key: str, value: str, now: datetime) -> None:
    stmt = _insert(session, key, value, now)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value, "updated_at": now})
    )


async def put_new(session: AsyncSession, key: str, value: str, now: datetime) -> bool:
    """Insert unless the key exists; True if this call inserted it (one winner across
    processes: the primary key decides)."""
    stmt = _insert(session, key, value, now)
    result = await session.execute(
        stmt.on_conflict_do_nothing(index_elements=["key"]).returning(BotState.key)
    )
    return result.scalar_one_or_none() is not None


async def remove(session: AsyncSession, key: str) -> bool:
    result = await session.execute(
        delete(BotState).where(BotState.key == key).returning(BotState.key)
    )
    return result.scalar_one_or_none() is not None
