"""Scale-out on PostgreSQL: one `partnerbot run` and two `partnerbot worker` processes.

Contacts register interest through the running bot, 300 reminders fall due while all
three processes are up, and an admin broadcasts to everyone. Every engine (outbox sender,
reminder dispatcher, broadcast ticker) runs in all three processes at once, competing for
the same rows; nothing may be lost and nothing sent twice.

Then 40 staff cards to one group, which Telegram takes at 20 a minute, with a lease far
shorter than that queue takes: the leases are renewed while their process lives, so no
card goes out twice.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import (
    EnterpriseProfile,
    Inquiry,
    InquiryStatus,
    OutboxMessage,
    OutboxState,
    Program,
    SenderInstance,
    User,
    utcnow,
)
from tests.constants import ADMIN_ID, TOKEN
from tests.databases import new_pg_database
from tests.fakebot import FakeTelegram, FakeUser
from tests.seed import add_teacher, seed_catalog, special_id
from tests.test_broadcast_crash import compose_and_send
from tests.test_reminder_durability import Proc, bot_env, seed_steps, step_title

TEACHER_ID = 5001
STAFF_CHAT = -100777
CONTACTS = list(range(61_001, 61_009))  # 8 enterprise contacts
OWNERS = list(range(62_001, 62_301))  # 300 next-step owners, one reminder each
MARKER = "Scale-out open day"
SEND_RATE = 90  # the bot's total: the three processes take 30/s each


def organization(contact: int) -> str:
    return f"Binhai Robotics No. {contact}"


async def register_interest(contact: FakeUser, lab: int, timeout: float = 10) -> None:
    """Card → I'm interested → no message → Save (the profile exists already)."""
    await contact.send_and_wait(f"/start p_{lab}", timeout=timeout)
    await contact.press("✋ I'm interested")
    await contact.expect_message()
    await contact.press("Skip ⏭")
    await contact.expect_message()
    await contact.press("📨 Send")
    sent = await contact.expect_message(timeout=10)
    assert "Your interest was sent" in sent.text, sent.text


def count_with(tg: FakeTelegram, chat_id: int, needle: str) -> int:
    return sum(needle in m.text for m in tg.chat(chat_id))


