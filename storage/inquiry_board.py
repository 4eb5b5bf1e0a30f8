"""The Mini App's board: inquiries by status under filters, in a fixed number of statements.

One statement counts every column, one per column fetches its newest rows, one the next
due time of those rows; whatever the filters, a board is the same few statements, each
reading along an index, with 5,000 inquiries as with 50.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.inquiries import teacher_scope
from storage.models import Inquiry, InquiryStatus, NextStep, Program, ProgramKind, StepStatus


@dataclass(frozen=True, slots=True)
class BoardFilter:
    teacher_id: int | None = None  # only this teacher's scope (bot/people/roles.py)
    kind: ProgramKind | None = None
    department_id: int | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    older_than: datetime | None = None
    overdue_at: datetime | None = None  # only those with an open step due before this
    words: tuple[str, ...] = ()  # each in the organisation, message or programme title
    number: int | None = None  # or this inquiry, by its number

    def where(self) -> ColumnElement[bool]:
        clauses: list[ColumnElement[bool]] = []
        if self.teacher_id is not None:
            clauses.append(teacher_scope(self.teacher_id))
        if self.kind is not None:
            clauses.append(Program.kind == self.kind)
        if self.department_id is not None:
            clauses.append(Program.department_id == self.department_id)
        if self.unassigned:
            clauses.append(Inquiry.assignee_id.is_(None))
        elif self.assignee_id is not None:
            clauses.append(Inquiry.assignee_id == self.assignee_id)
        if self.older_than is not None:
            clauses.append(Inquiry.created_at <= self.older_than)
        if self.overdue_at is not None:
            # IN, computed once, rather than EXISTS: SQLite answered the correlated form
            # from the (status, due_at) index, scanning every open step per inquiry (1 s).
            overdue = select(NextStep.inquiry_id).where(
                NextStep.status == StepStatus.OPEN, NextStep.due_at < self.overdue_at
            )
            clauses.append(Inquiry.id.in_(overdue))
        text = [_matches(word) for word in self.words]
        if text and self.number is not None:
            clauses.append(or_(Inquiry.id == self.number, and_(*text)))
        elif text:
            clauses.append(and_(*text))
        return and_(True, *clauses)

    @property
    def needs_programs(self) -> bool:
        """Whether a clause reads the programmes' table (else counting skips the join)."""
        return bool(
            self.teacher_id is not None or self.kind is not None
            or self.department_id is not None or self.words
        )  # fmt: skip


def _matches(word: str) -> ColumnElement[bool]:
    # lower() on both sides: Latin letters match in any case, Chinese is unchanged.
    return or_(
        *(
            func.lower(column).contains(word, autoescape=True)
            for column in (Inquiry.organization, Inquiry.message, Program.title_zh,
                           Program.title_en)
        )
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class BoardRow:
    id: int
    status: InquiryStatus
    organization: str
    created_at: datetime
    assignee_id: int | None
    program_id: int | None
    title_zh: str | None
    title_en: str | None
    kind: ProgramKind | None
    department_id: int | None


async def counts(session: AsyncSession, flt: BoardFilter) -> dict[InquiryStatus, int]:
    stmt = select(Inquiry.status, func.count(Inquiry.id))
    if flt.needs_programs:
        stmt = stmt.outerjoin(Program, Inquiry.program_id == Program.id)
    stmt = stmt.where(flt.where()).group_by(Inquiry.status)
    return {status: int(n) for status, n in (await session.execute(stmt)).all()}


async def newest(
    session: AsyncSession, flt: BoardFilter, status: InquiryStatus, limit: int
) -> list[BoardRow]:
    """The newest `limit` inquiries of one status, newest first, read along the
    (status, created_at) index, so a column costs its own rows, not the table's. (One
    statement per column: SQLite read the six as a UNION ALL three times slower.)"""
    stmt = (
        select(
            Inquiry.id, Inquiry.status, Inquiry.organization, Inquiry.created_at,
            Inquiry.assignee_id, Inquiry.program_id, Program.title_zh, Program.title_en,
            Program.kind, Program.department_id,
        )
        .outerjoin(Program, Inquiry.program_id == Program.id)
        .where(Inquiry.status == status, flt.where())
        .order_by(Inquiry.created_at.desc(), Inquiry.id.desc())
        .limit(limit)
    )  # fmt: skip
    rows: Any = (await session.execute(stmt)).all()  # ten typed columns: past mypy's overloads
    return [BoardRow(*row) for row in rows]


async def next_due(session: AsyncSession, inquiry_ids: Sequence[int]) -> dict[int, datetime]:
    """The earliest open step of each inquiry that has one. (A statement of its own: as
    a correlated subquery in each column's, SQLite took the (status, due_at) index and
    the board three times as long.)"""
    if not inquiry_ids:
        return {}
    stmt = (
        select(NextStep.inquiry_id, func.min(NextStep.due_at))
        .where(NextStep.inquiry_id.in_(inquiry_ids), NextStep.status == StepStatus.OPEN)
        .group_by(NextStep.inquiry_id)
    )
    found = (await session.execute(stmt)).all()
    return {int(inquiry_id): due for inquiry_id, due in found if due is not None}
