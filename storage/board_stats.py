"""Queries for the inquiry statistics' chart (bot/inquiries/board.py). No commits here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Inquiry, InquiryEvent, InquiryStatus


async def statuses_reached(session: AsyncSession) -> dict[int, set[InquiryStatus]]:
    """Each inquiry's current status and every status it was set to before: the funnel
    counts an agreement that was closed later as an agreement reached."""
    reached: dict[int, set[InquiryStatus]] = {}
    for inquiry_id, status in await session.execute(select(Inquiry.id, Inquiry.status)):
        reached[inquiry_id] = {status}
    history = select(InquiryEvent.inquiry_id, InquiryEvent.status).where(
        InquiryEvent.kind == "status", InquiryEvent.status.is_not(None)
    )
    for inquiry_id, past in await session.execute(history):
        if inquiry_id in reached and past is not None:
            reached[inquiry_id].add(past)
    return reached


async def response_times(
    session: AsyncSession, since: datetime
) -> list[tuple[datetime, datetime | None]]:
    """(received, first answered or None) of the inquiries received since then."""
    stmt = select(Inquiry.created_at, Inquiry.first_response_at).where(Inquiry.created_at >= since)
    return [(created, first) for created, first in await session.execute(stmt)]
