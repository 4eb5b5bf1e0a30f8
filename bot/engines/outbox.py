"""The outbox sender: claims due rows and sends them through the one rate limiter.

At-least-once: a row is marked sent only after Telegram accepted it, so a crash between
the send and the mark repeats that one send after the lease runs out, and nothing is
ever lost. Services queue messages with `queue()` inside their own unit of work, so a
notification exists exactly when the change that caused it was committed.

A claimed row stays ours while this process lives: the heartbeat (bot/send_share.py)
renews the lease of every row still in flight. If renewals stop (the database is slow
or gone), the batch stops before its lease runs out, so a row another process may have
claimed meanwhile is never sent from here too.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import InlineKeyboardMarkup, InputFile, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot

from bot.engines.send_share import DEFAULT_LEASE, new_instance_id
from bot.engines.wakeup import EngineJob
from bot.logs import redact
from bot.traffic.ratelimit import BULK
from bot.ui.text import TEXT_LIMIT, MessageTooLong, visible_len
from storage import delivery_failures as failures_repo
from storage import outbox as repo
from storage import users as users_repo
from storage.models import OutboxMessage, OutboxState, utcnow

if TYPE_CHECKING:
    from telegram.ext import JobQueue

    from bot.context import BotContext

log = logging.getLogger(__name__)

# Priorities: lower goes first.
NOTIFY, REMINDER, BROADCAST = 1, 3, 8
# The admins' report of failed deliveries; its own failures are not reported again.
REPORT_REF = "delivery-report"
REPORT_PERIOD = 60  # seconds: failures are counted per minute, one report per minute
# Kinds of failure for good (bot/delivery_report.py says each in the admins' language).
REFUSED, GAVE_UP, BUG = "refused", "gave_up", "bug"


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


UPLOAD = "_upload"  # a payload's file: {"field", "filename", "base64"} (see payload_file)


def payload_file(field: str, data: bytes, filename: str, **extra: Any) -> dict[str, Any]:
    """A payload that uploads a file (a chart for sendPhoto): payloads are JSON, so the
    bytes travel base64-encoded and the sender hands them to Telegram as the `field`
    part of a multipart request. For small files only: each row carries its own copy."""
    upload = {"field": field, "filename": filename, "base64": base64.b64encode(data).decode()}
    return {**extra, UPLOAD: upload}


def _wait(retry_after: timedelta | int) -> timedelta:
    """Telegram's retry_after (PTB gives seconds or a timedelta, by its settings)."""
    return retry_after if isinstance(retry_after, timedelta) else timedelta(seconds=retry_after)


