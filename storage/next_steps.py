"""Queries for next steps and their reminders. No commits here.

Claiming due reminders: on PostgreSQL the SELECT takes FOR UPDATE SKIP LOCKED, so two
instances take disjoint sets; on SQLite the write transaction is BEGIN IMMEDIATE, so they
take turns. Either way a reminder is turned into an outbox row exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import EngineMark, NextStep, Reminder, ReminderState, StepStatus


async def add_step(session: AsyncSession, step: NextStep) -> NextStep:
    session.add(step)
    await session.flush()
    return step


async def get_step(session: AsyncSession, step_id: int, *, lock: bool = False) -> NextStep | None:
    return await session.get(NextStep, step_id, with_for_update=lock)


async def add_reminders(session: AsyncSession, reminders: Sequence[Reminder]) -> None:
    session.add_all(reminders)
    await session.flush()


async def cancel_pending(session: AsyncSession, step_id: int) -> None:
    await session.execute(
        update(Reminder)
        .where(Reminder.step_id == step_id, Reminder.state == ReminderState.PENDING)
        .values(state=ReminderState.CANCELLED)
    )


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> list[Reminder]:
    stmt = (
        select(Reminder)
        .where(Reminder.state == ReminderState.PENDING, Reminder.due_at <= now)
        .order_by(Reminder.due_at, Reminder.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(await session.scalars(stmt))


async def steps_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, NextStep]:
    if not ids:
        return {}
    return {s.id: s for s in await session.scalars(select(NextStep).where(NextStep.id.in_(ids)))}


async def next_due_at(session: AsyncSession) -> datetime | None:
    return await session.scalar(
        select(func.min(Reminder.due_at)).where(Reminder.state == ReminderState.PENDING)
    )


async def steps_of_owner(session: AsyncSession, owner_id: int, limit: int = 30) -> list[NextStep]:
    stmt = (
        select(NextStep)
        .where(NextStep.owner_id == owner_id, NextStep.status == StepStatus.OPEN)
        .order_by(NextStep.due_at, NextStep.id)
        .limit(limit)
    )
    return list(await session.scalars(stmt))


async def steps_of_inquiry(session: AsyncSession, inquiry_id: int) -> list[NextStep]:
    stmt = select(NextStep).where(NextStep.inquiry_id == inquiry_id).order_by(NextStep.due_at)
    return list(await session.scalars(stmt))


async def overdue_steps(
    session: AsyncSession, now: datetime, limit: int = 200, *, owner_id: int | None = None
) -> list[NextStep]:
    stmt = select(NextStep).where(NextStep.status == StepStatus.OPEN, NextStep.due_at < now)
    if owner_id is not None:
        stmt = stmt.where(NextStep.owner_id == owner_id)
    stmt = stmt.order_by(NextStep.owner_id, NextStep.due_at).limit(limit)
    return list(await session.scalars(stmt))


async def open_steps_due_before(session: AsyncSession, moment: datetime) -> list[NextStep]:
    """Open steps due before `moment` (today's and the overdue), for the digest."""
    stmt = (
        select(NextStep)
        .where(NextStep.status == StepStatus.OPEN, NextStep.due_at < moment)
        .order_by(NextStep.owner_id, NextStep.due_at, NextStep.id)
    )
    return list(await session.scalars(stmt))


async def claim_mark(session: AsyncSession, key: str) -> bool:
    """Insert the once-only key; True for the one caller that inserted it."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(EngineMark).values(key=key).on_conflict_do_nothing(index_elements=["key"])
    result = await session.execute(stmt.returning(EngineMark.key))
    return result.scalar_one_or_none() is not None
