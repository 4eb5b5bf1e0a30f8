"""Several processes, one bot: SEND_RATE is the bot's total, split between the processes
that send (`partnerbot run` and each `partnerbot worker`). Each one writes a heartbeat
row and paces itself at SEND_RATE / (instances seen lately). A process that dies keeps
its share until its heartbeat is LIVE_WINDOW old; the others are only slower meanwhile."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ratelimit import SendLimiter
from storage import instances as repo
from storage.models import utcnow

log = logging.getLogger(__name__)

HEARTBEAT = timedelta(seconds=5)
LIVE_WINDOW = HEARTBEAT * 3
FORGET_AFTER = timedelta(days=1)


def new_instance_id() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


class SendShare:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        limiter: SendLimiter,
        send_rate: float,
        instance_id: str | None = None,
    ) -> None:
        self.sessions, self.limiter, self.send_rate = sessions, limiter, send_rate
        self.instance_id = instance_id or new_instance_id()
        self.instances = 1

    async def beat(self) -> datetime:
        """Heartbeat, then take this process's share. Returns when to beat again."""
        now = utcnow()
        async with self.sessions() as session, session.begin():
            await repo.heartbeat(session, self.instance_id, now)
            await repo.forget_older_than(session, now - FORGET_AFTER)
            live = max(1, await repo.count_live(session, now - LIVE_WINDOW))
        if live != self.instances:
            rate = self.send_rate / live
            log.info("%d sending instance(s): this one sends at %.1f/s", live, rate)
        self.instances = live
        self.limiter.set_rate(self.send_rate / live)
        return now + HEARTBEAT

    async def leave(self) -> None:
        """On a clean stop the others take the share back at their next heartbeat."""
        async with self.sessions() as session, session.begin():
            await repo.remove(session, self.instance_id)
