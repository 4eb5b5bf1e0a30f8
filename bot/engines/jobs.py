"""What each engine job does when it wakes (bot/engines/wakeup.py): look in the database
for what is due now, hand it to the outbox in short transactions, and return when the
next thing falls due. Anything queued wakes the outbox sender at once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.error import TelegramError
from telegram.ext import ExtBot

from bot.broadcasts import service as broadcasts
from bot.broadcasts import views as broadcast_views
from bot.engines import delivery_report
from bot.engines.housekeeping import purge
from bot.engines.outbox import OutboxSender
from bot.inquiries import service as inquiries
from bot.next_steps import service as next_steps
from bot.settings import Settings
from bot.traffic.ratelimit import PACED
from storage import broadcasts as broadcast_repo
from storage import users as users_repo
from storage.models import Broadcast, utcnow

log = logging.getLogger(__name__)

PROGRESS_EVERY = timedelta(seconds=3)  # live progress edits, at most this often


@dataclass(frozen=True)
class ProgressMessage:
    """The author's message that shows an announcement's live progress."""

    chat_id: int
    message_id: int
    lang: str


@dataclass
class Jobs:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    bot: ExtBot[str]
    bot_username: str
    outbox: OutboxSender
    _last_edit: dict[int, datetime] = field(default_factory=dict)  # broadcast id → edited at

    def _queued(self, count: int) -> None:
        """After the commit, never inside it: the sender must find the rows."""
        if count:
            self.outbox.wake()

    async def first_response(self) -> datetime | None:
        async with self.sessions() as session, session.begin():
            queued = await inquiries.escalate_due(session, self.settings, utcnow())
            next_due = await inquiries.next_escalation_at(session, self.settings)
        self._queued(queued)
        return next_due

    async def quiet(self) -> datetime | None:
        """Nudge the inquiries gone quiet, a batch per transaction. A read first: most
        runs find nothing due, and need not hold SQLite's write lock to say so."""
        while True:
            async with self.sessions() as session:
                await session.connection(execution_options={"sqlite_readonly": True})
                due = await inquiries.next_nudge_at(session, self.settings)
            if due is None or due > utcnow():
                return due
            async with self.sessions() as session, session.begin():
                found, queued = await inquiries.nudge_due(session, self.settings, utcnow())
            self._queued(queued)
            if found == 0:  # due, yet nothing to claim: another instance holds it
                return utcnow() + timedelta(seconds=self.settings.safety_tick_seconds)

    async def reminders(self) -> datetime | None:
        while True:  # drain everything due, a batch per transaction
            async with self.sessions() as session, session.begin():
                queued = await next_steps.dispatch_due(session, self.settings, utcnow())
            self._queued(queued)
            if queued < next_steps.DISPATCH_BATCH:
                break
        async with self.sessions() as session:
            return await next_steps.next_due_at(session)

    async def digests(self) -> datetime | None:
        now = utcnow()
        async with self.sessions() as session, session.begin():
            queued = await next_steps.send_digests(session, self.settings, now)
        self._queued(queued)
        return await next_steps.next_digest_at(self.settings, now)

    async def announcements(self) -> datetime | None:
        """Start what is scheduled, finish what is done, and keep each author's progress
        message current (every PROGRESS_EVERY while it runs, and once at the end)."""
        now = utcnow()
        async with self.sessions() as session, session.begin():
            reports = await broadcasts.tick(session, self.settings, self.bot_username, now)
            shown = {r.broadcast.id: await progress_message(session, r.broadcast) for r in reports}
        self._queued(len(reports))
        for report in reports:
            target = shown.get(report.broadcast.id)
            last = self._last_edit.get(report.broadcast.id)
            if target is None or (
                not report.finished and last is not None and now - last < PROGRESS_EVERY
            ):
                continue
            self._last_edit[report.broadcast.id] = now
            await self._edit_progress(report.broadcast.id, target, now)
        if any(not r.finished for r in reports):
            return now + PROGRESS_EVERY
        async with self.sessions() as session:
            return await broadcast_repo.next_scheduled_at(session)

    async def _edit_progress(
        self, broadcast_id: int, target: ProgressMessage, now: datetime
    ) -> None:
        # Read again right before editing: an admin may have paused it meanwhile.
        async with self.sessions() as session:
            fresh = await broadcast_repo.get(session, broadcast_id)
            if fresh is None:
                return
            latest = await broadcasts.progress(session, fresh, utcnow())
        screen = broadcast_views.progress(target.lang, latest, self.settings, now)
        try:
            await self.bot.edit_message_text(
                screen.text,
                chat_id=target.chat_id,
                message_id=target.message_id,
                reply_markup=screen.keyboard,
                rate_limit_args=PACED,  # the admin's chat also gets the announcement itself
            )
        except TelegramError as exc:  # "not modified" and the like: the next run tries again
            log.debug("progress edit skipped: %s", exc)

    async def failure_reports(self) -> datetime | None:
        async with self.sessions() as session:  # a read first: most runs have nothing to report
            await session.connection(execution_options={"sqlite_readonly": True})
            due = await delivery_report.next_report_at(session)
        if due is None or due > utcnow():
            return due
        async with self.sessions() as session, session.begin():
            queued = await delivery_report.report_due(session, self.settings, utcnow())
        self._queued(queued)
        return utcnow()  # once more: a later minute may be over too

    async def housekeeping(self) -> datetime | None:
        async with self.sessions() as session, session.begin():
            return await purge(session, utcnow())


async def progress_message(session: AsyncSession, broadcast: Broadcast) -> ProgressMessage | None:
    if broadcast.progress_chat_id is None or broadcast.progress_message_id is None:
        return None
    author = (
        await users_repo.get_user(session, broadcast.author_id) if broadcast.author_id else None
    )
    lang = author.language if author else "en"
    return ProgressMessage(broadcast.progress_chat_id, broadcast.progress_message_id, lang)
