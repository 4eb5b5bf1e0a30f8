"""Writes the in-chat catalog management needs. No commits here."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Department, Program, Role, User


async def department_by_name(session: AsyncSession, name: str) -> Department | None:
    lowered = name.casefold()
    stmt = select(Department).where(
        (func.lower(Department.name_zh) == lowered) | (func.lower(Department.name_en) == lowered)
    )
    return (await session.scalars(stmt)).first()


async def next_department_code(session: AsyncSession) -> str:
    count = await session.scalar(select(func.count(Department.id)))
    return f"DEPT-{int(count or 0) + 1:03d}"


async def staff_user(session: AsyncSession, user_id: int) -> User | None:
    user = await session.get(User, user_id)
    if user is None or user.role not in (Role.TEACHER, Role.ADMIN):
        return None
    return user


async def count_staff(session: AsyncSession) -> int:
    stmt = select(func.count(User.id)).where(User.role.in_((Role.TEACHER, Role.ADMIN)))
    return int(await session.scalar(stmt) or 0)


async def lock_program(session: AsyncSession, program_id: int) -> Program | None:
    return await session.get(Program, program_id, with_for_update=True)
