"""When an engine wakes: one named APScheduler job per engine, through PTB's JobQueue.

The database is the truth for everything due in the future: the work looks there for
what is due now, does it, and says when the next thing falls due; the job is then
replaced by one at min(that time, now + tick). Nothing is kept in APScheduler's own job
store, so a restart loses nothing, and no misfire grace time can drop a run: after
downtime (or a busy loop) a late run simply runs at once.

Runs of one engine never overlap: APScheduler runs at most one instance of a job, and a
wake while one is under way (from APScheduler's "submitted" to its "executed") does not
schedule a second but makes it run again right after. The next run is planned on
"executed", not when our callback returns: APScheduler counts the instance until its
task's done-callback, a few loop turns later, and a job due before that would be
dropped as "maximum number of running instances reached".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)

from storage.models import utcnow

if TYPE_CHECKING:
    from telegram.ext import JobQueue

    from bot.context import BotContext

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[datetime | None]]
STOP_PATIENCE = 10.0  # seconds a stop waits for a run before cancelling it

# What makes the database the only truth (see the module docstring).
JOB_KWARGS = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
SUBMITTED, REFUSED = EVENT_JOB_SUBMITTED, EVENT_JOB_MAX_INSTANCES
ENDED = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED  # missed: never, no grace time


def job_kwargs(name: str) -> dict[str, object]:
    """One job per name: scheduling again replaces it, never adds a second."""
    return {**JOB_KWARGS, "id": name, "replace_existing": True}


class EngineJob:
    def __init__(self, queue: JobQueue[BotContext], name: str, work: Work, *, tick: float) -> None:
        self.queue, self.name, self.work, self.tick = queue, name, work, tick
        self._task: asyncio.Task[datetime | None] | None = None
        self._next_due: datetime | None = None  # what the last run said
        self._under_way = False  # submitted by APScheduler, not yet reported executed
        self._again = False  # woken while under way: run again as soon as it ends
        self._stopped = False

    def start(self) -> None:
        self.queue.scheduler.add_listener(self._event, SUBMITTED | REFUSED | ENDED)
        self._schedule(0.0)

    def wake(self) -> None:
        """Run now, or right after the run under way."""
        if self._stopped:
            return
        if self._under_way:
            self._again = True
        else:
            self._schedule(0.0)

    def rearm(self) -> None:
        """For the safety job: an engine with neither a job nor a run under way would
        never run again (a job removed by hand, a scheduling that failed); run it now."""
        if self._stopped or self._under_way:
            return
        if self.queue.scheduler.get_job(self.name) is None:
            log.warning("%s had no job scheduled; scheduling it now", self.name)
            self._schedule(0.0)

    async def stop(self) -> None:
        """No more runs; the one under way may finish (STOP_PATIENCE), else is cancelled."""
        self._stopped = True
        self.queue.scheduler.remove_listener(self._event)
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
            self._next_due = await self._task
        except asyncio.CancelledError:
            if self._stopped:  # stop() ran out of patience: nothing follows
                return
            raise

    async def _work(self) -> datetime | None:
        try:
            return await self.work()
        except Exception:
            log.exception("%s failed; trying again at the next tick", self.name)
            return None

    def _event(self, event: JobEvent) -> None:
        if event.job_id != self.name or self._stopped:
            return
        if event.code == SUBMITTED:
            self._under_way = True
            return
        if event.code == REFUSED:  # not expected: then one is under way,
            self._again = True  # and runs again when it ends
            return
        self._under_way = False  # ended: plan the next run
        next_due, self._next_due = self._next_due, None
        delay = self.tick
        if self._again:
            delay = 0.0
        elif next_due is not None:
            delay = max(0.0, min(delay, (next_due - utcnow()).total_seconds()))
        self._schedule(delay)

    def _schedule(self, delay: float) -> None:
        self.queue.run_once(self._run, delay, name=self.name, job_kwargs=job_kwargs(self.name))
