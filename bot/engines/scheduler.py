"""Wakes a piece of work when it falls due, and on a periodic safety tick.

The database is the truth for everything due in the future: the work function looks
there for what is due now, does it, and says when the next thing falls due. Nothing is
kept in the scheduler itself, so a restart loses nothing and, after downtime, whatever
fell due meanwhile is simply due now (no misfire grace time can drop it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from storage.models import utcnow

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[datetime | None]]


class Ticker:
    def __init__(self, name: str, work: Work, *, tick: float) -> None:
        self.name, self.work, self.tick = name, work, tick
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()  # before the work: a wake-up during it is not lost
            try:
                next_due = await self.work()
            except Exception:
                log.exception("%s failed; trying again at the next tick", self.name)
                next_due = None
            delay = self.tick
            if next_due is not None:
                delay = max(0.0, min(delay, (next_due - utcnow()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
