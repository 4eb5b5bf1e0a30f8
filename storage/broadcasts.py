"""Broadcast queries: audiences, queueing every delivery at once, counts, pause/resume.
No commits here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, func, insert, literal, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Broadcast,
    BroadcastStatus,
    Inquiry,
    InquiryKind,
    InquiryStatus,
    OutboxMessage,
    OutboxState,
    Program,
    ProgramKind,
    Role,
    User,
)

SEGMENTS_FIXED = ("all", "enterprise", "teachers", "no_meeting", "lang-en", "lang-zh")


def audience(segment: str, admin_ids: frozenset[int] = frozenset()) -> ColumnElement[bool] | None:
    """The WHERE clause of a segment over users; None for an unknown segment. The people
    in ADMIN_IDS are admins whatever role is stored for them, so they are in neither the
    enterprise nor the teachers segment."""
    reachable = (User.opted_out.is_(False)) & (User.blocked_at.is_(None))
    head, _, arg = segment.partition("-")
    not_admin = User.id.not_in(sorted(admin_ids)) if admin_ids else true()
    if segment == "all":
        return reachable
    if segment == "enterprise":
        return reachable & (User.role == Role.ENTERPRISE) & not_admin
    if segment == "teachers":
        return reachable & (User.role == Role.TEACHER) & not_admin
    if segment in ("lang-en", "lang-zh"):
        return reachable & (User.language == segment[5:])
    if segment == "no_meeting":  # interested, no meeting yet
        asked = select(Inquiry.user_id).where(
            Inquiry.kind == InquiryKind.INTEREST,
            Inquiry.status.in_((InquiryStatus.NEW, InquiryStatus.CONTACTED)),
        )
        return reachable & User.id.in_(asked)
    if head == "kind" and arg in ProgramKind._value2member_map_:
        interested = (
            select(Inquiry.user_id)
            .join(Program, Inquiry.program_id == Program.id)
            .where(Program.kind == ProgramKind(arg))
        )
        return reachable & User.id.in_(interested)
    if head == "program" and arg.isdigit():
        interested = select(Inquiry.user_id).where(Inquiry.program_id == int(arg))
        return reachable & User.id.in_(interested)
    return None


async def count_audience(
    session: AsyncSession, segment: str, admin_ids: frozenset[int] = frozenset()
) -> int:
    where = audience(segment, admin_ids)
    if where is None:
        return 0
    return int(await session.scalar(select(func.count(User.id)).where(where)) or 0)


async def add(session: AsyncSession, broadcast: Broadcast) -> Broadcast:
    session.add(broadcast)
    await session.flush()
    return broadcast


async def get(session: AsyncSession, broadcast_id: int, *, lock: bool = False) -> Broadcast | None:
    return await session.get(Broadcast, broadcast_id, with_for_update=lock)


async def queue_deliveries(
    session: AsyncSession, broadcast: Broadcast, payloads: dict[str, dict[str, Any]],
    method: str, priority: int, now: datetime, admin_ids: frozenset[int] = frozenset(),
) -> int:  # fmt: skip
    """One outbox row per recipient, in one INSERT … SELECT per language (the stop button
    under the message speaks the recipient's language). UNIQUE(dedupe_key) keeps it one
    per (broadcast, user) even if this ran twice."""
    where = audience(broadcast.segment, admin_ids)
    if where is None:
        return 0
    total = 0
    for lang, payload in payloads.items():
        rows = select(
            User.id,
            literal(method),
            literal(payload, OutboxMessage.payload.type),
            literal(priority),
            literal(now, OutboxMessage.not_before.type),
            literal(OutboxState.PENDING.value),
            literal(0),
            literal(f"broadcast:{broadcast.id}"),
            literal(f"bc:{broadcast.id}:") + func.cast(User.id, String(20)),
            literal(now, OutboxMessage.created_at.type),
        ).where(where, User.language == lang)
        columns = [
            "chat_id", "method", "payload", "priority", "not_before", "state", "attempts",
            "ref", "dedupe_key", "created_at",
        ]  # fmt: skip
        stmt = insert(OutboxMessage).from_select(columns, rows)
        result = await session.execute(stmt)
        total += int(getattr(result, "rowcount", 0) or 0)
    return total


async def delivery_counts(session: AsyncSession, broadcast_id: int) -> dict[str, int]:
    stmt = (
        select(OutboxMessage.state, func.count(OutboxMessage.id))
        .where(OutboxMessage.ref == f"broadcast:{broadcast_id}")
        .group_by(OutboxMessage.state)
    )
    return {str(state): int(n) for state, n in (await session.execute(stmt)).all()}


async def set_delivery_state(
    session: AsyncSession, broadcast_id: int, from_states: Sequence[OutboxState], to: OutboxState
) -> int:
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.ref == f"broadcast:{broadcast_id}",
            OutboxMessage.state.in_(list(from_states)),
        )
        .values(state=to)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def active(session: AsyncSession) -> list[Broadcast]:
    stmt = select(Broadcast).where(
        Broadcast.status.in_((BroadcastStatus.SENDING, BroadcastStatus.PAUSED))
    )
    return list(await session.scalars(stmt.order_by(Broadcast.id)))


async def due_scheduled(session: AsyncSession, now: datetime) -> list[Broadcast]:
    stmt = select(Broadcast).where(
        Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.scheduled_at <= now
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(await session.scalars(stmt.order_by(Broadcast.scheduled_at)))


async def next_scheduled_at(session: AsyncSession) -> datetime | None:
    return await session.scalar(
        select(func.min(Broadcast.scheduled_at)).where(
            Broadcast.status == BroadcastStatus.SCHEDULED
        )
    )


async def recent(session: AsyncSession, limit: int = 10) -> list[Broadcast]:
    stmt = select(Broadcast).where(Broadcast.status != BroadcastStatus.DRAFT)
    return list(await session.scalars(stmt.order_by(Broadcast.id.desc()).limit(limit)))


async def failed_recipients(session: AsyncSession, broadcast_id: int) -> list[tuple[int, str, str]]:
    stmt = (
        select(OutboxMessage.chat_id, OutboxMessage.state, OutboxMessage.last_error)
        .where(
            OutboxMessage.ref == f"broadcast:{broadcast_id}",
            OutboxMessage.state.in_((OutboxState.FAILED, OutboxState.BLOCKED)),
        )
        .order_by(OutboxMessage.chat_id)
    )
    return [(int(c), str(s), str(e or "")) for c, s, e in (await session.execute(stmt)).all()]


async def set_opted_out(session: AsyncSession, user_id: int, value: bool) -> None:
    await session.execute(update(User).where(User.id == user_id).values(opted_out=value))
