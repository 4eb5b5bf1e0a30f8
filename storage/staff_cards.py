"""Where inquiries' staff cards are (staff_cards). No commits here.

Writes that two processes could race (posting a card, opening a topic) are
compare-and-set: `claim_*` changes a row only from the value the caller saw, and says
whether it did, so the loser can take back what it made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import Inquiry, StaffCard


async def get(
    session: AsyncSession, inquiry_id: int, chat_id: int, *, lock: bool = False
) -> StaffCard | None:
    stmt = select(StaffCard).where(StaffCard.inquiry_id == inquiry_id, StaffCard.chat_id == chat_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def ensure(session: AsyncSession, inquiry_id: int, chat_id: int, now: datetime) -> StaffCard:
    """The row, made empty if there is none (two processes may both try: one insert wins).
    The inquiry's row is locked first, as every change of an inquiry does: the insert's
    foreign-key check would otherwise wait on a change that waits on this insert."""
    await session.execute(select(Inquiry.id).where(Inquiry.id == inquiry_id).with_for_update())
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(StaffCard)
        .values(inquiry_id=inquiry_id, chat_id=chat_id, edits=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["inquiry_id", "chat_id"])
    )
    card = await get(session, inquiry_id, chat_id, lock=True)
    assert card is not None
    return card


async def of_inquiry(session: AsyncSession, inquiry_id: int) -> list[StaffCard]:
    stmt = select(StaffCard).where(StaffCard.inquiry_id == inquiry_id).order_by(StaffCard.chat_id)
    return list(await session.scalars(stmt))


async def by_thread(session: AsyncSession, chat_id: int, thread_id: int) -> StaffCard | None:
    stmt = select(StaffCard).where(StaffCard.chat_id == chat_id, StaffCard.thread_id == thread_id)
    return (await session.scalars(stmt.limit(1))).first()


async def by_message(session: AsyncSession, chat_id: int, message_id: int) -> StaffCard | None:
    stmt = select(StaffCard).where(StaffCard.chat_id == chat_id, StaffCard.message_id == message_id)
    return (await session.scalars(stmt.limit(1))).first()


async def claim_thread(
    session: AsyncSession, inquiry_id: int, chat_id: int, seen: int | None, thread_id: int | None,
    now: datetime,
) -> bool:  # fmt: skip
    """Set the topic if it is still `seen`; a new topic means the card is not in it yet."""
    return await _swap(
        session, inquiry_id, chat_id, StaffCard.thread_id, seen,
        {"thread_id": thread_id, "message_id": None, "updated_at": now},
    )  # fmt: skip


async def claim_message(
    session: AsyncSession, inquiry_id: int, chat_id: int, seen: int | None,
    message_id: int | None, now: datetime,
) -> bool:  # fmt: skip
    return await _swap(
        session, inquiry_id, chat_id, StaffCard.message_id, seen,
        {"message_id": message_id, "updated_at": now},
    )  # fmt: skip


async def _swap(
    session: AsyncSession, inquiry_id: int, chat_id: int,
    column: InstrumentedAttribute[int | None], seen: int | None, values: dict[str, object],
) -> bool:  # fmt: skip
    stmt = update(StaffCard).where(StaffCard.inquiry_id == inquiry_id, StaffCard.chat_id == chat_id)
    stmt = stmt.where(column.is_(None) if seen is None else column == seen)
    result = await session.execute(stmt.values(**values))
    return bool(getattr(result, "rowcount", 0))
