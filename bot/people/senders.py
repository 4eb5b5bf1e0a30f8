"""Recently recognised senders, so most updates need no database read to say who sent
them (issue 15: one cheap unit of work per update).

A person is kept for SENDER_TTL at most. Anything that changes what a Person holds
(role, language, the form they are in, forgetting them) drops the entry at once in this
process: a write unit of work of the person's own update drops theirs
(BotContext.db), and a write about someone else names them with `changed(session, id)`
(an admin's /staff change, an invite redeemed), dropped when that unit of work ends.
Another process (a second webhook instance, the admin CLI) is not told: its changes
reach here within SENDER_TTL, which is why it is seconds, not minutes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.people.person import Person

SENDER_TTL = timedelta(seconds=3)
CHANGED = "partnerbot.people_changed"  # AsyncSession.info key: ids whose Person changed


def changed(session: AsyncSession, user_id: int) -> None:
    """Note that this unit of work changes what `user_id`'s Person says."""
    session.info.setdefault(CHANGED, set()).add(user_id)


def changed_in(session: AsyncSession) -> set[int]:
    found = session.info.get(CHANGED)
    return set(found) if found else set()


class Senders:
    """The newest few thousand recognised senders, each with when it was read. Time is
    the app's clock (utcnow, which tests move): a clock moved back expires everything."""

    MEMORY = 4096

    def __init__(self, ttl: timedelta = SENDER_TTL) -> None:
        self.ttl = ttl
        self._people: OrderedDict[int, tuple[Person, datetime]] = OrderedDict()

    def get(self, user_id: int, now: datetime) -> Person | None:
        found = self._people.get(user_id)
        if found is None:
            return None
        person, read_at = found
        if not read_at <= now < read_at + self.ttl:
            del self._people[user_id]
            return None
        return person

    def put(self, person: Person, now: datetime) -> None:
        self._people[person.id] = (person, now)
        self._people.move_to_end(person.id)
        if len(self._people) > self.MEMORY:
            self._people.popitem(last=False)

    def forget(self, user_ids: Iterable[int]) -> None:
        for user_id in user_ids:
            self._people.pop(user_id, None)

    def __len__(self) -> int:
        return len(self._people)
