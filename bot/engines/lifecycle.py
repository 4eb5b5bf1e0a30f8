"""Starting and stopping the engines of one process (`partnerbot run` or `worker`).

Start: the heartbeat first (this process's share of SEND_RATE before any send), then the
outbox sender and one job per engine, each run at once, so whatever fell due while the
bot was down goes out now; and a periodic safety job that re-arms an engine whose job went
missing. Stop: the sender first, while the heartbeat still renews its leases (it hands
back what it did not send), then the other jobs, the heartbeat among them, then the share.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from telegram.ext import Application, ExtBot, JobQueue

from bot.context import BotContext, Runtime
from bot.engines.jobs import Jobs
from bot.engines.outbox import OutboxSender
from bot.engines.send_share import HEARTBEAT, SendShare
from bot.engines.wakeup import EngineJob, Work, job_kwargs
from bot.inquiries.staff_thread import StaffThreads
from bot.traffic.ratelimit import SendLimiter

log = logging.getLogger(__name__)

SAFETY = "safety"


class EngineQueue(JobQueue[BotContext]):
    """PTB's JobQueue, whose stop stops the engines first. Application.stop() waits here
    for the jobs under way; an outbox batch must hear of the stop before that wait, or it
    would send its whole batch (minutes, to a group) before handing anything back."""

    async def stop(self, wait: bool = True) -> None:
        runtime = self.application.bot_data
        if isinstance(runtime, Runtime):
            await stop(runtime)
        await super().stop(wait)


EngineApp = Application[
    ExtBot[str], BotContext, dict[Any, Any], dict[Any, Any], Runtime, JobQueue[BotContext]
]


async def start(app: EngineApp) -> None:
    runtime, queue = app.bot_data, app.job_queue
    settings, sessions = runtime.settings, runtime.sessions
    if settings is None or sessions is None:
        raise RuntimeError("the engines start after the database is open")
    if not isinstance(queue, EngineQueue):  # else a stop would not reach a running batch
        raise RuntimeError("build the Application with .job_queue(EngineQueue())")
    # Every sending process beats: its heartbeat renews its outbox leases, and (with our
    # limiter) takes its share of SEND_RATE before any send.
    limiter = app.bot.rate_limiter
    share = SendShare(
        sessions,
        limiter if isinstance(limiter, SendLimiter) else None,
        settings.send_rate,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
    )
    await share.beat()
    runtime.send_share = share
    # About two seconds of sending per claim: a paused or cancelled broadcast stops
    # within that, and a crash repeats at most that many sends.
    outbox = OutboxSender(
        app.bot,
        sessions,
        batch=max(1, min(50, int(settings.send_rate * 2))),
        lease=share.lease,
        owner=share.instance_id,  # the heartbeat that renews the leases is ours
        chats=runtime.staff_chat,
        # The staff chat's rows about an inquiry: under its live card, in its forum topic.
        hooks=StaffThreads(app.bot, sessions, settings, runtime.staff_chat)
        if runtime.staff_chat is not None
        else None,
    )
    share.leases = outbox
    runtime.outbox = outbox
    outbox.start(queue)

    jobs = Jobs(settings, sessions, app.bot, runtime.bot_username, outbox)
    tick = settings.safety_tick_seconds
    engines: tuple[tuple[str, Work, float], ...] = (
        # The heartbeat keeps its own pace; the others also look every tick for what
        # other processes planned.
        ("send-share", share.beat, HEARTBEAT.total_seconds()),
        ("first-response", jobs.first_response, tick),
        ("reminders", jobs.reminders, tick),
        ("stale", jobs.quiet, tick),
        ("digests", jobs.digests, tick),
        ("broadcasts", jobs.announcements, tick),
        ("delivery-reports", jobs.failure_reports, tick),
        ("housekeeping", jobs.housekeeping, tick),
    )
    for name, work, every in engines:
        job = EngineJob(queue, name, work, tick=every)
        job.start()
        runtime.jobs.append(job)
        if name == "delivery-reports":
            outbox.on_failed = job.wake  # a new failure: plan its report

    async def safety(_context: BotContext) -> None:
        for job in (outbox.job, *runtime.jobs):
            if job is not None:
                job.rearm()

    # Its run cannot overlap another (it never awaits); a second instance allowed only
    # spares the "maximum number of running instances" warning when the loop was busy
    # for a tick and APScheduler still counts the last run.
    safety_kwargs = {**job_kwargs(SAFETY), "max_instances": 2}
    queue.run_repeating(safety, tick, first=tick, name=SAFETY, job_kwargs=safety_kwargs)


async def stop(runtime: Runtime) -> None:
    """Idempotent: the queue's stop, post_stop and post_shutdown may all call it."""
    outbox, runtime.outbox = runtime.outbox, None
    if outbox is not None:
        await outbox.stop()
    jobs = list(runtime.jobs)
    runtime.jobs.clear()
    for job in jobs:
        await job.stop()
    share, runtime.send_share = runtime.send_share, None
    if share is not None:
        try:
            await share.leave()
        except Exception:  # the database may be gone already; the heartbeat just ages out
            log.warning("could not sign off from the send share", exc_info=True)
