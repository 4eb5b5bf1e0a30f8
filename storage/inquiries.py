"""Queries for enterprise profiles, inquiries and their timelines. No commits here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    OPEN_INQUIRY_STATUSES,
    BasketItem,
    EnterpriseProfile,
    Inquiry,
    InquiryEvent,
    InquiryKind,
    InquiryStatus,
    NextStep,
    Program,
    ProgramKind,
    Role,
    StepStatus,
    User,
    UTCDateTime,
)


async def get_profile(session: AsyncSession, user_id: int) -> EnterpriseProfile | None:
    return await session.get(EnterpriseProfile, user_id)


async def put_profile(session: AsyncSession, profile: EnterpriseProfile) -> EnterpriseProfile:
    merged = await session.merge(profile)
    await session.flush()
    return merged


async def open_inquiry_for(session: AsyncSession, user_id: int, program_id: int) -> Inquiry | None:
    stmt = select(Inquiry).where(
        Inquiry.user_id == user_id,
        Inquiry.program_id == program_id,
        Inquiry.kind == InquiryKind.INTEREST,
        Inquiry.status.in_(OPEN_INQUIRY_STATUSES),
    )
    return (await session.scalars(stmt)).first()


async def add_inquiry(session: AsyncSession, inquiry: Inquiry) -> Inquiry:
    session.add(inquiry)
    await session.flush()
    return inquiry


async def add_event(session: AsyncSession, event: InquiryEvent) -> None:
    session.add(event)
    await session.flush()


async def get_inquiry(
    session: AsyncSession, inquiry_id: int, *, lock: bool = False
) -> Inquiry | None:
    return await session.get(Inquiry, inquiry_id, with_for_update=lock)


async def events_of(
    session: AsyncSession, inquiry_id: int, *, public_only: bool
) -> list[InquiryEvent]:
    stmt = select(InquiryEvent).where(InquiryEvent.inquiry_id == inquiry_id)
    if public_only:
        stmt = stmt.where(InquiryEvent.public.is_(True))
    return list(await session.scalars(stmt.order_by(InquiryEvent.id)))


async def latest_contact_message(
    session: AsyncSession, inquiry_id: int, user_id: int
) -> tuple[int, int] | None:
    """(event id, Telegram message id) of the contact's latest message on the inquiry
    whose id is known."""
    stmt = (
        select(InquiryEvent.id, InquiryEvent.message_id)
        .where(
            InquiryEvent.inquiry_id == inquiry_id,
            InquiryEvent.actor_id == user_id,
            InquiryEvent.message_id.is_not(None),
        )
        .order_by(InquiryEvent.id.desc())
        .limit(1)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row is not None and row[1] is not None else None


async def inquiries_of(session: AsyncSession, user_id: int, limit: int = 20) -> list[Inquiry]:
    stmt = (
        select(Inquiry).where(Inquiry.user_id == user_id).order_by(Inquiry.id.desc()).limit(limit)
    )
    return list(await session.scalars(stmt))


async def staff_ids(session: AsyncSession, role: Role) -> list[int]:
    stmt = select(User.id).where(User.role == role, User.blocked_at.is_(None))
    return list(await session.scalars(stmt))


@dataclass(frozen=True, slots=True)
class InquiryFilter:
    status: InquiryStatus | None = None
    program_id: int | None = None
    kind: ProgramKind | None = None
    older_than: datetime | None = None
    open_only: bool = False
    teacher_id: int | None = None  # only this teacher's scope (bot/access.py)


def teacher_scope(teacher_id: int) -> ColumnElement[bool]:
    """bot.access.in_teacher_scope as SQL: inquiries of the teacher's programmes, or
    assigned to them. The programmes as an IN over their owner's index, so no join is
    needed: joined, PostgreSQL hashed every programme for each count of the Mini App's
    board (10-12 ms at 10,000)."""
    owned = select(Program.id).where(Program.owner_id == teacher_id)
    return or_(Inquiry.program_id.in_(owned), Inquiry.assignee_id == teacher_id)


def _filtered(flt: InquiryFilter):  # type: ignore[no-untyped-def]
    stmt = select(Inquiry).outerjoin(Program, Inquiry.program_id == Program.id)
    if flt.teacher_id is not None:
        stmt = stmt.where(teacher_scope(flt.teacher_id))
    if flt.status is not None:
        stmt = stmt.where(Inquiry.status == flt.status)
    if flt.open_only:
        stmt = stmt.where(Inquiry.status.in_(OPEN_INQUIRY_STATUSES))
    if flt.program_id is not None:
        stmt = stmt.where(Inquiry.program_id == flt.program_id)
    if flt.kind is not None:
        stmt = stmt.where(Program.kind == flt.kind)
    if flt.older_than is not None:
        stmt = stmt.where(Inquiry.created_at <= flt.older_than)
    return stmt


async def list_inquiries(
    session: AsyncSession, flt: InquiryFilter, offset: int, limit: int
) -> tuple[list[Inquiry], int]:
    base = _filtered(flt)
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows = await session.scalars(base.order_by(Inquiry.id.desc()).offset(offset).limit(limit))
    return list(rows), int(total or 0)


async def counts_by_status(session: AsyncSession) -> dict[InquiryStatus, int]:
    stmt = select(Inquiry.status, func.count(Inquiry.id)).group_by(Inquiry.status)
    return {status: int(n) for status, n in (await session.execute(stmt)).all()}


async def counts_by_kind(session: AsyncSession) -> dict[ProgramKind | None, int]:
    stmt = (
        select(Program.kind, func.count(Inquiry.id))
        .select_from(Inquiry)
        .outerjoin(Program, Inquiry.program_id == Program.id)
        .group_by(Program.kind)
    )
    return {kind: int(n) for kind, n in (await session.execute(stmt)).all()}


async def overdue_first_response(
    session: AsyncSession, created_before: datetime, escalation_below: int
) -> list[Inquiry]:
    stmt = select(Inquiry).where(
        Inquiry.status == InquiryStatus.NEW,
        Inquiry.first_response_at.is_(None),
        Inquiry.escalation < escalation_below,
        Inquiry.created_at <= created_before,
    )
    return list(await session.scalars(stmt.order_by(Inquiry.id).limit(500)))


async def oldest_untouched(session: AsyncSession, escalation_below: int) -> datetime | None:
    stmt = select(func.min(Inquiry.created_at)).where(
        Inquiry.status == InquiryStatus.NEW,
        Inquiry.first_response_at.is_(None),
        Inquiry.escalation < escalation_below,
    )
    return await session.scalar(stmt)


async def programs_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, Program]:
    if not ids:
        return {}
    rows = await session.scalars(select(Program).where(Program.id.in_(ids)))
    return {p.id: p for p in rows}


async def basket(session: AsyncSession, user_id: int) -> list[int]:
    stmt = select(BasketItem.program_id).where(BasketItem.user_id == user_id)
    return list(await session.scalars(stmt.order_by(BasketItem.added_at, BasketItem.program_id)))


async def add_to_basket(session: AsyncSession, user_id: int, program_id: int) -> bool:
    if await session.get(BasketItem, (user_id, program_id)) is not None:
        return False
    session.add(BasketItem(user_id=user_id, program_id=program_id))
    await session.flush()
    return True


async def clear_basket(session: AsyncSession, user_id: int, program_ids: Sequence[int]) -> None:
    await session.execute(
        delete(BasketItem).where(
            BasketItem.user_id == user_id, BasketItem.program_id.in_(list(program_ids))
        )
    )


# --- Admin views and exports (bot/inquiry_admin.py, bot/inquiry_export.py) ----------------


async def program_by_code(session: AsyncSession, code: str) -> Program | None:
    return (await session.scalars(select(Program).where(Program.code == code))).first()


async def users_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, User]:
    if not ids:
        return {}
    rows = await session.scalars(select(User).where(User.id.in_(list(set(ids)))))
    return {u.id: u for u in rows}


@dataclass(frozen=True, slots=True)
class ExportRow:
    inquiry: Inquiry
    program: Program | None
    profile: EnterpriseProfile | None  # None once the contact used /forget
    assignee: User | None


async def export_inquiries(session: AsyncSession) -> list[ExportRow]:
    """Every inquiry with its programme, the contact's profile and the assignee, by id."""
    from sqlalchemy.orm import aliased

    assignee = aliased(User)
    stmt = (
        select(Inquiry, Program, EnterpriseProfile, assignee)
        .outerjoin(Program, Inquiry.program_id == Program.id)
        .outerjoin(EnterpriseProfile, Inquiry.user_id == EnterpriseProfile.user_id)
        .outerjoin(assignee, Inquiry.assignee_id == assignee.id)
        .order_by(Inquiry.id)
    )
    return [ExportRow(*row) for row in (await session.execute(stmt)).all()]


