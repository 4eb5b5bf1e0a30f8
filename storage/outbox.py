"""Outbox queries: enqueue, claim a batch atomically, record what happened. No commits.

Claims are one UPDATE … RETURNING over a sub-select of due rows. On SQLite the write
transaction is BEGIN IMMEDIATE (storage/engine.py), so two instances claim one after
the other; on PostgreSQL the sub-select takes FOR UPDATE SKIP LOCKED, so they claim
side by side without touching the same rows. A claimed row carries a lease that its
instance renews with its heartbeat while it works on the row (`renew`); if the instance
dies, the lease runs out and the row is claimed again (at-least-once).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, OutboxState


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: int,
    payload: dict[str, Any],
    method: str = "sendMessage",
    priority: int = 5,
    not_before: datetime | None = None,
    ref: str | None = None,
    dedupe_key: str | None = None,
    now: datetime,
) -> int | None:
    """Queue one message; with a dedupe_key already queued, nothing (returns None)."""
    values = {
        "chat_id": chat_id,
        "method": method,
        "payload": payload,
        "priority": priority,
        "not_before": not_before or now,
        "state": OutboxState.PENDING,
        "attempts": 0,
        "ref": ref,
        "dedupe_key": dedupe_key,
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(OutboxMessage).values(**values)
    if dedupe_key is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
    result = await session.execute(stmt.returning(OutboxMessage.id))
    return result.scalar_one_or_none()


def _due(now: datetime) -> Any:
    return or_(
        and_(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.not_before <= now),
        and_(OutboxMessage.state == OutboxState.SENDING, OutboxMessage.lease_until < now),
    )


async def claim(
    session: AsyncSession, *, owner: str, limit: int, lease: timedelta, now: datetime
) -> list[OutboxMessage]:
    due = (
        select(OutboxMessage.id)
        .where(_due(now))
        .order_by(OutboxMessage.priority, OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()))
        .values(
            state=OutboxState.SENDING,
            lease_owner=owner,
            lease_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False)
    )
    rows = list((await session.scalars(stmt)).all())
    rows.sort(key=lambda r: (r.priority, r.not_before, r.id))
    return rows


async def next_due_at(session: AsyncSession) -> datetime | None:
    """When the next pending row falls due (for waking the sender on time)."""
    return await session.scalar(
        select(func.min(OutboxMessage.not_before)).where(OutboxMessage.state == OutboxState.PENDING)
    )


async def mark_sent(
    session: AsyncSession, row_id: int, owner: str, message_id: int | None, now: datetime,
    chat_id: int | None = None,
) -> None:  # fmt: skip
    """`chat_id`: where it went, if not the row's chat (a group that has a new id)."""
    values: dict[str, Any] = {
        "state": OutboxState.SENT, "message_id": message_id, "sent_at": now, "lease_until": None
    }  # fmt: skip
    if chat_id is not None:
        values["chat_id"] = chat_id
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.lease_owner == owner)
        .values(**values)
    )


async def mark_final(
    session: AsyncSession, row_id: int, owner: str, state: OutboxState, error: str
) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.lease_owner == owner)
        .values(state=state, last_error=error[:1000], lease_until=None)
    )


async def retry_later(
    session: AsyncSession, row_id: int, owner: str, when: datetime, error: str, *, count: bool,
    chat_id: int | None = None,
) -> None:  # fmt: skip
    values: dict[str, Any] = {
        "state": OutboxState.PENDING,
        "not_before": when,
        "last_error": error[:1000],
        "lease_until": None,
    }
    if not count:  # a 429 or a network blip is not the row's fault
        values["attempts"] = OutboxMessage.attempts - 1
    if chat_id is not None:  # the chat has a new id (a group became a supergroup)
        values["chat_id"] = chat_id
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.lease_owner == owner)
        .values(**values)
    )


async def find_by_message(
    session: AsyncSession, chat_id: int, message_id: int
) -> OutboxMessage | None:
    return await session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.chat_id == chat_id, OutboxMessage.message_id == message_id
        )
    )


