"""Queries for the inquiry statistics' chart (bot/inquiries/board.py). No commits here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Inquiry, InquiryEvent, InquiryStatus


async def deepest_stages(session: AsyncSession, stages: Sequence[InquiryStatus]) -> dict[int, int]:
    """How many inquiries reached each stage (its index in `stages`) as their deepest,
    counting their current status and every status they were set to before: an
    agreement closed later counts as an agreement. A status that is no stage counts as
    the first. One statement, aggregated in the database (5,000 inquiries and their
    events came to Python row by row before)."""

    def depth(column: Any) -> Any:
        whens = [(column == stage, index) for index, stage in enumerate(stages) if index]
        return case(*whens, else_=0)

    current = select(Inquiry.id.label("inquiry_id"), depth(Inquiry.status).label("depth"))
    past = select(InquiryEvent.inquiry_id, depth(InquiryEvent.status)).where(
        InquiryEvent.kind == "status",
        InquiryEvent.status.is_not(None),
        InquiryEvent.inquiry_id.in_(select(Inquiry.id)),
    )
    every = union_all(current, past).subquery()
    deepest = select(func.max(every.c.depth).label("depth")).group_by(every.c.inquiry_id).subquery()
    stmt = select(deepest.c.depth, func.count()).group_by(deepest.c.depth)
    return {int(d): int(n) for d, n in (await session.execute(stmt)).all()}


async def response_times(
    session: AsyncSession, since: datetime
) -> list[tuple[datetime, datetime | None]]:
    """(received, first answered or None) of the inquiries received since then."""
    stmt = select(Inquiry.created_at, Inquiry.first_response_at).where(Inquiry.created_at >= since)
    return [(created, first) for created, first in await session.execute(stmt)]
