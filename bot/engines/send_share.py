"""Several processes, one bot: SEND_RATE is the bot's total, split between the processes
that send (`partnerbot run` and each `partnerbot worker`). Each one writes a heartbeat
row and paces itself at SEND_RATE / (instances seen lately). A process that dies keeps
its share until its heartbeat is LIVE_WINDOW old; the others are only slower meanwhile.

The heartbeat also renews the leases of the outbox rows this process is sending, so a
row stays claimed as long as its process lives, however long it waits on per-chat
pacing, and is free for the others within one lease (OUTBOX_LEASE_SECONDS) of a death.
The heartbeat's instance id is the owner id the outbox claims rows with.

A process that died on this machine need not be waited for: if its pid no longer runs in
our pid namespace, it is certainly gone, so its share and its rows are taken back at
the next heartbeat (a restart after a crash resumes at once). Elsewhere, or when in
doubt, its heartbeat and leases simply run out."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.traffic.ratelimit import SendLimiter
from storage import instances as repo
from storage import outbox as outbox_repo
from storage.models import utcnow

log = logging.getLogger(__name__)

HEARTBEAT = timedelta(seconds=5)
LIVE_WINDOW = HEARTBEAT * 3
FORGET_AFTER = timedelta(days=1)
DEFAULT_LEASE = HEARTBEAT * 3  # a missed heartbeat or two does not lose the rows


def new_instance_id() -> str:
    # host:pid:random:pid-namespace, at most 60 characters (outbox.lease_owner); tests
    # read the pid.
    return f"{_host()}:{os.getpid()}:{secrets.token_hex(4)}:{_pid_namespace()}"


def _host() -> str:
    return socket.gethostname()[:28].replace(":", "-")


def _pid_namespace() -> int:
    """Which pids we see (Linux); 0 where we cannot tell. Two containers may share a
    host name, never a pid namespace: a pid means the same process only within one."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def died_here(instance_id: str) -> bool:
    """Certainly dead: it ran on this machine in our pid namespace, and its pid is gone.
    A reused pid, or any doubt, says alive (its lease then runs out as usual)."""
    parts = instance_id.split(":")
    if len(parts) != 4 or parts[0] != _host() or not parts[1].isdigit():
        return False
    namespace = _pid_namespace()
    if namespace == 0 or parts[3] != str(namespace) or int(parts[1]) == os.getpid():
        return False
    try:
        os.kill(int(parts[1]), 0)  # signal 0: only asks whether the pid exists
    except ProcessLookupError:
        return True
    except OSError:  # exists, but not ours to signal
        return False
    return False


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
            dead = [i for i in await repo.ids(session) if died_here(i)]
            if dead:
                freed = await outbox_repo.free_leases(session, dead, now)
                await repo.remove_many(session, dead)
                log.info("%s no longer run here: %d outbox row(s) freed", dead, freed)
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