async def test_one_bot_and_two_workers_lose_nothing_and_send_nothing_twice(
    tg: FakeTelegram, pg_server: str | None, tmp_path: Path
) -> None:
    if pg_server is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    db_url = await new_pg_database(pg_server)
    engine = create_engine(db_url)
    await upgrade(engine)
    sessions = create_session_factory(engine)
    # Reminders fall due a few seconds after the processes start.
    steps = await seed_steps(engine, OWNERS, utcnow() + timedelta(seconds=8))
    await seed_catalog(sessions, count=2)
    await add_teacher(sessions, TEACHER_ID, "王老师")
    lab = await special_id(sessions, "LAB-AI")
    async with sessions() as session, session.begin():
        await session.execute(update(Program).where(Program.id == lab).values(owner_id=TEACHER_ID))
        session.add_all(
            User(id=c, first_name=f"C{c}", language="en", language_chosen=True) for c in CONTACTS
        )
        await session.flush()
        for c in CONTACTS:
            session.add(
                EnterpriseProfile(
                    user_id=c, organization=organization(c), contact_person=f"Manager {c}",
                    phone="+8613800000000", industry="Robotics", consent_at=utcnow(),
                )
            )  # fmt: skip
    for uid in (*OWNERS, *CONTACTS):
        tg.user(uid, first_name=f"U{uid}", language_code="en")
    tg.user(TEACHER_ID, first_name="王老师", language_code="zh-hans")
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    tg.group(STAFF_CHAT, title="Cooperation office")

    env = bot_env(tg, db_url, STAFF_CHAT_ID=str(STAFF_CHAT), SEND_RATE=str(SEND_RATE))
    procs = [
        Proc("run", env, tmp_path / "run.log"),
        Proc("worker", env, tmp_path / "worker1.log"),
        Proc("worker", env, tmp_path / "worker2.log"),
    ]

    def logs() -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.tail(2000)}" for p in procs)

    try:
        await asyncio.gather(*(p.start() for p in procs))
        contacts = [tg.user(c) for c in CONTACTS]
        try:
            await register_interest(contacts[0], lab, timeout=30)  # the bot is starting
            await asyncio.gather(*(register_interest(c, lab) for c in contacts[1:]))
            await tg.wait_for(
                lambda: all(count_with(tg, o, step_title(o)) for o in OWNERS),
                60,
                "a reminder in every owner's chat",
            )
            async with sessions() as session:
                audience = await session.scalar(select(func.count(User.id)))
                sharing = list(await session.scalars(select(SenderInstance.id)))
            assert len(sharing) == len(procs), sharing
            assert audience is not None
            await compose_and_send(admin, audience, text=f"<b>{MARKER}</b> in the science park")
            await tg.wait_for(
                lambda: next((m for m in admin.messages() if ": done" in m.text), None),
                60,
                "the broadcast's final report",
            )
            await tg.wait_for(
                lambda: all(
                    count_with(tg, chat, organization(c))
                    for c in CONTACTS
                    for chat in (TEACHER_ID, STAFF_CHAT)
                ),
                30,
                "the teacher's and the staff's card for every inquiry",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{logs()}") from None
        await asyncio.sleep(1.0)  # grace: would anything else arrive?
        codes = await asyncio.gather(*(p.stop(signal.SIGTERM) for p in procs))
        assert codes == [0, 0, 0], logs()
        async with sessions() as session:  # a clean stop hands the share back
            assert list(await session.scalars(select(SenderInstance.id))) == []

        # Every inquiry stored once, and its two notifications delivered once each.
        async with sessions() as session:
            inquiries = list(
                await session.scalars(select(Inquiry).where(Inquiry.program_id == lab))
            )
            outbox = list(await session.scalars(select(OutboxMessage)))
            users = list(await session.scalars(select(User.id)))
        assert sorted(i.user_id for i in inquiries if i.user_id) == CONTACTS
        assert all(i.status is InquiryStatus.NEW for i in inquiries)
        teacher_cards = {c: count_with(tg, TEACHER_ID, organization(c)) for c in CONTACTS}
        staff_cards = {c: count_with(tg, STAFF_CHAT, organization(c)) for c in CONTACTS}
        assert teacher_cards == dict.fromkeys(CONTACTS, 1)
        assert staff_cards == dict.fromkeys(CONTACTS, 1)

        # Every reminder once.
        reminders = {o: count_with(tg, o, step_title(o)) for o in OWNERS}
        assert reminders == dict.fromkeys(OWNERS, 1)
        assert len(steps) == len(OWNERS)

        # Every announcement once (the admin's count leaves out their preview).
        announced = Counter(
            int(c.params["chat_id"])
            for c in tg.calls_to("sendMessage")
            if c.status == 200 and MARKER in str(c.params.get("text", ""))
        )
        announced[ADMIN_ID] -= 1
        assert {u: announced[u] for u in users} == dict.fromkeys(users, 1)

        # All of it through the outbox, all sent, by more than one process.
        assert outbox and all(r.state is OutboxState.SENT for r in outbox), Counter(
            str(r.state) for r in outbox
        )
        senders = Counter((r.lease_owner or "?").split(":")[1] for r in outbox)
        failed = [c for c in tg.calls_to("sendMessage") if c.status != 200]
        print(
            f"\nrun + 2 workers: {len(outbox)} outbox sends by pid {dict(senders)};"
            f" busiest second {max(tg.sends_per_second().values())} sends;"
            f" {len(inquiries)} inquiries, {len(OWNERS)} reminders, {len(users)} announcements"
        )
        assert failed == []
        assert len(senders) >= 2, senders
        # SEND_RATE is the bot's total however many processes send: each paces itself at
        # its share (at most one send per process of rounding at a second's edges).
        busiest = max(tg.sends_per_second().values())
        assert busiest <= SEND_RATE + len(procs), busiest
    finally:
        for p in procs:
            await p.ensure_dead()
        await engine.dispose()


QUESTIONERS = list(range(63_001, 63_009))  # 8 contacts, 5 questions each: 40 staff cards
CARD_LEASE = "10"  # seconds (the shortest allowed); the 40 cards take two minutes


def question(contact: int, n: int) -> str:
    return f"Question {n} from contact {contact}"


async def ask_five(contact: FakeUser) -> None:
    for n in range(1, 6):
        await contact.send_and_wait("/ask", timeout=30)
        await contact.send_and_wait(question(contact.id, n))
        await contact.press("📨 Send")
        sent = await contact.expect_message(timeout=10)
        assert "Your question was sent" in sent.text, sent.text


@pytest.mark.timeout(420)  # the group's pace alone makes it two minutes
async def test_forty_staff_cards_at_the_groups_pace_none_twice_with_a_short_lease(
    pg_server: str | None, tmp_path: Path
) -> None:
    """Two workers and the bot on PostgreSQL send 40 staff cards to one group, which
    Telegram takes at 20 a minute: the queue takes two minutes, twelve times the lease.
    Rows wait in a process's pacing (and in its pauses after a 429) far longer than the
    lease; the heartbeat renews it, so no other process takes them: each card once."""
    if pg_server is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    db_url = await new_pg_database(pg_server)
    engine = create_engine(db_url)
    await upgrade(engine)
    sessions = create_session_factory(engine)
    # Telegram's limits for the bot (30/s) and for a group (20 a minute); the contacts'
    # own chats are left unlimited, since they type here at machine speed.
    fake = FakeTelegram(token=TOKEN, rate_limit_global=30, rate_limit_group_per_minute=20)
    async with fake as tg:
        group = tg.group(STAFF_CHAT, title="Cooperation office")
        tg.user(ADMIN_ID, first_name="Admin", language_code="en")
        contacts = [tg.user(c, first_name=f"C{c}", language_code="en") for c in QUESTIONERS]
        env = bot_env(
            tg, db_url, STAFF_CHAT_ID=str(STAFF_CHAT), SEND_RATE="25",
            OUTBOX_LEASE_SECONDS=CARD_LEASE, SAFETY_TICK_SECONDS="1",
        )  # fmt: skip
        procs = [
            Proc("run", env, tmp_path / "run.log"),
            Proc("worker", env, tmp_path / "worker1.log"),
            Proc("worker", env, tmp_path / "worker2.log"),
        ]

        def logs() -> str:
            return "\n".join(f"--- {p.log_path.name}\n{p.tail(2000)}" for p in procs)

        def cards() -> Counter[str]:
            return Counter(
                question(c, n)
                for m in group.messages()
                for c in QUESTIONERS
                for n in range(1, 6)
                if question(c, n) in m.text
            )

        try:
            await asyncio.gather(*(p.start() for p in procs))
            started = time.monotonic()
            try:
                await asyncio.gather(*(ask_five(c) for c in contacts))
                await tg.wait_for(lambda: len(cards()) == 40, 240, "40 cards in the group")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{logs()}") from None
            took = time.monotonic() - started
            await asyncio.sleep(2 * float(CARD_LEASE))  # would a lapsed lease send more?
            codes = await asyncio.gather(*(p.stop(signal.SIGTERM) for p in procs))
            assert codes == [0, 0, 0], logs()
        finally:
            for p in procs:
                await p.ensure_dead()
        async with sessions() as session:
            rows = list(
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.chat_id == STAFF_CHAT)
                )
            )
        senders = Counter((r.lease_owner or "?").split(":")[1] for r in rows)
        print(
            f"\n40 staff cards, 3 processes, lease {CARD_LEASE}s: all in the group after"
            f" {took:.0f}s; sent by pid {dict(senders)}; 429s answered {tg.stats['429']}"
        )
        assert cards() == Counter({question(c, n): 1 for c in QUESTIONERS for n in range(1, 6)})
        assert len(rows) == 40 and {r.state for r in rows} == {OutboxState.SENT}
        assert took > 4 * float(CARD_LEASE)  # the queue really outlasted the lease
        assert len(senders) >= 2, senders  # the processes competed for the rows
    await engine.dispose()
