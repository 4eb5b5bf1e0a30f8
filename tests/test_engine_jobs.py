"""The engines' jobs on PTB's real JobQueue (APScheduler): a job runs at once, then at
the next due time its work reports (never later than its tick); a wake runs it now, or
right after the run under way, never beside it; a run that falls due late (a stalled
machine, a clock moved on) still runs; a stop lets the run finish or cancels it; and the
running bot's safety job re-arms an engine whose job went missing, and its stop hands a
group's unsent batch back at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select
from telegram.ext import JobQueue

from bot.context import BotContext
from bot.engines import outbox, wakeup
from bot.engines.wakeup import EngineJob
from bot.settings import Settings
from storage.models import OutboxMessage, OutboxState, utcnow
from tests.fakebot import FakeTelegram
from tests.harness import BotRunner

WITHIN = 10.0  # seconds: what "at once" may take on a loaded machine


class Work:
    """A job's work that records its runs; `hold` keeps a run going until released."""

    def __init__(self, next_due: Callable[[], datetime | None] = lambda: None) -> None:
        self.next_due = next_due
        self.starts: list[float] = []
        self.running = 0
        self.most_at_once = 0
        self.hold: asyncio.Event | None = None
        self.started = asyncio.Event()  # set at each start
        self.cancelled = False

    async def __call__(self) -> datetime | None:
        self.starts.append(time.monotonic())
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.started.set()
        try:
            if self.hold is not None:
                await self.hold.wait()
            return self.next_due()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            self.running -= 1

    async def run_number(self, n: int, timeout: float = WITHIN) -> None:
        deadline = time.monotonic() + timeout
        while len(self.starts) < n:
            self.started.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"run {n} did not start within {timeout}s: {self.starts}")
            try:
                await asyncio.wait_for(self.started.wait(), left)
            except TimeoutError:
                continue


async def test_runs_at_once_then_at_the_due_time_it_reports(
    job_queue: JobQueue[BotContext],
) -> None:
    work = Work(lambda: utcnow() + timedelta(seconds=0.5))
    job = EngineJob(job_queue, "due", work, tick=60)
    job.start()
    try:
        await work.run_number(2)
    finally:
        await job.stop()
    gap = work.starts[1] - work.starts[0]
    assert 0.45 <= gap < WITHIN, gap  # at the due time, not at the 60 s tick


async def test_nothing_due_looks_again_at_the_tick(job_queue: JobQueue[BotContext]) -> None:
    work = Work()  # None: nothing planned in the database
    job = EngineJob(job_queue, "idle", work, tick=0.5)
    job.start()
    try:
        await work.run_number(3)
    finally:
        await job.stop()
    assert all(b - a >= 0.45 for a, b in zip(work.starts, work.starts[1:], strict=False))


async def test_a_wake_while_asleep_runs_now(job_queue: JobQueue[BotContext]) -> None:
    work = Work()
    job = EngineJob(job_queue, "asleep", work, tick=3600)
    job.start()
    try:
        await work.run_number(1)
        await asyncio.sleep(0.1)  # its run ended; the next is an hour away
        job.wake()
        await work.run_number(2)
    finally:
        await job.stop()


async def test_wakes_during_a_run_run_it_once_more_right_after_never_beside_it(
    job_queue: JobQueue[BotContext],
) -> None:
    work = Work()
    work.hold = asyncio.Event()
    job = EngineJob(job_queue, "busy", work, tick=3600)
    job.start()
    try:
        await work.run_number(1)
        for _ in range(5):
            job.wake()
        assert len(work.starts) == 1
        work.hold.set()
        await work.run_number(2)
        await asyncio.sleep(0.3)  # would a third run follow? (the tick is an hour)
    finally:
        await job.stop()
    assert len(work.starts) == 2
    assert work.most_at_once == 1


async def test_a_run_that_falls_due_late_still_runs(job_queue: JobQueue[BotContext]) -> None:
    """APScheduler's default misfire grace time is one second: a run later than that is
    skipped, and a date job with it. Ours have none, so after a stall (here: the clock
    moved on an hour past the due time) the run happens, once."""
    work = Work(lambda: utcnow() + timedelta(seconds=0.3))
    job = EngineJob(job_queue, "late", work, tick=3600)
    job.start()
    try:
        await work.run_number(1)
        for _ in range(200):  # until its next run is in APScheduler's store, 0.3 s ahead
            if job_queue.scheduler.get_job("late") is not None:
                break
            await asyncio.sleep(0.005)
        work.next_due = lambda: None
        with time_machine.travel(datetime.now(UTC) + timedelta(hours=1), tick=True):
            await work.run_number(2)  # an hour late
    finally:
        await job.stop()