async def questions_since(
    session: AsyncSession, user_id: int, since: datetime, *, lock: bool = False
) -> list[datetime]:
    """When this person opened their questions since `since`, oldest first. With `lock`,
    their user row is locked first (PostgreSQL), so two instances handling the same
    person count one after the other (SQLite's write transactions already do)."""
    if lock:
        await session.execute(select(User.id).where(User.id == user_id).with_for_update())
    rows = await session.scalars(
        select(Inquiry.created_at)
        .where(
            Inquiry.user_id == user_id,
            Inquiry.kind == InquiryKind.QUESTION,
            Inquiry.created_at >= since,
        )
        .order_by(Inquiry.created_at)
    )
    return list(rows.all())


async def question_from(session: AsyncSession, user_id: int, source: str) -> Inquiry | None:
    """This person's question made from one message of theirs (a second tap finds it)."""
    stmt = select(Inquiry).where(
        Inquiry.user_id == user_id,
        Inquiry.kind == InquiryKind.QUESTION,
        Inquiry.source == source,
    )
    return (await session.scalars(stmt.limit(1))).first()


# --- Quiet inquiries (bot/inquiries/stale.py) ---------------------------------------------

QUIET_STATUSES_EXCLUDED = (InquiryStatus.CLOSED, InquiryStatus.DECLINED)


