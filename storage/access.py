"""What the permission path (bot/access.py) needs to know about a thing, in one query
each. No commits here."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Inquiry, NextStep, Program, SavedSearch


async def inquiry_with_owner(
    session: AsyncSession, inquiry_id: int, *, lock: bool = False
) -> tuple[Inquiry, int | None] | None:
    """The inquiry and the owner of its programme (None for a general question)."""
    stmt = (
        select(Inquiry, Program.owner_id)
        .outerjoin(Program, Inquiry.program_id == Program.id)
        .where(Inquiry.id == inquiry_id)
    )
    if lock:
        stmt = stmt.with_for_update(of=Inquiry)
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def step(session: AsyncSession, step_id: int, *, lock: bool = False) -> NextStep | None:
    return await session.get(NextStep, step_id, with_for_update=lock)


async def program(session: AsyncSession, program_id: int, *, lock: bool = False) -> Program | None:
    return await session.get(Program, program_id, with_for_update=lock)


async def search(session: AsyncSession, search_id: int) -> SavedSearch | None:
    return await session.get(SavedSearch, search_id)
