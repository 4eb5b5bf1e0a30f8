"""Reminders survive crashes: real `partnerbot` processes, real databases, SIGKILL.

- Reminders that fall due while the bot is dead are sent once on the next start, marked
  late (SQLite and PostgreSQL).
- A SIGKILL in the middle of an outbox batch repeats only the sends that were in flight,
  and loses nothing.
- Two `partnerbot worker` processes on one PostgreSQL split the work without sending
  anything twice.

The processes log to files (not pipes: a full pipe would stall a chatty process).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import next_steps as steps_repo
from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import (
    Inquiry,
    InquiryKind,
    InquiryStatus,
    NextStep,
    OutboxMessage,
    OutboxState,
    Reminder,
    ReminderState,
    User,
    utcnow,
)
from tests.constants import ADMIN_ID, TOKEN
from tests.databases import new_pg_database
from tests.fakebot import FakeTelegram

ROOT = Path(__file__).parent.parent
LATE_NOTE = "sent late"
OUTBOX_CONCURRENCY = 8  # OutboxSender's default
KILL_AFTER = 10  # reminders delivered before the SIGKILL in the mid-batch test


# --- processes -----------------------------------------------------------------------------


def bot_env(tg: FakeTelegram, db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_"))}
    env.update(
        BOT_TOKEN=TOKEN,
        DATABASE_URL=db_url,
        ADMIN_IDS=str(ADMIN_ID),
        TELEGRAM_API_URL=tg.base_url,
        TELEGRAM_FILE_URL=tg.file_url,
        LOG_LEVEL="INFO",
        SAFETY_TICK_SECONDS="0.2",
        SEND_RATE="200",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


class Proc:
    """`python -m bot.cli <command>` with its output in a log file."""

    def __init__(self, command: str, env: dict[str, str], log_path: Path) -> None:
        self.command, self.env, self.log_path = command, env, log_path
        self.proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    async def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", self.command,
            cwd=ROOT, env=self.env, stdout=self._log, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a power cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), timeout=10)
        self._close()

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout=timeout)
        finally:
            self._close()
        return code

    async def ensure_dead(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


# --- the database --------------------------------------------------------------------------


async def seed_steps(
    engine: AsyncEngine, owner_ids: Sequence[int], due_at: datetime
) -> dict[int, int]:
    """Owners (English), one inquiry, one open step per owner with one pending "due"
    reminder at `due_at`. Also takes the digest marks around today, so no daily digest
    joins in and the only message an owner gets is the reminder. {owner: step id}."""
    sessions = create_session_factory(engine)
    async with sessions() as session, session.begin():
        session.add(User(id=ADMIN_ID, first_name="Admin", language="en", language_chosen=True))
        session.add_all(
            User(id=o, first_name=f"Owner{o}", language="en", language_chosen=True)
            for o in owner_ids
        )
        await session.flush()
        inquiry = Inquiry(
            kind=InquiryKind.QUESTION, message="Durability", organization="Acme Robotics",
            status=InquiryStatus.CONTACTED, first_response_at=utcnow(),
        )  # fmt: skip
        session.add(inquiry)
        await session.flush()
        steps = {
            o: NextStep(
                inquiry_id=inquiry.id,
                title=step_title(o),
                owner_id=o,
                due_at=due_at,
                created_by=ADMIN_ID,
            )
            for o in owner_ids
        }
        session.add_all(steps.values())
        await session.flush()
        session.add_all(
            Reminder(step_id=s.id, kind="due", due_at=due_at, state=ReminderState.PENDING)
            for s in steps.values()
        )
        today = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()
        for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
            await steps_repo.claim_mark(session, f"digest:{day.isoformat()}")
    return {o: s.id for o, s in steps.items()}


async def move_due(engine: AsyncEngine, step_ids: Sequence[int], due_at: datetime) -> None:
    async with create_session_factory(engine)() as session, session.begin():
        await session.execute(
            update(Reminder).where(Reminder.step_id.in_(step_ids)).values(due_at=due_at)
        )
        await session.execute(
            update(NextStep).where(NextStep.id.in_(step_ids)).values(due_at=due_at)
        )


async def reminders_of(engine: AsyncEngine, step_ids: Sequence[int]) -> list[Reminder]:
    async with create_session_factory(engine)() as session:
        rows = await session.scalars(select(Reminder).where(Reminder.step_id.in_(step_ids)))
        return list(rows)


async def outbox_rows(engine: AsyncEngine) -> list[OutboxMessage]:
    async with create_session_factory(engine)() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.ref.startswith("step:"))
        )
        return list(rows)


async def wait_db(
    engine: AsyncEngine, check: Callable[[list[OutboxMessage]], bool], timeout: float, what: str
) -> list[OutboxMessage]:
    deadline = time.monotonic() + timeout
    while True:
        rows = await outbox_rows(engine)
        if check(rows):
            return rows
        if time.monotonic() > deadline:
            states = sorted({str(r.state) for r in rows})
            raise AssertionError(f"timed out after {timeout}s waiting for {what}: {states}")
        await asyncio.sleep(0.1)


def all_sent(expected: int) -> Callable[[list[OutboxMessage]], bool]:
    def check(rows: list[OutboxMessage]) -> bool:
        return len(rows) == expected and all(r.state is OutboxState.SENT for r in rows)

    return check


def step_title(owner_id: int) -> str:
    return f"Send the signed agreement #{owner_id}"


def received(tg: FakeTelegram, owner_ids: Sequence[int]) -> dict[int, int]:
    return {o: len(tg.chat(o)) for o in owner_ids}


# --- 1. downtime -----------------------------------------------------------------------------


async def test_reminders_due_during_downtime_are_sent_once_and_late(
    tg: FakeTelegram, db_url: str, tmp_path: Path
) -> None:
    owners = list(range(20_001, 20_051))
    for o in owners:
        tg.user(o, first_name=f"Owner{o}", language_code="en")
    engine = create_engine(db_url)
    bot = Proc("run", bot_env(tg, db_url), tmp_path / "run.log")
    try:
        await bot.start()
        reply = await tg.user(20_000, first_name="Ada", language_code="en").send_and_wait(
            "/start", timeout=30
        )
        assert "Main menu" in reply.text, bot.tail()

        steps = await seed_steps(engine, owners, utcnow() + timedelta(seconds=2))
        await bot.kill()  # before anything fell due
        assert sum(received(tg, owners).values()) == 0
        assert {r.state for r in await reminders_of(engine, list(steps.values()))} == {
            ReminderState.PENDING
        }

        # The downtime outlasts the due time (and the 60 s after which a send is "late").
        await move_due(engine, list(steps.values()), utcnow() - timedelta(minutes=2))
        again = Proc("run", bot_env(tg, db_url), tmp_path / "run.log")
        bot = again
        await again.start()
        await tg.wait_for(
            lambda: all(received(tg, owners).values()), 60, "a reminder in every owner's chat"
        )
        rows = await wait_db(engine, all_sent(len(owners)), 15, "every outbox row sent")
        code = await again.stop()
        assert code == 0, again.tail()

        counts = received(tg, owners)
        assert {o: n for o, n in counts.items() if n != 1} == {}
        for o in owners:
            (msg,) = tg.chat(o)
            assert step_title(o) in msg.text
            assert LATE_NOTE in msg.text, msg.text
        reminders = await reminders_of(engine, list(steps.values()))
        assert len(reminders) >= len(owners)
        due = [r for r in reminders if r.kind == "due"]
        assert len(due) == len(owners)
        assert all(r.state is ReminderState.QUEUED and r.late for r in due), [
            (r.id, r.state, r.late) for r in due if not (r.state is ReminderState.QUEUED and r.late)
        ]
        # The next daily overdue reminder was planned (for tomorrow), not sent now.
        later = [r for r in reminders if r.kind != "due"]
        assert all(r.state is ReminderState.PENDING and r.kind == "overdue:1" for r in later)
        assert {r.chat_id for r in rows} == set(owners)
        assert {r.id for r in rows} == {r.outbox_id for r in due}
        # Nobody else got a reminder either (the admin, the /start user).
        step_sends = [
            c for c in tg.calls_to("sendMessage") if c.status == 200 and "#" in c.params["text"]
        ]
        assert len(step_sends) == len(owners)
    finally:
        await bot.ensure_dead()
        await engine.dispose()


async def test_sigkill_mid_batch_repeats_only_the_sends_in_flight(
    tg: FakeTelegram, db_url: str, tmp_path: Path
) -> None:
    owners = list(range(30_001, 30_201))
    for o in owners:
        tg.user(o, first_name=f"Owner{o}", language_code="en")
    engine = create_engine(db_url)
    await upgrade(engine)
    steps = await seed_steps(engine, owners, utcnow() - timedelta(minutes=2))
    bot = Proc("run", bot_env(tg, db_url), tmp_path / "run.log")
    try:
        await bot.start()
        await tg.wait_for(
            lambda: sum(received(tg, owners).values()) >= KILL_AFTER, 60, "the first reminders"
        )
        await bot.kill()
        await asyncio.sleep(0.3)  # requests already on the wire may still land
        before = received(tg, owners)
        delivered = {o for o, n in before.items() if n}
        rows = await outbox_rows(engine)
        by_chat = {r.chat_id: r for r in rows}
        states = {s: sum(r.state is s for r in rows) for s in OutboxState}
        # Delivered but not recorded as sent: these, and only these, may be sent again.
        unrecorded = {o for o in delivered if by_chat[o].state is not OutboxState.SENT}
        leased = [r for r in rows if r.state is OutboxState.SENDING]
        print(
            f"\n[{engine.dialect.name}] at SIGKILL: {len(delivered)}/{len(owners)} delivered,"
            f" rows by state { ({str(k): v for k, v in states.items() if v}) },"
            f" delivered-but-unrecorded {len(unrecorded)}"
        )
        assert len(delivered) < len(owners), "all were sent before the kill; nothing tested"

        # The dead instance's lease runs out (60 s) — simulated, as with the downtime.
        async with create_session_factory(engine)() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([r.id for r in leased]))
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )
        again = Proc("run", bot_env(tg, db_url), tmp_path / "run.log")
        bot = again
        await again.start()
        await tg.wait_for(
            lambda: all(received(tg, owners).values()), 60, "a reminder in every owner's chat"
        )
        rows = await wait_db(engine, all_sent(len(owners)), 30, "every outbox row sent")
        code = await again.stop()
        assert code == 0, again.tail()

        counts = received(tg, owners)
        missing = [o for o, n in counts.items() if n == 0]
        twice = {o for o, n in counts.items() if n == 2}
        more = {o: n for o, n in counts.items() if n > 2}
        print(f"[{engine.dialect.name}] duplicates {len(twice)}: {sorted(twice)}")
        assert missing == []
        assert more == {}
        assert len(twice) <= 50
        assert twice == unrecorded  # exactly the sends that were in flight came again
        assert len(twice) <= OUTBOX_CONCURRENCY  # one process, one batch in flight
        for o in owners:
            assert all(step_title(o) in m.text for m in tg.chat(o))
        reminders = [r for r in await reminders_of(engine, list(steps.values())) if r.kind == "due"]
        assert len(reminders) == len(owners)
        assert all(r.state is ReminderState.QUEUED and r.late for r in reminders)
        assert all(r.state is OutboxState.SENT for r in rows)
        assert len(rows) == len(owners)  # one outbox row per reminder: no double queueing
    finally:
        await bot.ensure_dead()
        await engine.dispose()


# --- 2. two workers --------------------------------------------------------------------------


async def test_two_workers_on_postgresql_send_each_reminder_once(
    tg: FakeTelegram, pg_server: str | None, tmp_path: Path
) -> None:
    if pg_server is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    db_url = await new_pg_database(pg_server)
    owners = list(range(40_001, 42_001))
    for o in owners:
        tg.user(o, first_name=f"Owner{o}", language_code="en")
    engine = create_engine(db_url)
    await upgrade(engine)
    steps = await seed_steps(engine, owners, utcnow() - timedelta(seconds=1))
    env = bot_env(tg, db_url, SEND_RATE="400")
    workers = [Proc("worker", env, tmp_path / f"worker{n}.log") for n in (1, 2)]
    try:
        started = time.monotonic()
        await asyncio.gather(*(w.start() for w in workers))

        def sent() -> int:  # successful sends (all of them sendMessage here); cheap to ask
            return tg.stats["sent"]

        try:
            await tg.wait_for(lambda: sent() >= len(owners), 90, "2,000 sendMessage calls")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; sent {sent()}\n{workers[0].tail()}") from None
        elapsed = time.monotonic() - started
        rows = await wait_db(engine, all_sent(len(owners)), 15, "every outbox row sent")
        await asyncio.sleep(0.5)  # grace: would anything else arrive?
        codes = await asyncio.gather(*(w.stop(signal.SIGTERM) for w in workers))
        assert codes == [0, 0], [w.tail() for w in workers]

        counts = received(tg, owners)
        missing = [o for o, n in counts.items() if n == 0]
        twice = {o: n for o, n in counts.items() if n > 1}
        calls = tg.calls_to("sendMessage")
        errors = [(c.status, c.params.get("chat_id")) for c in calls if c.status != 200]
        senders: dict[str, int] = {}
        for r in rows:
            pid = (r.lease_owner or "?").split(":")[1] if r.lease_owner else "?"
            senders[pid] = senders.get(pid, 0) + 1
        print(
            f"\n2 workers, {len(owners)} reminders: all sent in {elapsed:.1f}s"
            f" ({len(owners) / elapsed:.0f}/s); per worker pid {senders};"
            f" sendMessage calls {len(calls)}, errors {len(errors)}"
        )
        assert missing == []
        assert twice == {}
        assert errors == []
        assert len(calls) == len(owners)
        reminders = await reminders_of(engine, list(steps.values()))
        due = [r for r in reminders if r.kind == "due"]
        assert len(due) == len(owners)
        assert all(r.state is ReminderState.QUEUED for r in due)
        assert not any(r.late for r in due)
        assert len(rows) == len(owners) and all(r.state is OutboxState.SENT for r in rows)
        assert len(senders) == 2, senders  # both workers took part
    finally:
        for w in workers:
            await w.ensure_dead()
        await engine.dispose()