async def test_a_failed_run_tries_again_at_the_tick(job_queue: JobQueue[BotContext]) -> None:
    calls: list[float] = []

    async def failing() -> datetime | None:
        calls.append(time.monotonic())
        raise RuntimeError("the database went away")

    job = EngineJob(job_queue, "failing", failing, tick=0.3)
    job.start()
    try:
        deadline = time.monotonic() + WITHIN
        while len(calls) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await job.stop()
    assert len(calls) >= 2 and calls[1] - calls[0] >= 0.25


async def test_stop_lets_the_run_finish_and_nothing_follows(
    job_queue: JobQueue[BotContext],
) -> None:
    work = Work(lambda: utcnow())  # "due again now": it would run on and on
    work.hold = asyncio.Event()
    job = EngineJob(job_queue, "stopping", work, tick=0.1)
    job.start()
    await work.run_number(1)
    stopping = asyncio.create_task(job.stop())
    await asyncio.sleep(0.1)
    assert not stopping.done()  # it waits for the run under way
    work.hold.set()
    await asyncio.wait_for(stopping, WITHIN)
    job.wake()
    await asyncio.sleep(0.3)
    assert len(work.starts) == 1 and not work.cancelled
    assert job_queue.scheduler.get_job("stopping") is None


async def test_stop_cancels_a_run_that_outlasts_its_patience(
    job_queue: JobQueue[BotContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wakeup, "STOP_PATIENCE", 0.2)
    work = Work()
    work.hold = asyncio.Event()  # never set
    job = EngineJob(job_queue, "stuck", work, tick=60)
    job.start()
    await work.run_number(1)
    await asyncio.wait_for(job.stop(), WITHIN)
    assert work.cancelled


async def test_rearm_schedules_an_engine_whose_job_went_missing(
    job_queue: JobQueue[BotContext],
) -> None:
    work = Work()
    job = EngineJob(job_queue, "lost", work, tick=3600)
    job.start()
    try:
        await work.run_number(1)
        await asyncio.sleep(0.1)
        job.rearm()  # its job is there: nothing to do
        await asyncio.sleep(0.2)
        assert len(work.starts) == 1
        job_queue.scheduler.remove_job("lost")
        job.rearm()
        await work.run_number(2)
    finally:
        await job.stop()


# --- wired into the bot --------------------------------------------------------------------


async def test_the_safety_job_rearms_an_engine_of_the_running_bot(
    tg: FakeTelegram, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    runner = BotRunner(make_settings(tg, safety_tick_seconds=0.2))
    app = await runner.start()
    try:
        assert app.job_queue is not None
        scheduler = app.job_queue.scheduler
        await asyncio.sleep(0.5)  # the first runs are over; each engine sleeps until its next
        names = {job.name for job in app.bot_data.jobs}
        assert {"reminders", "digests", "broadcasts", "send-share"} <= names
        for _ in range(100):  # take it away while it sleeps, not while it runs
            if scheduler.get_job("housekeeping") is not None:
                scheduler.remove_job("housekeeping")
                break
            await asyncio.sleep(0.01)
        deadline = time.monotonic() + WITHIN
        while scheduler.get_job("housekeeping") is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert scheduler.get_job("housekeeping") is not None
        assert "housekeeping had no job scheduled" in caplog.text  # the safety job's doing
        assert scheduler.get_job("safety") is not None
        assert not [j for j in scheduler.get_jobs() if j.misfire_grace_time is not None]
    finally:
        await runner.stop()


async def test_stopping_the_bot_hands_a_group_batch_back_at_once(
    tg: FakeTelegram, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve cards to one group take 35 s at its pace (20 a minute), all in one batch.
    Application.stop() waits for the jobs under way, so the engines must stop first:
    no send begins any more, the ones waiting for the group's turn are given up after
    the stop's patience, every unsent row is handed back, and the stop does not wait
    out the batch."""
    monkeypatch.setattr(wakeup, "STOP_PATIENCE", 1.0)
    group = tg.group(-100_951, "Cooperation office")
    runner = BotRunner(make_settings(tg, safety_tick_seconds=0.2))
    await runner.start()
    try:
        async with runner.sessions() as session, session.begin():
            for n in range(1, 13):
                await outbox.queue(session, group.chat_id, outbox.payload_text(f"Card {n}"))
        assert runner.app is not None and runner.app.bot_data.outbox is not None
        runner.app.bot_data.outbox.wake()
        await tg.wait_for(lambda: len(group.messages()) >= 1, WITHIN, "the first card")
        sessions = runner.sessions
    finally:
        began = time.monotonic()
        await runner.stop()
        took = time.monotonic() - began
    assert took < 5, took  # the patience and the hand-back, not 35 s of cards
    async with sessions() as session:
        states = list(await session.scalars(select(OutboxMessage.state).order_by(OutboxMessage.id)))
    assert states[0] is OutboxState.SENT
    assert OutboxState.SENDING not in states  # back in the queue, not stuck for a lease
    assert states.count(OutboxState.PENDING) >= 10
    assert len(group.messages()) == states.count(OutboxState.SENT)
