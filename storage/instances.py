"""SQL for the sender instances' heartbeats."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SenderInstance


async def heartbeat(session: AsyncSession, instance_id: str, now: datetime) -> None:
    """Only the instance itself writes its row, so update-then-insert cannot race."""
    result = await session.execute(
        update(SenderInstance).where(SenderInstance.id == instance_id).values(seen_at=now)
    )
    if not getattr(result, "rowcount", 0):
        await session.execute(insert(SenderInstance).values(id=instance_id, seen_at=now))


async def count_live(session: AsyncSession, since: datetime) -> int:
    count = await session.scalar(
        select(func.count()).select_from(SenderInstance).where(SenderInstance.seen_at >= since)
    )
    return int(count or 0)


async def ids(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(SenderInstance.id)))


async def remove_many(session: AsyncSession, instance_ids: list[str]) -> None:
    await session.execute(delete(SenderInstance).where(SenderInstance.id.in_(instance_ids)))


async def remove(session: AsyncSession, instance_id: str) -> None:
    await session.execute(delete(SenderInstance).where(SenderInstance.id == instance_id))


async def forget_older_than(session: AsyncSession, before: datetime) -> None:
    await session.execute(delete(SenderInstance).where(SenderInstance.seen_at < before))