def last_activity() -> ColumnElement[datetime]:
    """An inquiry's last event (its creation when it has none), as a correlated subquery:
    so FOR UPDATE locks inquiry rows only, and no GROUP BY meets the lock."""
    last_event = (
        select(func.max(InquiryEvent.created_at))
        .where(InquiryEvent.inquiry_id == Inquiry.id)
        .correlate(Inquiry)
        .scalar_subquery()
    )
    return type_coerce(func.coalesce(last_event, Inquiry.created_at), UTCDateTime())


def _quiet_base(quiet_since: datetime | None):  # type: ignore[no-untyped-def]
    """Inquiries that can go quiet: not closed or declined, no open next step; with
    `quiet_since`, only those with no event after it."""
    open_step = select(NextStep.id).where(
        NextStep.inquiry_id == Inquiry.id, NextStep.status == StepStatus.OPEN
    )
    stmt = select(Inquiry).where(
        Inquiry.status.not_in(QUIET_STATUSES_EXCLUDED), ~open_step.exists()
    )
    if quiet_since is not None:
        stmt = stmt.where(last_activity() <= quiet_since)
    return stmt


def _not_nudged_this_spell() -> ColumnElement[bool]:
    return or_(Inquiry.quiet_nudged_at.is_(None), Inquiry.quiet_nudged_at < last_activity())


async def claim_quiet(
    session: AsyncSession, quiet_since: datetime, limit: int
) -> list[tuple[Inquiry, datetime]]:
    """Quiet since `quiet_since` and not nudged in this spell, by id, with their last
    activity. On PostgreSQL the rows are locked, skipping those another instance holds
    (SQLite's write transaction already runs alone)."""
    stmt = (
        _quiet_base(quiet_since)
        .add_columns(last_activity())
        .where(_not_nudged_this_spell())
        .order_by(Inquiry.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Inquiry)
    return [(inquiry, at) for inquiry, at in (await session.execute(stmt)).all()]


async def mark_nudged(session: AsyncSession, ids: Sequence[int], now: datetime) -> None:
    """The spell is nudged; updated_at stays as it was (a nudge is no change)."""
    if ids:
        await session.execute(
            update(Inquiry)
            .where(Inquiry.id.in_(list(ids)))
            .values(quiet_nudged_at=now, updated_at=Inquiry.updated_at)
        )


async def quiet_inquiries(
    session: AsyncSession, quiet_since: datetime, limit: int = 500
) -> list[tuple[Inquiry, datetime]]:
    """Every inquiry quiet since `quiet_since`, nudged or not (for the digest)."""
    stmt = _quiet_base(quiet_since).add_columns(last_activity()).order_by(Inquiry.id).limit(limit)
    return [(inquiry, at) for inquiry, at in (await session.execute(stmt)).all()]


async def next_quiet_from(session: AsyncSession) -> datetime | None:
    """The earliest last activity among inquiries not yet nudged in their spell: it
    goes quiet STALE_DAYS after that."""
    stmt = (
        select(func.min(last_activity()))
        .select_from(Inquiry)
        .where(
            Inquiry.status.not_in(QUIET_STATUSES_EXCLUDED),
            ~select(NextStep.id)
            .where(NextStep.inquiry_id == Inquiry.id, NextStep.status == StepStatus.OPEN)
            .exists(),
            _not_nudged_this_spell(),
        )
    )
    return await session.scalar(stmt)
