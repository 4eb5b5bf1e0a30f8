"""Several processes, one bot: SEND_RATE is the bot's total, split between the processes
that send (`partnerbot run` and each `partnerbot worker`). Each one writes a heartbeat
row and paces itself at SEND_RATE / (instances seen lately). A process that dies keeps
its share until its heartbeat is LIVE_WINDOW old; the others are only slower meanwhile.

The heartbeat also renews the leases of the outbox rows this process is sending, so a
row stays claimed as long as its process lives, however long it waits on per-chat
pacing, and is free for the others within one lease (OUTBOX_LEASE_SECONDS) of a death.
The heartbeat's instance id is the owner id the outbox claims rows with."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ratelimit import SendLimiter
from storage import instances as repo
from storage import outbox as outbox_repo
from storage.models import utcnow

log = logging.getLogger(__name__)

HEARTBEAT = timedelta(seconds=5)
LIVE_WINDOW = HEARTBEAT * 3
FORGET_AFTER = timedelta(days=1)
DEFAULT_LEASE = HEARTBEAT * 3  # a missed heartbeat or two does not lose the rows


def new_instance_id() -> str:
    # host:pid:random, at most 60 characters (outbox.lease_owner); tests read the pid.
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


class Leases(Protocol):
    """What the outbox sender tells the heartbeat: which rows it is working on, and when
    their leases were renewed (a monotonic time, taken before the renewal began)."""

    def in_flight(self) -> list[int]: ...

    def renewed(self, started: float, lost: set[int]) -> None: ...


class SendShare:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        limiter: SendLimiter | None,
        send_rate: float,
        instance_id: str | None = None,
        *,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self.sessions, self.limiter, self.send_rate = sessions, limiter, send_rate
        self.instance_id = instance_id or new_instance_id()
        self.lease = lease
        self.leases: Leases | None = None  # the outbox sender, once it runs
        self.instances = 1

    async def beat(self) -> datetime:
        """Heartbeat and lease renewal, then take this process's share. Returns when to
        beat again."""
        started, now = time.monotonic(), utcnow()
        rows = self.leases.in_flight() if self.leases is not None else []
        async with self.sessions() as session, session.begin():
            await repo.heartbeat(session, self.instance_id, now)
            until = now + self.lease
            lost = await outbox_repo.renew(session, self.instance_id, rows, until, now)
            await repo.forget_older_than(session, now - FORGET_AFTER)
            live = max(1, await repo.count_live(session, now - LIVE_WINDOW))
        if rows and self.leases is not None:
            self.leases.renewed(started, lost)
        if live != self.instances:
            rate = self.send_rate / live
            log.info("%d sending instance(s): this one sends at %.1f/s", live, rate)
        self.instances = live
        if self.limiter is not None:
            self.limiter.set_rate(self.send_rate / live)
        return now + HEARTBEAT

    async def leave(self) -> None:
        """On a clean stop the others take the share back at their next heartbeat."""
        async with self.sessions() as session, session.begin():
            await repo.remove(session, self.instance_id)
