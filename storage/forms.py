"""Form drafts and saved searches. No commits here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import FormDraft, SavedSearch, utcnow


async def get_draft(session: AsyncSession, user_id: int) -> FormDraft | None:
    return await session.get(FormDraft, user_id)


async def put_draft(
    session: AsyncSession, user_id: int, form: str, step: str, data: dict[str, Any]
) -> FormDraft:
    draft = await session.get(FormDraft, user_id)
    if draft is None:
        draft = FormDraft(user_id=user_id, form=form, step=step, data=dict(data))
        session.add(draft)
    else:
        draft.form, draft.step, draft.data = form, step, dict(data)
        draft.updated_at = utcnow()
    draft.paused = False  # answering (or restarting) a form takes it up again
    await session.flush()
    return draft


async def set_paused(session: AsyncSession, user_id: int, paused: bool) -> bool:
    """Pause or resume the draft; False when there is none (or it already was so)."""
    result = await session.execute(
        update(FormDraft)
        .where(FormDraft.user_id == user_id, FormDraft.paused.is_not(paused))
        .values(paused=paused, updated_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


async def set_prompt(session: AsyncSession, user_id: int, chat_id: int, message_id: int) -> None:
    """Where the draft's last question was sent (its buttons go when the next comes)."""
    await session.execute(
        update(FormDraft)
        .where(FormDraft.user_id == user_id)
        .values(prompt_chat_id=chat_id, prompt_message_id=message_id)
    )


async def drop_draft(session: AsyncSession, user_id: int) -> bool:
    result = await session.execute(delete(FormDraft).where(FormDraft.user_id == user_id))
    return bool(getattr(result, "rowcount", 0))


async def active_form(session: AsyncSession, user_id: int) -> tuple[str, bool, datetime] | None:
    """The form, whether it is paused, and when it was last touched."""
    stmt = select(FormDraft.form, FormDraft.paused, FormDraft.updated_at).where(
        FormDraft.user_id == user_id
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1], row[2]) if row else None


async def save_search(session: AsyncSession, user_id: int, query: str) -> int:
    search = SavedSearch(user_id=user_id, query=query)
    session.add(search)
    await session.flush()
    return search.id


async def purge_searches(session: AsyncSession, created_before: datetime) -> int:
    result = await session.execute(
        delete(SavedSearch).where(SavedSearch.created_at < created_before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
