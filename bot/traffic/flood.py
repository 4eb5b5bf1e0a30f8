"""Flood protection: a per-user token bucket, kept in memory.

Each user has a bucket of FLOOD_BURST tokens that refills at FLOOD_RATE tokens per
second; every update costs one. An update that finds the bucket empty is dropped, not
delayed: a delayed update would keep the user's place in the per-user queue (and a slot
of the concurrent-update pool) busy and then answer taps long after the screen they were
made on has changed; a dropped one costs microseconds and nobody else waits for it.
The user is told once per flood episode; the episode ends when the bucket is full again
(they paused for FLOOD_BURST / FLOOD_RATE seconds).

Only users active within that refill time are remembered, so the map stays small. The
state is per process: with several instances a user's limit is per instance, which is
fine for politeness (Telegram itself limits what reaches one bot).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.ui.i18n import pick_language
from storage import users as users_repo


class Verdict(Enum):
    ALLOW = "allow"  # handle the update as usual
    NOTE = "note"  # drop it, and tell the user (the first drop of an episode)
    DROP = "drop"  # drop it quietly (already told in this episode)


@dataclass
class _Bucket:
    tokens: float
    at: float  # when `tokens` was computed
    noted: bool = False  # the user was told in this flood episode
    lang: str | None = None  # the language they were told in, for later button answers


class FloodGate:
    def __init__(self, burst: int, rate: float) -> None:
        if burst < 1 or rate <= 0:
            raise ValueError("burst must be ≥ 1 and rate > 0")
        self.burst = float(burst)
        self.rate = rate
        self.idle_after = self.burst / rate  # a bucket this old is full: forget it
        # Least recently active first, so idle users are popped from the front.
        self._buckets: OrderedDict[int, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, user_id: int, now: float) -> Verdict:
        """Spend a token of `user_id` at monotonic time `now` (seconds)."""
        self._forget_idle(now)
        bucket = self._buckets.pop(user_id, None)
        if bucket is None:
            bucket = _Bucket(tokens=self.burst, at=now)
        else:
            elapsed = max(0.0, now - bucket.at)  # a clock that steps back refills nothing
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
            bucket.at = now
            if bucket.tokens >= self.burst:
                bucket.noted = False  # calmed down: a new episode may be told again
        self._buckets[user_id] = bucket  # most recently active at the end
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return Verdict.ALLOW
        if bucket.noted:
            return Verdict.DROP
        bucket.noted = True
        return Verdict.NOTE

    def language(self, user_id: int) -> str | None:
        bucket = self._buckets.get(user_id)
        return bucket.lang if bucket else None

    def remember_language(self, user_id: int, lang: str) -> None:
        bucket = self._buckets.get(user_id)
        if bucket is not None:
            bucket.lang = lang

    def _forget_idle(self, now: float) -> None:
        while self._buckets:
            oldest_id, oldest = next(iter(self._buckets.items()))
            if now - oldest.at < self.idle_after:
                break
            del self._buckets[oldest_id]


async def note_language(
    session: AsyncSession, user_id: int, language_code: str | None, default: str
) -> str:
    """The language to tell a flooding user in: their chosen one if they have one."""
    user = await users_repo.get_user(session, user_id)
    if user is not None:
        return user.language
    return pick_language(language_code, default)
