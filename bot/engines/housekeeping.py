"""Housekeeping: what expires is deleted, so the database keeps only what it promises.

Saved searches (their text can hold anything the person typed, a phone number included)
live SEARCH_TTL; list buttons that point at an older one answer as stale buttons do."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.people.roles import SEARCH_TTL
from storage import forms as forms_repo

EVERY = timedelta(hours=1)


async def purge(session: AsyncSession, now: datetime) -> datetime:
    """Delete what has expired; returns when to look again."""
    await forms_repo.purge_searches(session, now - SEARCH_TTL)
    return now + EVERY
