"""When an engine wakes: one named APScheduler job per engine, through PTB's JobQueue.

The database is the truth for everything due in the future: the work looks there for
what is due now, does it, and says when the next thing falls due; the job is then
replaced by one at min(that time, now + tick). Nothing is kept in APScheduler's own job
store, so a restart loses nothing, and no misfire grace time can drop a run: after
downtime (or a busy loop) a late run simply runs at once.

Runs of one engine never overlap: APScheduler runs at most one instance of a job, and a
wake during a run does not schedule a second one but makes the run start again right
after it ends. A date job leaves APScheduler's store the moment it is submitted, so "no
job in the store" means a run is under way (or about to start).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from storage.models import utcnow

if TYPE_CHECKING:
    from telegram.ext import JobQueue

    from bot.context import BotContext

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[datetime | None]]
STOP_PATIENCE = 10.0  # seconds a stop waits for a run before cancelling it

# What makes the database the only truth (see the module docstring).
JOB_KWARGS = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}


def job_kwargs(name: str) -> dict[str, object]:
    """One job per name: scheduling again replaces it, never adds a second."""
    return {**JOB_KWARGS, "id": name, "replace_existing": True}


class EngineJob:
    def __init__(self, queue: JobQueue[BotContext], name: str, work: Work, *, tick: float) -> None:
        self.queue, self.name, self.work, self.tick = queue, name, work, tick
        self._task: asyncio.Task[datetime | None] | None = None
        self._again = False  # woken during a run: run again as soon as it ends
        self._stopped = False
        self._ended = time.monotonic()  # when the last run ended

    def start(self) -> None:
        self._schedule(0.0)

    def wake(self) -> None:
        """Run now, or right after the run under way."""
        if self._stopped:
            return
        if self.queue.scheduler.get_job(self.name) is None:  # submitted: running, or about to
            self._again = True
        else:
            self._schedule(0.0)

    def rearm(self) -> None:
        """For the safety job: an engine with neither a job nor a run for two ticks
        (PTB could not start its callback, say) would never run again; schedule it now.
        Two ticks, as a job submitted this instant has left the store before its run
        began."""
        running = self._task is not None and not self._task.done()
        overdue = time.monotonic() - self._ended > 2 * self.tick
        if self._stopped or running or not overdue:
            return
        if self.queue.scheduler.get_job(self.name) is None:
            log.warning("%s had no job scheduled; scheduling it now", self.name)
            self._schedule(0.0)

    async def stop(self) -> None:
        """No more runs; the one under way may finish (STOP_PATIENCE), else is cancelled."""
        self._stopped = True
        if self.queue.scheduler.get_job(self.name) is not None:
            self.queue.scheduler.remove_job(self.name)
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=STOP_PATIENCE)
            if not task.done():
                log.warning("%s did not stop within %.0f s: cancelled", self.name, STOP_PATIENCE)
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self, _context: BotContext) -> None:
        if self._stopped:
            return
        self._again = False  # before the work: a wake during it is not lost
        self._task = asyncio.create_task(self._work(), name=self.name)
        try:
            next_due = await self._task
        except asyncio.CancelledError:
            if self._stopped:  # stop() ran out of patience: nothing follows
                return
            raise
        finally:
            self._ended = time.monotonic()
        if self._stopped:
            return
        delay = self.tick
        if self._again:
            delay = 0.0
        elif next_due is not None:
            delay = max(0.0, min(delay, (next_due - utcnow()).total_seconds()))
        self._schedule(delay)

    async def _work(self) -> datetime | None:
        try:
            return await self.work()
        except Exception:
            log.exception("%s failed; trying again at the next tick", self.name)
            return None

    def _schedule(self, delay: float) -> None:
        self.queue.run_once(self._run, delay, name=self.name, job_kwargs=job_kwargs(self.name))
