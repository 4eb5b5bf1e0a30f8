"""/forget: a contact removed from every table (storage/forget.py says what happens to
each, column by column), in the caller's one unit of work."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.people.person import Person
from bot.ui.errors import FieldError
from storage import forget as repo
from storage.forget import Footprint, Forgotten


def _require_not_staff(person: Person) -> None:
    """Staff are demoted by an admin first (/staff). The role is the one read from the
    database for this very update (bot/people/roles.py)."""
    if person.is_staff:
        raise FieldError("forget.staff")


async def preview(session: AsyncSession, person: Person) -> Footprint:
    """What /forget would delete and keep, counted, for the confirmation screen."""
    _require_not_staff(person)
    return await repo.footprint(session, person.id)


async def forget(session: AsyncSession, person: Person) -> Forgotten:
    """Remove the person from every table; returns what was done, counted."""
    _require_not_staff(person)
    return await repo.erase(session, person.id)
