"""The outbox sender against the fake Bot API and a real database (SQLite and PostgreSQL):
leases that hold while their process lives and stop a batch before they run out, sends
that raise something other than a Telegram error, the admins' report of what failed for
good, and the hourly limit on questions through the running bot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import ExtBot, JobQueue

from bot import logs
from bot.context import BotContext
from bot.engines import delivery_report, outbox
from bot.engines.outbox import OutboxSender
from bot.engines.send_share import SendShare
from bot.engines.wakeup import EngineJob
from bot.settings import Settings
from bot.traffic.ratelimit import SendLimiter
from storage.models import (
    DeliveryFailure,
    Inquiry,
    InquiryKind,
    OutboxMessage,
    OutboxState,
    User,
    utcnow,
)
from tests.constants import ADMIN_ID, TOKEN
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotRunner

ZH_ADMIN, SILENT_ADMIN = 9002, 9003  # SILENT_ADMIN never opened the bot
CONTACT = 6101


async def api_bot(tg: FakeTelegram) -> ExtBot[str]:
    """A Bot as one process has it: real HTTP to the fake, its own rate limiter."""
    logs.add_secrets([TOKEN])  # as build_application does: httpx logs URLs with the token
    bot: ExtBot[str] = ExtBot(
        TOKEN, base_url=tg.base_url, base_file_url=tg.file_url, rate_limiter=SendLimiter(100)
    )
    await bot.initialize()
    return bot


@pytest.fixture
async def bots(tg: FakeTelegram) -> AsyncIterator[list[ExtBot[str]]]:
    """Two 'processes' (each a Bot with its own limiter)."""
    made = [await api_bot(tg), await api_bot(tg)]
    try:
        yield made
    finally:
        for bot in made:
            await bot.shutdown()


async def queue_cards(
    sessions: async_sessionmaker[AsyncSession], chat_id: int, texts: list[str]
) -> list[int]:
    async with sessions() as session, session.begin():
        ids = [await outbox.queue(session, chat_id, outbox.payload_text(t)) for t in texts]
    return [i for i in ids if i is not None]


async def rows(sessions: async_sessionmaker[AsyncSession], ids: list[int]) -> list[OutboxMessage]:
    async with sessions() as session:
        found = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
        )
        return list(found)


def texts_in(tg: FakeTelegram, chat_id: int) -> list[str]:
    return [m.text for m in tg.chat(chat_id)]


# --- leases ------------------------------------------------------------------------------


async def test_renewed_lease_keeps_a_batch_waiting_on_group_pacing(
    tg: FakeTelegram,
    sessions: async_sessionmaker[AsyncSession],
    bots: list[ExtBot[str]],
    job_queue: JobQueue[BotContext],
) -> None:
    """Three cards to one group take 6.4 s at its pace, three times the 2 s lease. The
    heartbeat renews it, so the other process never gets them: each card once."""
    group = tg.group(-100_901, "Cooperation office")
    lease = timedelta(seconds=2)
    first = OutboxSender(bots[0], sessions, lease=lease, owner="host-a:1:aaaa")
    other = OutboxSender(bots[1], sessions, lease=lease, owner="host-b:2:bbbb")
    share = SendShare(sessions, None, 25, instance_id=first.owner, lease=lease)
    share.leases = first
    heartbeat = EngineJob(job_queue, "beat", share.beat, tick=0.5)  # the real job, a short tick
    cards = [f"Card {n}" for n in range(1, 4)]
    ids = await queue_cards(sessions, group.chat_id, cards)
    heartbeat.start()
    try:
        sending = asyncio.create_task(first.run_once())
        for n in range(1, len(cards) + 1):

            def sent(n: int = n) -> bool:
                return len(group.messages()) >= n

            await tg.wait_for(sent, 10, f"card {n}")
            assert not await other.run_once(), "the other process took a row still being sent"
        assert await sending
    finally:
        await heartbeat.stop()
    assert texts_in(tg, group.chat_id) == cards
    assert {r.state for r in await rows(sessions, ids)} == {OutboxState.SENT}
    assert tg.stats["429"] == 0


async def test_batch_stops_before_an_unrenewed_lease_runs_out(
    tg: FakeTelegram, sessions: async_sessionmaker[AsyncSession], bots: list[ExtBot[str]]
) -> None:
    """No heartbeat (the database stalls, say): the sender stops starting sends before
    its lease may run out, and the rows it did not send go out once, from elsewhere."""
    group = tg.group(-100_902, "Cooperation office")
    stalled = OutboxSender(bots[0], sessions, lease=timedelta(seconds=2), owner="host-a:1:cccc")
    other = OutboxSender(bots[1], sessions, lease=timedelta(seconds=30), owner="host-b:2:dddd")
    cards = [f"Card {n}" for n in range(1, 4)]
    ids = await queue_cards(sessions, group.chat_id, cards)
    assert await stalled.run_once()  # returns at the lease's margin, 1.6 s in
    assert texts_in(tg, group.chat_id) == cards[:1]  # the next was 3.2 s away
    left = [r for r in await rows(sessions, ids) if r.state is OutboxState.SENDING]
    assert len(left) == 2
    assert not await other.run_once()  # still leased: nobody may take them yet
    with time_machine.travel(utcnow() + timedelta(seconds=3), tick=True):  # the lease ran out
        assert await other.run_once()
    assert texts_in(tg, group.chat_id) == cards
    done = await rows(sessions, ids)
    assert {r.state for r in done} == {OutboxState.SENT}
    assert [r.lease_owner for r in done] == [stalled.owner, other.owner, other.owner]


async def test_clean_stop_hands_back_what_it_did_not_send(
    tg: FakeTelegram,
    sessions: async_sessionmaker[AsyncSession],
    bots: list[ExtBot[str]],
    job_queue: JobQueue[BotContext],
) -> None:
    group = tg.group(-100_903, "Cooperation office")
    sender = OutboxSender(bots[0], sessions, owner="host-a:1:eeee", concurrency=1)
    ids = await queue_cards(sessions, group.chat_id, ["One", "Two", "Three"])
    sender.start(job_queue)
    await tg.wait_for(lambda: len(group.messages()) >= 1, 10, "the first card")
    await sender.stop()  # the second is on its way (it finishes); the third had not begun
    states = [r.state for r in await rows(sessions, ids)]
    assert states[0] is OutboxState.SENT
    assert OutboxState.SENDING not in states  # back in the queue, not stuck for a lease
    pending = [r for r in await rows(sessions, ids) if r.state is OutboxState.PENDING]
    assert pending and all(r.attempts == 0 for r in pending)


# --- sends that raise something other than a Telegram error ----------------------------


@pytest.fixture
def admins_settings(tg: FakeTelegram, make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(tg, admin_ids=f"{ADMIN_ID},{ZH_ADMIN},{SILENT_ADMIN}")


async def seed_admins(sessions: async_sessionmaker[AsyncSession], tg: FakeTelegram) -> None:
    tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    tg.user(ZH_ADMIN, first_name="管理员", language_code="zh-hans")
    async with sessions() as session, session.begin():
        session.add(User(id=ADMIN_ID, first_name="Admin", language="en", language_chosen=True))
        session.add(User(id=ZH_ADMIN, first_name="管理员", language="zh", language_chosen=True))


async def test_non_telegram_errors_are_retried_a_few_times_then_failed_and_reported(
    tg: FakeTelegram,
    sessions: async_sessionmaker[AsyncSession],
    bots: list[ExtBot[str]],
    admins_settings: Settings,
) -> None:
    """A text that cannot be encoded (PTB wraps the UnicodeEncodeError in a NetworkError,
    which used to be retried for ever) and a row that is not a mapping of parameters (a
    bug in whatever queued it): each is tried max_attempts times with backoff, then
    failed with its error kept; the admins get one report for the minute, each in their
    language; the report that cannot be delivered is not reported again."""
    await seed_admins(sessions, tg)
    contact = tg.user(CONTACT, first_name="Li", language_code="en")
    async with sessions() as session, session.begin():
        broken = await outbox.queue(
            session, contact.id, outbox.payload_text("Broken \ud800 text"), ref="inquiry:1"
        )
        odd = await outbox.queue(session, contact.id, ["not", "parameters"])  # type: ignore[arg-type]
    assert broken is not None and odd is not None
    sender = OutboxSender(bots[0], sessions, owner="host-a:1:ffff")
    start = utcnow()
    for attempt in range(1, sender.max_attempts + 1):
        # Each round after the backoff of the one before (moved, not waited for).
        with time_machine.travel(start + timedelta(minutes=attempt), tick=True):
            assert await sender.run_once(), f"nothing due at attempt {attempt}"
            got = await rows(sessions, [broken, odd])
            assert {(r.state, r.attempts) for r in got} == {(OutboxState.PENDING, attempt)} or (
                attempt == sender.max_attempts
            ), [(r.state, r.attempts, r.last_error) for r in got]
    with time_machine.travel(start + timedelta(hours=1), tick=True):
        assert not await sender.run_once()  # both gave up: no endless loop
    failed = {r.id: r for r in await rows(sessions, [broken, odd])}
    assert {r.state for r in failed.values()} == {OutboxState.FAILED}
    assert {r.attempts for r in failed.values()} == {sender.max_attempts}
    assert "UnicodeEncodeError" in (failed[broken].last_error or "")
    assert "TypeError" in (failed[odd].last_error or "")
    assert tg.calls_to("sendMessage") == []  # neither could even be put on the wire
    assert contact.messages() == []

    # One report per admin for that minute, listing both kinds.
    async with sessions() as session:
        kinds = {k: n for k, n in (await session.execute(
            select(DeliveryFailure.kind, DeliveryFailure.count))).all()}  # fmt: skip
    assert sorted(kinds.values()) == [1, 1] and all(k.startswith("bug|") for k in kinds)
    later = start + timedelta(hours=2)
    async with sessions() as session, session.begin():
        queued = await delivery_report.report_due(session, admins_settings, later)
    assert queued == 3  # three admins, one report each
    with time_machine.travel(later, tick=True):
        assert await sender.run_once()
    (english,) = tg.user(ADMIN_ID).messages()
    assert "2 messages could not be delivered" in english.text, english.text
    assert english.text.count("because of an error in the bot") == 2
    assert "UnicodeEncodeError" in english.text and "TypeError" in english.text
    (chinese,) = tg.user(ZH_ADMIN).messages()
    assert "有 2 条消息未能送达" in chinese.text and "因机器人程序错误无法发送" in chinese.text
    async with sessions() as session:
        reports = list(await session.scalars(
            select(OutboxMessage).where(OutboxMessage.ref == outbox.REPORT_REF)))  # fmt: skip
        left = await session.scalar(select(func.count()).select_from(DeliveryFailure))
    by_chat = {r.chat_id: r.state for r in reports}
    assert by_chat == {
        ADMIN_ID: OutboxState.SENT, ZH_ADMIN: OutboxState.SENT,
        SILENT_ADMIN: OutboxState.FAILED,  # "chat not found": never opened the bot
    }  # fmt: skip
    assert left == 0  # the failed report is not counted for another report
    async with sessions() as session, session.begin():
        again = await delivery_report.report_due(
            session, admins_settings, later + timedelta(hours=1)
        )
    assert again == 0


async def test_a_failed_notification_reaches_the_admins_through_the_running_bot(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    """Wired in: a row refused for good (a chat Telegram does not know) ends failed, and
    once its minute is over the admin gets the report without anyone asking."""
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    runner = BotRunner(make_settings(tg, safety_tick_seconds=0.2))
    await runner.start()
    try:
        await admin.send_and_wait("/start")
        async with runner.sessions() as session, session.begin():
            row = await outbox.queue(session, 777_000, outbox.payload_text("Hello"), ref="x:1")
        assert runner.app is not None and runner.app.bot_data.outbox is not None
        runner.app.bot_data.outbox.wake()

        await tg.wait_for(lambda: tg.stats["http_400"] >= 1, 10, "the refused send")
        for _ in range(100):  # recorded right after Telegram's answer
            (found,) = await rows(runner.sessions, [row or 0])
            if found.state is OutboxState.FAILED:
                break
            await asyncio.sleep(0.05)
        assert found.state is OutboxState.FAILED and found.last_error == "Chat not found"
        with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2), tick=True):
            report = await admin.expect_message(timeout=10)
        assert "1 message could not be delivered" in report.text
        assert "1× refused by Telegram (error: Chat not found)" in report.text
    finally:
        await runner.stop()


# --- the hourly limit on questions --------------------------------------------------------


async def ask(contact: FakeUser, text: str) -> str:
    """/ask, the question, Save; returns what the bot answered to Save."""
    await contact.send_and_wait("/ask")
    confirm = await contact.send_and_wait(text)
    assert "Please check before sending" in confirm.text
    await contact.press("📨 Send")
    return (await contact.expect_message()).text


async def test_a_contact_may_open_five_questions_an_hour(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    staff = tg.group(-100_904, "Cooperation office")
    runner = BotRunner(make_settings(tg, staff_chat_id=str(staff.chat_id), safety_tick_seconds=0.2))
    await runner.start()
    try:
        contact = tg.user(CONTACT, first_name="Li", language_code="en")
        for n in range(1, 6):
            assert "Your question was sent" in await ask(contact, f"Question {n}")
        # The sixth: refused on the check screen, before anything is confirmed.
        refused = await ask(contact, "Question 6")
        assert "Please check before sending" in refused
        assert "already asked 5 questions in the past hour" in refused
        assert "about 60 min" in refused and "Your question was sent" not in refused
        async with runner.sessions() as session:
            asked = await session.scalar(
                select(func.count()).select_from(Inquiry).where(Inquiry.user_id == CONTACT)
            )
        assert asked == 5

        # In Chinese too; this contact asked five questions 20 minutes ago.
        zh = tg.user(CONTACT + 1, first_name="王", language_code="zh-hans")
        await zh.send_and_wait("/start")
        earlier = utcnow() - timedelta(minutes=20)
        async with runner.sessions() as session, session.begin():
            session.add_all(
                Inquiry(user_id=zh.id, kind=InquiryKind.QUESTION, message=f"问题 {n}",
                        organization="", created_at=earlier, updated_at=earlier)
                for n in range(5)
            )  # fmt: skip
        await zh.send_and_wait("/ask")
        await zh.send_and_wait("第六个问题")
        await zh.press("📨 发送")
        refused_zh = (await zh.expect_message()).text
        assert "已达每小时上限" in refused_zh and "请约 40 分钟后再提问" in refused_zh, refused_zh

        # An hour on, the waiting question goes through from its check screen.
        with time_machine.travel(datetime.now(UTC) + timedelta(minutes=61), tick=True):
            await contact.press("📨 Send")
            assert "Your question was sent" in (await contact.expect_message()).text
            await tg.wait_for(lambda: len(staff.messages()) >= 6, 60, "six staff cards")
        cards = [m.text for m in staff.messages()]
        assert [sum(f"Question {n}" in c for c in cards) for n in range(1, 7)] == [1] * 6
        assert not any("第六个问题" in c for c in cards)  # the staff chat was spared
    finally:
        await runner.stop()
