"""Queries for programme import and export. Callers own the transaction; nothing commits."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Department, Program, User

# Bind parameters per IN (...) list: well under SQLite's and asyncpg's limits (32,766).
CHUNK = 1000
T = TypeVar("T")


def _chunks(values: Collection[T]) -> Iterator[list[T]]:
    items = list(values)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


async def departments_by_codes(
    session: AsyncSession, codes: Collection[str]
) -> dict[str, Department]:
    found: dict[str, Department] = {}
    for chunk in _chunks(codes):
        for department in await session.scalars(
            select(Department).where(Department.code.in_(chunk))
        ):
            found[department.code] = department
    return found


async def programs_by_codes(session: AsyncSession, codes: Collection[str]) -> dict[str, Program]:
    found: dict[str, Program] = {}
    for chunk in _chunks(codes):
        for program in await session.scalars(select(Program).where(Program.code.in_(chunk))):
            found[program.code] = program
    return found


async def existing_user_ids(session: AsyncSession, ids: Collection[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(ids):
        found.update(await session.scalars(select(User.id).where(User.id.in_(chunk))))
    return found


async def add_departments(session: AsyncSession, departments: Sequence[Department]) -> None:
    """Insert and flush, so the new departments have ids for their programmes."""
    session.add_all(departments)
    await session.flush()


async def add_programs(session: AsyncSession, programs: Sequence[Program]) -> None:
    session.add_all(programs)
    await session.flush()


async def programs_with_departments(session: AsyncSession) -> list[tuple[Program, Department]]:
    """Every programme with its department, ordered by code (the export order)."""
    result = await session.execute(
        select(Program, Department)
        .join(Department, Program.department_id == Department.id)
        .order_by(Program.code)
    )
    return [(program, department) for program, department in result]


async def count_programs(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Program)) or 0)


async def programs_in_departments(
    session: AsyncSession, department_ids: Collection[int]
) -> list[tuple[Program, Department]]:
    found: list[tuple[Program, Department]] = []
    for chunk in _chunks(department_ids):
        result = await session.execute(
            select(Program, Department)
            .join(Department, Program.department_id == Department.id)
            .where(Department.id.in_(chunk))
        )
        found += [(program, department) for program, department in result]
    return found
