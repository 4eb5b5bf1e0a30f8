"""Form drafts and saved searches. No commits here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
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
    await session.flush()
    return draft


async def drop_draft(session: AsyncSession, user_id: int) -> bool:
    result = await session.execute(delete(FormDraft).where(FormDraft.user_id == user_id))
    return bool(getattr(result, "rowcount", 0))


async def active_form(session: AsyncSession, user_id: int) -> str | None:
    return await session.scalar(select(FormDraft.form).where(FormDraft.user_id == user_id))


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
