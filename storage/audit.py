"""Audit trail queries: add a row, keyset pages newest first, batches for the export.
No commits here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, User


def add(session: AsyncSession, entry: AuditEntry) -> None:
    """Joins the caller's unit of work; written with the action it records, or not at all."""
    session.add(entry)


async def latest_id(session: AsyncSession) -> int | None:
    return await session.scalar(select(func.max(AuditEntry.id)))


async def page_from(session: AsyncSession, top: int, size: int) -> list[AuditEntry]:
    """`size` entries with id <= top, newest first (keyset: one index range scan)."""
    stmt = select(AuditEntry).where(AuditEntry.id <= top).order_by(AuditEntry.id.desc()).limit(size)
    return list(await session.scalars(stmt))


async def newer_ids(session: AsyncSession, top: int, size: int) -> list[int]:
    """The ids of up to `size` entries just newer than `top`, oldest of them first."""
    stmt = select(AuditEntry.id).where(AuditEntry.id > top).order_by(AuditEntry.id).limit(size)
    return list(await session.scalars(stmt))


async def count_newer(session: AsyncSession, top: int) -> int:
    stmt = select(func.count()).select_from(AuditEntry).where(AuditEntry.id > top)
    return int(await session.scalar(stmt) or 0)


async def count_from(session: AsyncSession, top: int) -> int:
    stmt = select(func.count()).select_from(AuditEntry).where(AuditEntry.id <= top)
    return int(await session.scalar(stmt) or 0)


async def batches(session: AsyncSession, size: int = 1000) -> AsyncIterator[list[AuditEntry]]:
    """Every entry, oldest first, `size` at a time (keyset, so memory stays flat)."""
    after = 0
    while True:
        stmt = select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id).limit(size)
        rows = list(await session.scalars(stmt))
        if not rows:
            return
        yield rows
        after = rows[-1].id


async def users_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, User]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found = await session.scalars(select(User).where(User.id.in_(wanted)))
    return {user.id: user for user in found}
