"""The outbox sender: claims due rows and sends them through the one rate limiter.

At-least-once: a row is marked sent only after Telegram accepted it, so a crash between
the send and the mark repeats that one send after the lease runs out, and nothing is
ever lost. Services queue messages with `queue()` inside their own unit of work, so a
notification exists exactly when the change that caused it was committed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.ratelimit import BULK
from bot.scheduler import Ticker
from bot.text import TEXT_LIMIT, MessageTooLong, visible_len
from storage import outbox as repo
from storage import users as users_repo
from storage.models import OutboxMessage, OutboxState, utcnow

log = logging.getLogger(__name__)

# Priorities: lower goes first.
NOTIFY, REMINDER, BROADCAST = 1, 3, 8


def payload_text(
    text: str, keyboard: InlineKeyboardMarkup | None = None, **extra: Any
) -> dict[str, Any]:
    # Views fit their text (bot/text.py); should one not, the change that queues it
    # fails with it, rather than being confirmed and then never delivered.
    if visible_len(text) > TEXT_LIMIT:
        raise MessageTooLong(f"a message of {visible_len(text)} characters queued")
    payload: dict[str, Any] = {
        "text": text,
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }
    if keyboard is not None:
        payload["reply_markup"] = keyboard.to_dict()
    payload.update(extra)
    return payload


async def queue(
    session: AsyncSession,
    chat_id: int,
    payload: dict[str, Any],
    *,
    method: str = "sendMessage",
    priority: int = NOTIFY,
    ref: str | None = None,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
) -> int | None:
    return await repo.enqueue(
        session, chat_id=chat_id, payload=payload, method=method, priority=priority,
        ref=ref, dedupe_key=dedupe_key, not_before=not_before, now=utcnow(),
    )  # fmt: skip


@dataclass
class SenderStats:
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    retried: int = 0


class OutboxSender:
    """One per process. `wake()` after queueing something for a prompt send; otherwise
    the loop looks again every `poll` seconds (rows queued by other instances)."""

    def __init__(
        self,
        bot: ExtBot[Any],
        sessions: async_sessionmaker[AsyncSession],
        *,
        batch: int = 50,
        concurrency: int = 8,
        lease: timedelta = timedelta(seconds=60),
        max_attempts: int = 5,
        poll: float = 1.0,
        on_sent: Callable[[OutboxMessage, int | None], Any] | None = None,
    ) -> None:
        self.bot, self.sessions = bot, sessions
        self.batch, self.concurrency, self.lease = batch, concurrency, lease
        self.max_attempts, self.poll = max_attempts, poll
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.stats = SenderStats()
        self.on_sent = on_sent
        self._stopping = False
        self._ticker = Ticker("outbox", self._round, tick=poll)

    def wake(self) -> None:
        self._ticker.wake()

    def start(self) -> None:
        self._ticker.start()

    async def stop(self) -> None:
        self._stopping = True
        await self._ticker.stop()

    async def _round(self) -> datetime | None:
        """One batch; if there was one, straight on to the next (due now), else the
        ticker waits for a wake-up or the poll interval."""
        return utcnow() if await self.run_once() else None

    async def run_once(self) -> bool:
        """Claim one batch and send it; True if there was anything to send."""
        async with self.sessions() as session, session.begin():
            rows = await repo.claim(
                session, owner=self.owner, limit=self.batch, lease=self.lease, now=utcnow()
            )
        if not rows:
            return False
        gate = asyncio.Semaphore(self.concurrency)

        async def one(row: OutboxMessage) -> None:
            async with gate:
                if not self._stopping:
                    await self._send(row)

        await asyncio.gather(*(one(row) for row in rows))
        return True

    async def _send(self, row: OutboxMessage) -> None:
        try:
            result = await self.bot.do_api_request(
                row.method,
                api_kwargs={"chat_id": row.chat_id, **row.payload},
                return_type=Message if row.method.startswith(("send", "edit")) else None,
                rate_limit_args=BULK,
            )
        except Forbidden as exc:
            await self._final(row, OutboxState.BLOCKED, str(exc), blocked=True)
            self.stats.blocked += 1
        except RetryAfter as exc:
            delay = exc.retry_after
            seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
            await self._later(row, utcnow() + timedelta(seconds=seconds), str(exc), count=False)
        except BadRequest as exc:
            if "not modified" in str(exc).lower():  # an edit that was already applied
                await self._done(row, None)
            else:  # the request itself is wrong; sending it again cannot help
                await self._final(row, OutboxState.FAILED, str(exc))
        except NetworkError as exc:  # includes timeouts: try again, never lose the row
            await self._later(row, utcnow() + _backoff(row.attempts), str(exc), count=False)
        except TelegramError as exc:
            if row.attempts >= self.max_attempts:
                await self._final(row, OutboxState.FAILED, str(exc))
            else:
                await self._later(row, utcnow() + _backoff(row.attempts), str(exc), count=True)
        else:
            message_id = result.message_id if isinstance(result, Message) else None
            await self._done(row, message_id)

    async def _done(self, row: OutboxMessage, message_id: int | None) -> None:
        async with self.sessions() as session, session.begin():
            await repo.mark_sent(session, row.id, self.owner, message_id, utcnow())
        self.stats.sent += 1
        if self.on_sent is not None:
            self.on_sent(row, message_id)

    async def _final(
        self, row: OutboxMessage, state: OutboxState, error: str, *, blocked: bool = False
    ) -> None:
        log.info("outbox row %s ended %s: %s", row.id, state.value, error)
        async with self.sessions() as session, session.begin():
            await repo.mark_final(session, row.id, self.owner, state, error)
            if blocked and row.chat_id > 0:
                await users_repo.mark_blocked(session, row.chat_id, utcnow())
        if state is OutboxState.FAILED:
            self.stats.failed += 1

    async def _later(self, row: OutboxMessage, when: datetime, error: str, *, count: bool) -> None:
        async with self.sessions() as session, session.begin():
            await repo.retry_later(session, row.id, self.owner, when, error, count=count)
        self.stats.retried += 1
        self.wake()


def _backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(300, 2 ** max(0, attempt)))
