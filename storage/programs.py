"""Catalog queries: keyset-paged lists by kind, department or search, and single cards.

Lists are ordered by id and paged by an anchor id (the first id of the page, or "before"
an id for the previous page), so page 500 costs the same index lookup as page 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain

from sqlalchemy import ColumnElement, and_, event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, ORMExecuteState, Session

from storage.models import Department, Program, ProgramKind, ProgramStatus, Role, User


@dataclass(frozen=True, slots=True)
class ProgramFilter:
    """Which programmes a list shows. Exactly one of kind, department_id, words is set."""

    kind: ProgramKind | None = None
    department_id: int | None = None
    words: tuple[str, ...] = ()
    statuses: tuple[ProgramStatus, ...] = (ProgramStatus.OPEN,)

    def where(self) -> ColumnElement[bool]:
        clauses: list[ColumnElement[bool]] = [_status_in(self.statuses)]
        if self.kind is not None:
            clauses.append(Program.kind == self.kind)
        if self.department_id is not None:
            clauses.append(Program.department_id == self.department_id)
        for word in self.words:
            clauses.append(Program.search_text.contains(word, autoescape=True))
        return and_(*clauses)


# Programme writes committed in this process: a process's catalogue copies may trust
# their last version check for a moment (bot/catalog/version.py) only while this count
# stands still. Counted by session events, so every writer is seen, whichever path it took.
_WROTE = "partnerbot.programs_written"  # Session.info: this transaction wrote programmes
_committed_writes = 0


def committed_writes() -> int:
    return _committed_writes


@event.listens_for(Session, "after_flush")
def _note_flushed(session: Session, _context: object) -> None:
    if any(isinstance(o, Program) for o in chain(session.new, session.dirty, session.deleted)):
        session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _note_executed(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and (
        state.bind_mapper is not None and state.bind_mapper.class_ is Program
    ):
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    global _committed_writes
    if session.info.pop(_WROTE, False):
        _committed_writes += 1


@event.listens_for(Session, "after_rollback")
def _drop_rolled_back(session: Session) -> None:
    session.info.pop(_WROTE, None)


async def catalog_version(session: AsyncSession) -> tuple[object, ...]:
    """Changes whenever a programme is added or changed (every write sets updated_at;
    programmes are never deleted). Two scalar sub-queries, because SQLite answers a lone
    max() from the index but scans for max() beside another aggregate."""
    latest_change = select(func.max(Program.updated_at)).scalar_subquery()
    latest_id = select(func.max(Program.id)).scalar_subquery()
    return tuple((await session.execute(select(latest_change, latest_id))).one())


@dataclass(frozen=True, slots=True)
class CopyRow:
    """What a process keeps of each programme (bot/catalog/search.py)."""

    id: int
    is_open: bool
    search_text: str
    title_zh: str
    title_en: str
    kind: ProgramKind
    department_id: int


async def search_texts_changed_since(
    session: AsyncSession, since: datetime | None
) -> list[CopyRow]:
    """The programmes changed at or after `since` (all if None), by id."""
    stmt = select(
        Program.id, Program.status, Program.search_text, Program.title_zh, Program.title_en,
        Program.kind, Program.department_id,
    ).order_by(Program.id)  # fmt: skip
    if since is not None:
        stmt = stmt.where(Program.updated_at >= since)
    connection = await session.connection()  # Core rows: 10,000 of them at a full load
    return [
        CopyRow(
            int(pid),
            status is ProgramStatus.OPEN,
            str(text),
            str(zh),
            str(en),
            kind,
            int(department_id),
        )
        for pid, status, text, zh, en, kind, department_id in await connection.execute(stmt)
    ]


def _status_in(statuses: Sequence[ProgramStatus]) -> ColumnElement[bool]:
    column: Mapped[ProgramStatus] = Program.status
    return column == statuses[0] if len(statuses) == 1 else column.in_(statuses)


@dataclass(frozen=True, slots=True)
class ListRow:
    id: int
    title_zh: str
    title_en: str


async def newest_ids(session: AsyncSession, flt: ProgramFilter, size: int) -> list[int]:
    """The ids of the `size` newest rows, newest first."""
    stmt = select(Program.id).where(flt.where()).order_by(Program.id.desc()).limit(size)
    return list(await session.scalars(stmt))


async def kind_counts(session: AsyncSession) -> dict[ProgramKind, int]:
    stmt = (
        select(Program.kind, func.count(Program.id))
        .where(Program.status == ProgramStatus.OPEN)
        .group_by(Program.kind)
    )
    return {kind: int(n) for kind, n in (await session.execute(stmt)).all()}


@dataclass(frozen=True, slots=True)
class DepartmentRow:
    id: int
    name_zh: str
    name_en: str
    programs: int


async def departments_with_programs(session: AsyncSession) -> list[DepartmentRow]:
    stmt = (
        select(Department.id, Department.name_zh, Department.name_en, func.count(Program.id))
        .join(Program, Program.department_id == Department.id)
        .where(Program.status == ProgramStatus.OPEN)
        .group_by(Department.id, Department.name_zh, Department.name_en)
        .order_by(Department.code)
    )
    return [DepartmentRow(*row) for row in (await session.execute(stmt)).all()]


async def all_departments(session: AsyncSession) -> list[Department]:
    return list(await session.scalars(select(Department).order_by(Department.code)))


async def get_department(session: AsyncSession, department_id: int) -> Department | None:
    return await session.get(Department, department_id)


@dataclass(frozen=True, slots=True)
class Card:
    program: Program
    department: Department
    owner: User | None


async def get_card(session: AsyncSession, program_id: int) -> Card | None:
    stmt = (
        select(Program, Department, User)
        .join(Department, Program.department_id == Department.id)
        .outerjoin(User, Program.owner_id == User.id)
        .where(Program.id == program_id)
    )
    row = (await session.execute(stmt)).first()
    return Card(row[0], row[1], row[2]) if row else None


async def get_program(session: AsyncSession, program_id: int) -> Program | None:
    return await session.get(Program, program_id)


async def add_program(session: AsyncSession, program: Program) -> Program:
    session.add(program)
    await session.flush()
    return program


async def add_department(session: AsyncSession, department: Department) -> Department:
    session.add(department)
    await session.flush()
    return department


async def department_by_code(session: AsyncSession, code: str) -> Department | None:
    return await session.scalar(select(Department).where(Department.code == code))


async def program_code_taken(session: AsyncSession, code: str) -> bool:
    return await session.scalar(select(Program.id).where(Program.code == code)) is not None


async def teachers(session: AsyncSession, offset: int, size: int) -> list[User]:
    stmt = (
        select(User)
        .where(User.role.in_((Role.TEACHER, Role.ADMIN)))
        .order_by(User.first_name, User.id)
        .offset(offset)
        .limit(size)
    )
    return list(await session.scalars(stmt))