async def cancel_pending(session: AsyncSession, chat_ids: Sequence[int]) -> int:
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.chat_id.in_(chat_ids), OutboxMessage.state == OutboxState.PENDING)
        .values(state=OutboxState.CANCELLED)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def counts_by_state(session: AsyncSession, ref_prefix: str | None = None) -> dict[str, int]:
    stmt = select(OutboxMessage.state, func.count(OutboxMessage.id)).group_by(OutboxMessage.state)
    if ref_prefix is not None:
        stmt = stmt.where(OutboxMessage.ref.startswith(ref_prefix))
    return {str(state): int(n) for state, n in (await session.execute(stmt)).all()}


async def first_sent_for(session: AsyncSession, chat_id: int, ref: str) -> OutboxMessage | None:
    """The first message about `ref` that reached `chat_id` (to thread replies under it)."""
    return await session.scalar(
        select(OutboxMessage)
        .where(
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.ref == ref,
            OutboxMessage.state == OutboxState.SENT,
        )
        .order_by(OutboxMessage.id)
        .limit(1)
    )


async def renew(
    session: AsyncSession, owner: str, row_ids: Sequence[int], until: datetime, now: datetime
) -> set[int]:
    """Extend the leases of rows this owner is still sending to `until`. Never shortens
    one (a batch claimed meanwhile has a later lease) and never revives one that ran out:
    that row may be someone else's by now. Returns the rows lost: neither renewed nor
    finished by this owner (their lease ran out, or another owner has them)."""
    if not row_ids:
        return set()
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(row_ids),
            OutboxMessage.lease_owner == owner,
            OutboxMessage.state == OutboxState.SENDING,
            OutboxMessage.lease_until >= now,
            OutboxMessage.lease_until < until,
        )
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    held = and_(
        OutboxMessage.lease_owner == owner,
        or_(OutboxMessage.state != OutboxState.SENDING, OutboxMessage.lease_until >= until),
    )
    lost = await session.scalars(
        select(OutboxMessage.id).where(OutboxMessage.id.in_(row_ids), ~held)
    )
    return set(lost.all())


async def free_leases(session: AsyncSession, owners: Sequence[str], now: datetime) -> int:
    """The leases of owners known to be dead end now: their rows are claimable at once."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.lease_owner.in_(owners), OutboxMessage.state == OutboxState.SENDING)
        .values(lease_until=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def release(session: AsyncSession, owner: str) -> int:
    """On a clean stop: rows claimed but not sent go back to the queue at once (the try
    they were claimed for did not happen) instead of waiting for their lease."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.lease_owner == owner, OutboxMessage.state == OutboxState.SENDING)
        # The claim counted an attempt (so attempts >= 1): take it back.
        .values(state=OutboxState.PENDING, lease_until=None, attempts=OutboxMessage.attempts - 1)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def retarget(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> int:
    """Queued rows follow a group to its new id (Telegram migrated it to a supergroup)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.chat_id == old_chat_id,
            OutboxMessage.state.in_((OutboxState.PENDING, OutboxState.HELD)),
        )
        .values(chat_id=new_chat_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def pending_to(session: AsyncSession, chat_id: int) -> list[OutboxMessage]:
    return list(
        await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.state == OutboxState.PENDING)
            .order_by(OutboxMessage.id)
            .with_for_update()
        )
    )


async def close_rows(
    session: AsyncSession, row_ids: Sequence[int], state: OutboxState, note: str
) -> None:
    """End queued rows that will not be sent as they are (e.g. re-sent elsewhere)."""
    if row_ids:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(row_ids))
            .values(state=state, last_error=note[:1000], lease_until=None)
        )


async def replace_pending(session: AsyncSession, dedupe_key: str, payload: dict[str, Any]) -> bool:
    """Give a row not yet claimed a newer payload (edits of one card coalesce): True if
    there was such a row."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dedupe_key == dedupe_key, OutboxMessage.state == OutboxState.PENDING)
        .values(payload=payload)
    )
    return bool(getattr(result, "rowcount", 0))


async def by_key(session: AsyncSession, dedupe_key: str) -> OutboxMessage | None:
    return await session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.dedupe_key == dedupe_key)
        .execution_options(populate_existing=True)
    )
