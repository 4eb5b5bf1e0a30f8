"""SQL for the delivery failures waiting to be reported to the admins. No commits."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DeliveryFailure


async def add(session: AsyncSession, period: int, kind: str) -> None:
    """Count one failure; concurrent processes add to the same row without a race."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(DeliveryFailure).values(period=period, kind=kind, count=1)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["period", "kind"], set_={"count": DeliveryFailure.count + 1}
        )
    )


async def take_before(session: AsyncSession, period: int) -> list[tuple[int, str, int]]:
    """Remove and return the counts of every period that began before `period`: whoever
    takes them reports them, so each is reported once however many processes look."""
    result = await session.execute(
        delete(DeliveryFailure)
        .where(DeliveryFailure.period < period)
        .returning(DeliveryFailure.period, DeliveryFailure.kind, DeliveryFailure.count)
    )
    return sorted((int(p), str(k), int(c)) for p, k, c in result.all())


async def first_period(session: AsyncSession) -> int | None:
    value = await session.scalar(select(func.min(DeliveryFailure.period)))
    return int(value) if value is not None else None
