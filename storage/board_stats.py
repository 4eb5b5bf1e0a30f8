"""Queries for the inquiry statistics' chart (bot/inquiries/board.py). No commits here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Inquiry, InquiryEvent, InquiryStatus
from storage.sql_functions import hours_between

INQ = Inquiry.__table__.c
EVENT = InquiryEvent.__table__.c


def _depth(column: Any, stages: Sequence[InquiryStatus]) -> Any:
    whens = [(column == stage, index) for index, stage in enumerate(stages) if index]
    return case(*whens, else_=0)


async def deepest_stages(session: AsyncSession, stages: Sequence[InquiryStatus]) -> dict[int, int]:
    """How many inquiries reached each stage (its index in `stages`) as their deepest,
    counting their current status and every status they were set to before: an
    agreement closed later counts as an agreement. A status that is no stage counts as
    the first.

    Two statements, both aggregated in the database: how many are at each stage now (the
    status index answers it), and the few whose past went deeper than where they are
    now, each with both depths. (One statement over every inquiry and its events, grouped
    per inquiry, took 11 ms with 5,000 of them.)"""
    connection = await session.connection()
    now_at = select(INQ.status, func.count(INQ.id)).group_by(INQ.status)
    deepest: dict[int, int] = {}
    for status, n in await connection.execute(now_at):
        depth = stages.index(status) if status in stages else 0
        deepest[depth] = deepest.get(depth, 0) + int(n)
    past = func.max(_depth(EVENT.status, stages))
    current = _depth(INQ.status, stages)
    deeper = (
        select(current, past)
        .select_from(InquiryEvent.__table__.join(Inquiry.__table__, EVENT.inquiry_id == INQ.id))
        .where(EVENT.kind == "status", EVENT.status.is_not(None))
        .group_by(EVENT.inquiry_id, INQ.status)
        .having(past > current)
    )
    for was, went in await connection.execute(deeper):
        deepest[int(was)] -= 1
        deepest[int(went)] = deepest.get(int(went), 0) + 1
    return {depth: n for depth, n in deepest.items() if n}


async def response_times(
    session: AsyncSession, weeks: Sequence[datetime]
) -> list[tuple[int, float | None, int]]:
    """(week, hours to the first answer or None, how many) of the inquiries received
    from `weeks[0]` until before `weeks[-1]`, week i beginning at weeks[i]. Bucketed,
    timed and counted in the database, so only the answered come one by one (for their
    medians): 4,500 pairs of datetimes parsed and moved into the zone in Python took
    35 ms."""
    if len(weeks) < 2:
        return []
    week = case(
        *((INQ.created_at < start, i) for i, start in enumerate(weeks[1:])), else_=len(weeks)
    ).label("week")
    hours = hours_between(INQ.created_at, INQ.first_response_at).label("hours")
    stmt = (
        select(week, hours, func.count())
        .where(INQ.created_at >= weeks[0], INQ.created_at < weeks[-1])
        .group_by(week, hours)
    )
    connection = await session.connection()
    return [(int(i), h, int(n)) for i, h, n in await connection.execute(stmt)]