def _api_kwargs(payload: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(payload, dict) or UPLOAD not in payload:
        return payload  # (one that is no mapping fails in `_send`, counted as a bug)
    kwargs = dict(payload)
    upload = kwargs.pop(UPLOAD)
    if isinstance(upload, dict):
        content = base64.b64decode(str(upload.get("base64", "")))
        kwargs[str(upload.get("field"))] = InputFile(content, filename=str(upload.get("filename")))
    return kwargs


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
    rerouted: int = 0


class ChatEvents(Protocol):
    """What a group chat's fate means for the bot (bot/staff_chat.py): called inside the
    sender's transaction, so the row and what follows from it commit together."""

    async def migrated(self, session: AsyncSession, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: Telegram gave it a new id."""

    async def forbidden(
        self, session: AsyncSession, chat_id: int, row: OutboxMessage, error: str
    ) -> bool:
        """The bot may not post in the group `chat_id` (removed from it). True if `row`
        was taken care of (re-sent elsewhere); False: it ends blocked like any other."""

    def changed(self) -> None:
        """After the commit: what the bot knows about its chats changed."""


@dataclass(frozen=True)
class Delivered:
    """What `SendHooks.prepare` answers when the row's message is there already."""

    message_id: int | None


@dataclass(frozen=True)
class Later:
    """What `SendHooks.prepare` answers when the row must wait for another (not counted
    as an attempt: the hook only says so while that other row is still on its way)."""

    seconds: float


Prepared = dict[str, Any] | Delivered | Later
RETRY, DROP = "retry", "drop"  # what SendHooks.refused can make of a refused row


class SendHooks(Protocol):
    """A feature that shapes some rows at the moment they are sent (bot/inquiries/
    staff_thread.py: the forum topic and card of an inquiry in the staff chat)."""

    async def prepare(self, row: OutboxMessage, chat_id: int) -> Prepared:
        """The payload to send now. It may call Telegram itself (open a topic first)."""

    async def sent(
        self, session: AsyncSession, row: OutboxMessage, payload: dict[str, Any],
        message_id: int | None, chat_id: int,
    ) -> None:  # fmt: skip
        """In the transaction that marks the row sent."""

    async def refused(
        self, session: AsyncSession, row: OutboxMessage, payload: dict[str, Any], chat_id: int,
        error: str,
    ) -> str | None:  # fmt: skip
        """Telegram refused the row (400). RETRY: send it again (prepare sees what was
        learned, e.g. the topic is gone); DROP: it ends, nothing to report; None: it
        fails as any other."""


class OutboxSender:
    """One per process. It works in batches while rows are due (one job run a batch,
    the next straight after); else its job looks again every `poll` seconds (rows
    queued by other instances), or at once on `wake()` after queueing something."""

    def __init__(
        self,
        bot: ExtBot[str],
        sessions: async_sessionmaker[AsyncSession],
        *,
        batch: int = 50,
        concurrency: int = 8,
        lease: timedelta = DEFAULT_LEASE,
        max_attempts: int = 5,
        poll: float = 1.0,
        owner: str | None = None,
        chats: ChatEvents | None = None,
        on_sent: Callable[[OutboxMessage, int | None], None] | None = None,
        on_failed: Callable[[], None] | None = None,
        hooks: SendHooks | None = None,
    ) -> None:
        self.bot, self.sessions = bot, sessions
        self.batch, self.concurrency, self.lease = batch, concurrency, lease
        self.max_attempts, self.poll = max_attempts, poll
        # The heartbeat's instance id: the process whose heartbeat renews our leases.
        self.owner = owner or new_instance_id()
        self.chats, self.hooks = chats, hooks
        self.stats = SenderStats()
        self.on_sent, self.on_failed = on_sent, on_failed
        self._stopping = False
        self.job: EngineJob | None = None  # once started
        self._in_flight: set[int] = set()
        self._held_until = 0.0  # monotonic: our leases certainly hold until then
        # Groups this process saw migrate: rows of a batch already claimed for the old
        # id go to the new one without each asking Telegram (and waiting its turn) again.
        self._moved: dict[int, int] = {}
        # Stop starting sends this long before a lease may run out: a request already
        # on its way when another process takes the row over could arrive twice.
        self._margin = min(3.0, lease.total_seconds() / 5)

    def wake(self) -> None:
        if self.job is not None:
            self.job.wake()

    def start(self, queue: JobQueue[BotContext]) -> None:
        """Send from now on, first at once: whatever was queued while we were down."""
        self.job = EngineJob(queue, "outbox", self._round, tick=self.poll)
        self.job.start()

    async def stop(self) -> None:
        """Sends not begun are not begun; those on their way finish. Then every row still
        claimed by us is handed back, so it goes out without waiting for its lease."""
        self._stopping = True
        if self.job is not None:
            await self.job.stop()
        try:
            async with self.sessions() as session, session.begin():
                await repo.release(session, self.owner)
        except Exception:  # the database may be gone; the leases then simply run out
            log.warning("could not hand back the unsent outbox rows", exc_info=True)

    # --- leases (bot.send_share.Leases) ----------------------------------------------

    def in_flight(self) -> list[int]:
        return sorted(self._in_flight)

    def renewed(self, started: float, lost: set[int]) -> None:
        lost &= self._in_flight
        if lost:  # ran out before the renewal: the batch stops at its old deadline
            log.warning("outbox leases of rows %s ran out before renewal", sorted(lost)[:10])
            return
        self._held_until = max(self._held_until, started + self.lease.total_seconds())

    # --- the loop ----------------------------------------------------------------------

    async def _round(self) -> datetime | None:
        """One batch; if there was one, straight on to the next (due now), else the
        job waits for a wake-up or the poll interval."""
        return utcnow() if await self.run_once() else None

    async def run_once(self) -> bool:
        """Claim one batch and send it; True if there was anything to send."""
        started = time.monotonic()
        async with self.sessions() as session, session.begin():
            rows = await repo.claim(
                session, owner=self.owner, limit=self.batch, lease=self.lease, now=utcnow()
            )
        if not rows:
            return False
        self._held_until = started + self.lease.total_seconds()
        self._in_flight = {row.id for row in rows}
        gate = asyncio.Semaphore(self.concurrency)

        async def one(row: OutboxMessage) -> None:
            try:
                async with gate:
                    if not self._stopping:
                        await self._send(row)
            except Exception:  # e.g. the database failed while recording: the lease runs out
                log.exception("outbox row %s: could not record the outcome", row.id)
            finally:
                self._in_flight.discard(row.id)

        await self._watch([asyncio.create_task(one(row)) for row in rows])
        return True

    async def _watch(self, tasks: list[asyncio.Task[None]]) -> None:
        """Wait for the batch, but never past our lease: sends still waiting for their
        turn when it may run out are dropped (their rows are claimed again)."""
        pending = set(tasks)
        try:
            while pending:
                left = self._held_until - self._margin - time.monotonic()
                if left <= 0:
                    log.warning("outbox lease not renewed in time: %d send(s) left", len(pending))
                    break
                _, pending = await asyncio.wait(pending, timeout=left)
        finally:  # also when we are cancelled (a stop that ran out of patience)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def _send(self, row: OutboxMessage) -> None:
        chat_id = self._moved.get(row.chat_id, row.chat_id)
        payload = row.payload
        try:
            prepared = await self._prepared(row, chat_id)
            if prepared is None:
                return
            payload = prepared
            result = await self.bot.do_api_request(
                row.method,
                api_kwargs={**_api_kwargs(payload), "chat_id": chat_id},
                # sendX and editMessageX answer a Message; the topic methods answer True
                return_type=Message if row.method.startswith(("send", "editMessage")) else None,
                rate_limit_args=BULK,
            )
        except ChatMigrated as exc:
            await self._migrated(row, chat_id, exc.new_chat_id, str(exc))
        except Forbidden as exc:
            await self._forbidden(row, chat_id, str(exc))
        except RetryAfter as exc:
            await self._later(row, utcnow() + _wait(exc.retry_after), str(exc), count=False)
        except BadRequest as exc:
            await self._bad_request(row, payload, chat_id, str(exc))
        except NetworkError as exc:
            await self._network(row, exc)
        except TelegramError as exc:
            await self._bounded(row, exc, kind=GAVE_UP)
        except Exception as exc:  # a bug, not Telegram: bounded too, never an endless loop
            log.exception("outbox row %s: sending raised", row.id)
            await self._bounded(row, exc, kind=BUG)
        else:
            message_id = result.message_id if isinstance(result, Message) else None
            await self._done(row, message_id, chat_id, payload)

    async def _prepared(self, row: OutboxMessage, chat_id: int) -> dict[str, Any] | None:
        """The payload as the feature's hooks shape it right before sending; None when
        the row needs no send now (already delivered, or waiting for another row)."""
        if self.hooks is None:
            return row.payload
        prepared = await self.hooks.prepare(row, chat_id)
        if isinstance(prepared, Delivered):
            await self._done(row, prepared.message_id, chat_id, row.payload)
            return None
        if isinstance(prepared, Later):
            when = utcnow() + timedelta(seconds=prepared.seconds)
            await self._later(row, when, "waiting for another message", count=False)
            return None
        return prepared

    async def _network(self, row: OutboxMessage, exc: NetworkError) -> None:
        if _transport_failure(exc):  # includes timeouts: try again, never lose the row
            await self._later(row, utcnow() + _backoff(row.attempts), str(exc), count=False)
        else:  # PTB wraps whatever its HTTP layer raised, e.g. an unencodable text
            await self._bounded(row, exc.__cause__ or exc, kind=BUG)

    async def _forbidden(self, row: OutboxMessage, chat_id: int, error: str) -> None:
        if chat_id < 0 and await self._group_forbidden(chat_id, row, error):
            return
        await self._final(row, OutboxState.BLOCKED, error, blocked=True)
        self.stats.blocked += 1

    async def _bad_request(
        self, row: OutboxMessage, payload: dict[str, Any], chat_id: int, error: str
    ) -> None:
        if _not_modified(error):  # an edit that was already applied
            await self._done(row, None, chat_id, payload)
        elif not await self._refused(row, payload, chat_id, error):
            # the request itself is wrong; sending it again cannot help
            await self._final(row, OutboxState.FAILED, error, kind=REFUSED)

    async def _refused(
        self, row: OutboxMessage, payload: dict[str, Any], chat_id: int, error: str
    ) -> bool:
        """A feature's say on a 400 (bot.outbox.SendHooks.refused). A retry counts as an
        attempt, so a refusal that keeps coming back ends failed like any other."""
        if self.hooks is None or row.attempts >= self.max_attempts:
            return False
        async with self.sessions() as session, session.begin():
            verdict = await self.hooks.refused(session, row, payload, chat_id, error)
            if verdict == DROP:
                note = redact(error)
                await repo.mark_final(session, row.id, self.owner, OutboxState.CANCELLED, note)
            elif verdict == RETRY:
                await repo.retry_later(
                    session, row.id, self.owner, utcnow(), redact(error), count=True
                )
        if verdict == RETRY:
            self.stats.retried += 1
            self.wake()
        return verdict in (RETRY, DROP)

    async def _bounded(self, row: OutboxMessage, exc: BaseException, *, kind: str) -> None:
        """Tried again with backoff, at most max_attempts times, then failed for good."""
        error = str(exc) if isinstance(exc, TelegramError) else f"{type(exc).__name__}: {exc}"
        log.warning("outbox row %s, try %d of %d: %s", row.id, row.attempts, self.max_attempts,
                    redact(error))  # fmt: skip
        if row.attempts >= self.max_attempts:
            await self._final(row, OutboxState.FAILED, error, kind=kind)
        else:
            await self._later(row, utcnow() + _backoff(row.attempts), error, count=True)

    async def _done(
        self, row: OutboxMessage, message_id: int | None, chat_id: int, payload: dict[str, Any]
    ) -> None:
        async with self.sessions() as session, session.begin():
            await repo.mark_sent(session, row.id, self.owner, message_id, utcnow(), chat_id)
            if self.hooks is not None:
                await self.hooks.sent(session, row, payload, message_id, chat_id)
        self.stats.sent += 1
        if self.on_sent is not None:
            self.on_sent(row, message_id)

    async def _final(
        self, row: OutboxMessage, state: OutboxState, error: str, *, blocked: bool = False,
        kind: str = "",
    ) -> None:  # fmt: skip
        error = redact(error)  # an exception's text may quote a request URL
        log.info("outbox row %s ended %s: %s", row.id, state.value, error)
        reported = state is OutboxState.FAILED and _reported(row)
        async with self.sessions() as session, session.begin():
            await repo.mark_final(session, row.id, self.owner, state, error)
            if blocked and row.chat_id > 0:
                await users_repo.mark_blocked(session, row.chat_id, utcnow())
            if reported:  # in the same transaction: failed and counted, or neither
                period = int(time.time()) // REPORT_PERIOD * REPORT_PERIOD
                await failures_repo.add(session, period, failure_kind(kind, error))
        if state is OutboxState.FAILED:
            self.stats.failed += 1
        if reported and self.on_failed is not None:
            self.on_failed()

    async def _later(
        self, row: OutboxMessage, when: datetime, error: str, *, count: bool,
        chat_id: int | None = None,
    ) -> None:  # fmt: skip
        async with self.sessions() as session, session.begin():
            await repo.retry_later(
                session, row.id, self.owner, when, redact(error), count=count, chat_id=chat_id
            )
        self.stats.retried += 1
        self.wake()

    async def _migrated(
        self, row: OutboxMessage, old_chat_id: int, new_chat_id: int, error: str
    ) -> None:
        """The group has a new id: this row and every one queued to the old id go there,
        and (for the staff chat) the bot remembers it. Counted as an attempt, so a chat
        that kept "migrating" could not loop."""
        if row.attempts >= self.max_attempts:
            await self._final(row, OutboxState.FAILED, error, kind=GAVE_UP)
            return
        log.info("chat %s became %s: sending there", old_chat_id, new_chat_id)
        self._moved[old_chat_id] = new_chat_id
        async with self.sessions() as session, session.begin():
            await repo.retry_later(
                session, row.id, self.owner, utcnow(), error, count=True, chat_id=new_chat_id
            )
            await repo.retarget(session, old_chat_id, new_chat_id)
            if self.chats is not None:
                await self.chats.migrated(session, old_chat_id, new_chat_id)
        if self.chats is not None:
            self.chats.changed()
        self.stats.retried += 1
        self.wake()

    async def _group_forbidden(self, chat_id: int, row: OutboxMessage, error: str) -> bool:
        if self.chats is None:
            return False
        async with self.sessions() as session, session.begin():
            handled = await self.chats.forbidden(session, chat_id, row, error)
            if handled:
                note = f"{error} (re-sent to the admins)"
                await repo.mark_final(session, row.id, self.owner, OutboxState.BLOCKED, note)
        if handled:
            self.chats.changed()
            self.stats.rerouted += 1
            self.wake()
        return handled


def _not_modified(error: str) -> bool:
    """An edit that changes nothing ("message is not modified"), or a topic already named
    or closed so ("TOPIC_NOT_MODIFIED"): what the row asked for is there."""
    error = error.lower()
    return "not modified" in error or "not_modified" in error


def _backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(300, 2 ** max(0, attempt)))


def _transport_failure(exc: NetworkError) -> bool:
    """A NetworkError that is the network's (or the server's) fault, worth waiting out.
    PTB also raises NetworkError for anything its HTTP layer raised, e.g. a text that
    cannot be encoded: that is the row's fault, and retrying it forever would not help."""
    cause = exc.__cause__
    return cause is None or isinstance(cause, httpx.HTTPError | OSError | TimeoutError)


def _reported(row: OutboxMessage) -> bool:
    """Failures the admins hear about: not the report itself (no report of a report),
    and not announcements, whose author gets their own report with every failure."""
    ref = row.ref or ""
    return ref != REPORT_REF and not ref.startswith("broadcast:")


_NUMBERS = re.compile(r"\d+")


def failure_kind(kind: str, error: str) -> str:
    """What failed, short enough to count alike failures together: numbers (positions,
    ids, seconds) do not make a failure a different one."""
    return f"{kind or GAVE_UP}|{_NUMBERS.sub('#', error)}"[:200]
