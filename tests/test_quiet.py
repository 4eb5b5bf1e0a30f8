"""Nothing goes quiet (bot/inquiries/stale.py): quiet inquiries nudge their people once per
spell, their contacts get one note, they show in the digest; a digest missed while the
bot was down goes out at the restart, saying since when. The clock is moved, not waited for.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.inquiries import stale
from bot.next_steps import service as next_steps
from bot.settings import Settings
from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import (
    EngineMark,
    EnterpriseProfile,
    Inquiry,
    InquiryEvent,
    InquiryKind,
    InquiryStatus,
    NextStep,
    OutboxMessage,
    Role,
    StepStatus,
    User,
)
from storage.next_steps import claim_mark
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram, FakeUser, SentMessage
from tests.harness import BotRunner
from tests.test_reminder_durability import Proc, bot_env

TEACHER_ID = 5001  # writes Chinese
CONTACT_EN, CONTACT_ZH = 6100, 6101
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Shanghai
WEEK = timedelta(days=7)
MINUTE = timedelta(minutes=1)


async def add_people(session: AsyncSession, at: datetime) -> None:
    session.add_all(
        [
            User(id=TEACHER_ID, first_name="王老师", language="zh", role=Role.TEACHER),
            User(id=CONTACT_EN, first_name="Li", language="en"),
            User(id=CONTACT_ZH, first_name="张", language="zh"),
        ]
    )
    await session.flush()
    for user_id, org in ((CONTACT_EN, "Wuqing Robotics"), (CONTACT_ZH, "津南精工")):
        session.add(
            EnterpriseProfile(
                user_id=user_id, organization=org, contact_person="Li Lei", consent_at=at
            )
        )


async def add_inquiry(
    session: AsyncSession, at: datetime, *, user_id: int | None, assignee_id: int | None = None,
    status: InquiryStatus = InquiryStatus.CONTACTED, org: str = "Wuqing Robotics",
) -> int:  # fmt: skip
    inquiry = Inquiry(
        user_id=user_id, kind=InquiryKind.QUESTION, message="Visit?", organization=org,
        status=status, assignee_id=assignee_id, created_at=at, first_response_at=at,
        escalation=2,  # the first-response deadline (another engine) is done with it
    )  # fmt: skip
    session.add(inquiry)
    await session.flush()
    session.add(InquiryEvent(inquiry_id=inquiry.id, kind="created", created_at=at))
    await session.flush()
    return inquiry.id


async def outbox_rows(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessions() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.ref.like("inquiry:%"))
        return list(await session.scalars(stmt.order_by(OutboxMessage.id)))


def by_ref(rows: list[OutboxMessage]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for row in rows:
        out.setdefault(row.ref or "", []).append(row.chat_id)
    return out


# The rule, on both databases ---------------------------------------------------------------


async def test_who_is_nudged_once_per_spell(
    sessions: async_sessionmaker[AsyncSession], make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    async with sessions() as session, session.begin():
        await add_people(session, T0)
        assigned = await add_inquiry(session, T0, user_id=CONTACT_EN, assignee_id=TEACHER_ID)
        nobodys = await add_inquiry(
            session, T0, user_id=CONTACT_ZH, status=InquiryStatus.NEW, org="Gears <b>&</b> Co"
        )
        stepped = await add_inquiry(session, T0, user_id=CONTACT_EN, assignee_id=TEACHER_ID)
        closed = await add_inquiry(session, T0, user_id=CONTACT_EN, status=InquiryStatus.CLOSED)
        declined = await add_inquiry(session, T0, user_id=CONTACT_EN, status=InquiryStatus.DECLINED)
        done_step = await add_inquiry(session, T0, user_id=CONTACT_ZH, assignee_id=TEACHER_ID)
        forgotten = await add_inquiry(session, T0, user_id=None)  # the contact used /forget
        session.add(User(id=TEACHER_ID + 1, first_name="Gone", language="zh"))  # role taken
        await session.flush()
        left = await add_inquiry(session, T0, user_id=None, assignee_id=TEACHER_ID + 1)
        for inquiry_id, state in ((stepped, StepStatus.OPEN), (done_step, StepStatus.DONE)):
            session.add(
                NextStep(inquiry_id=inquiry_id, title="Call", owner_id=TEACHER_ID,
                         due_at=T0 + 30 * WEEK, status=state)
            )  # fmt: skip

    async with sessions() as session, session.begin():
        assert await stale.nudge_due(session, settings, T0 + WEEK - MINUTE) == (0, 0)
    async with sessions() as session:
        assert await stale.next_nudge_at(session, settings) == T0 + WEEK
        before = await session.get(Inquiry, assigned)
        assert before is not None
        updated_at = before.updated_at

    async with sessions() as session, session.begin():
        found, queued = await stale.nudge_due(session, settings, T0 + WEEK + MINUTE)
    assert (found, queued) == (5, 7)
    sent = by_ref(await outbox_rows(sessions))
    assert sent == {
        f"inquiry:{assigned}": [TEACHER_ID, CONTACT_EN],  # the assignee, and the contact
        f"inquiry:{nobodys}": [ADMIN_ID, CONTACT_ZH],  # nobody assigned: the admins
        # only open steps count; its contact heard today already (nobodys): one note a day
        f"inquiry:{done_step}": [TEACHER_ID],
        f"inquiry:{forgotten}": [ADMIN_ID],  # nobody to tell on the contact's side
        f"inquiry:{left}": [ADMIN_ID],  # its assignee left the staff: the admins
    }
    assert not {f"inquiry:{i}" for i in (stepped, closed, declined)} & sent.keys()
    (to_admin,) = [r for r in await outbox_rows(sessions) if r.chat_id == ADMIN_ID][:1]
    assert "from Gears &lt;b&gt;&amp;&lt;/b&gt; Co has gone quiet" in to_admin.payload["text"]

    # A second run, even days later, sends nothing: one nudge a spell.
    async with sessions() as session, session.begin():
        assert await stale.nudge_due(session, settings, T0 + 2 * WEEK) == (0, 0)
    async with sessions() as session:
        assert await stale.next_nudge_at(session, settings) is None

    # A new event starts a new spell: quiet again 7 days after it, nudged again.
    answered = T0 + WEEK + timedelta(days=3)
    async with sessions() as session, session.begin():
        session.add(InquiryEvent(inquiry_id=assigned, kind="reply", created_at=answered))
    async with sessions() as session:
        assert await stale.next_nudge_at(session, settings) == answered + WEEK
    async with sessions() as session, session.begin():
        assert await stale.nudge_due(session, settings, answered + WEEK - MINUTE) == (0, 0)
    async with sessions() as session, session.begin():
        assert await stale.nudge_due(session, settings, answered + WEEK + MINUTE) == (1, 2)
    again = by_ref(await outbox_rows(sessions))
    assert again[f"inquiry:{assigned}"] == [TEACHER_ID, CONTACT_EN] * 2
    assert again[f"inquiry:{nobodys}"] == [ADMIN_ID, CONTACT_ZH]
    async with sessions() as session:
        inquiry = await session.get(Inquiry, assigned)
    assert inquiry is not None and inquiry.quiet_nudged_at == answered + WEEK + MINUTE
    assert inquiry.updated_at == updated_at  # a nudge is no change to the inquiry


async def test_two_workers_nudge_once(
    sessions: async_sessionmaker[AsyncSession], make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    async with sessions() as session, session.begin():
        await add_people(session, T0)
        for _ in range(30):
            await add_inquiry(session, T0, user_id=CONTACT_EN, assignee_id=TEACHER_ID)

    async def worker() -> tuple[int, int]:
        async with sessions() as session, session.begin():
            return await stale.nudge_due(session, settings, T0 + WEEK + MINUTE, limit=20)

    runs = await asyncio.gather(worker(), worker(), worker())
    while (await worker())[0]:  # what the batches left
        pass
    rows = await outbox_rows(sessions)
    assert sum(found for found, _ in runs) <= 30
    # each inquiry: its teacher, once; their one contact: one note that day
    assert len(rows) == 31
    assert len({(r.ref, r.chat_id) for r in rows}) == 31


async def test_missed_digest_sent_once_by_two_workers(
    sessions: async_sessionmaker[AsyncSession], make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    async with sessions() as session, session.begin():
        await add_people(session, T0)
        await add_inquiry(session, T0, user_id=CONTACT_EN, assignee_id=TEACHER_ID)
    restart = T0 + WEEK + timedelta(hours=1)  # 11:00 in Shanghai: 08:30 came and went

    async def worker() -> int:
        async with sessions() as session, session.begin():
            return await next_steps.send_digests(session, settings, restart)

    assert sorted(await asyncio.gather(worker(), worker())) == [0, 1]
    assert await worker() == 0
    async with sessions() as session:
        rows = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.dedupe_key.like("digest:%"))
            )
        )
    assert [r.chat_id for r in rows] == [TEACHER_ID]
    text = rows[0].payload["text"]
    assert "本应于 08:30 发送，因机器人当时未在运行，现补发。" in text
    assert "已沉寂 7 天以上且没有下一步的咨询共 1 项" in text
    assert "今天没有到期的事项" in text


def test_stale_days_at_least_one(make_settings: Callable[..., Settings]) -> None:
    assert make_settings().stale_days == 7
    assert make_settings(stale_days="3").stale_days == 3
    with pytest.raises(ValidationError, match="stale_days"):
        make_settings(stale_days="0")


# Through the fake Bot API, in both languages ----------------------------------------------


@pytest.fixture
async def quiet_bot(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> AsyncIterator[BotRunner]:
    """The bot with two quiet-to-be inquiries made now: #1 assigned to 王老师 (Chinese),
    its contact writing English; #2 nobody's, its contact writing Chinese."""
    runner = BotRunner(make_settings(tg, safety_tick_seconds=0.2))
    await runner.start()
    now = datetime.now(UTC)
    async with runner.sessions() as session, session.begin():
        await add_people(session, now)
        await add_inquiry(session, now, user_id=CONTACT_EN, assignee_id=TEACHER_ID)
        await add_inquiry(
            session, now, user_id=CONTACT_ZH, status=InquiryStatus.NEW, org="津南精工"
        )
        # The digest would come in between depending on the hour; the digest tests
        # clear these marks.
        today = datetime.now(SHANGHAI).date()
        for n in range(-1, 30):
            await claim_mark(session, f"digest:{(today + timedelta(days=n)).isoformat()}")
    try:
        yield runner
    finally:
        await runner.stop()


async def expect_with(user: FakeUser, needle: str, timeout: float = 30) -> SentMessage:
    """The next message with `needle`, past the bot's other news (follow-ups, nudges).
    After a jump of the clock the outbox may wait out a lease first: hence the time."""
    for _ in range(5):
        message = await user.expect_message(timeout=timeout)
        if needle in message.text:
            return message
    raise AssertionError(f"no message with {needle!r}")


def people(tg: FakeTelegram) -> tuple[FakeUser, FakeUser, FakeUser, FakeUser]:
    return (
        tg.user(TEACHER_ID, first_name="王老师", language_code="zh-hans"),
        tg.user(ADMIN_ID, first_name="Admin", language_code="en"),
        tg.user(CONTACT_EN, first_name="Li", language_code="en"),
        tg.user(CONTACT_ZH, first_name="张", language_code="zh-hans"),
    )


async def test_quiet_week_nudges_once_in_both_languages(
    quiet_bot: BotRunner, tg: FakeTelegram
) -> None:
    teacher, admin, contact_en, contact_zh = people(tg)
    start = datetime.now(UTC)
    with time_machine.travel(start + WEEK + MINUTE, tick=True):
        nudge = await teacher.expect_message(timeout=30)
        assert "咨询 #1 已沉寂 7 天" in nudge.text and "没有待办的下一步" in nudge.text
        assert "当前状态：已联系" in nudge.text
        assert nudge.button_labels() == ["➕ 后续事项", "📂 查看咨询"]
        other = await admin.expect_message(timeout=10)  # nobody's: the admins
        assert "Inquiry #2" in other.text and "has gone quiet" in other.text
        assert "Status: new" in other.text and "津南精工" in other.text
        note_en = await contact_en.expect_message(timeout=10)
        assert "the college is still on it. Status: contacted" in note_en.text
        note_zh = await contact_zh.expect_message(timeout=10)
        assert "学院仍在跟进中。当前状态：新提交" in note_zh.text
        # A second run sends nothing.
        async with quiet_bot.sessions() as session, session.begin():
            assert await stale.nudge_due(session, quiet_bot.settings, datetime.now(UTC)) == (
                0,
                0,
            )
        # The contact writes back to the note: an event, so a new spell begins.
        await contact_en.reply_to(note_en.message_id, "Any news about the visit?")
        assert "Sent to the college" in (await contact_en.expect_message()).text
        await expect_with(teacher, "Any news about the visit?")  # the assignee hears of it
    assert len(contact_zh.messages()) == 1

    with time_machine.travel(start + 2 * WEEK + 10 * MINUTE, tick=True):
        again = await expect_with(teacher, "已沉寂 7 天")
        assert "咨询 #1" in again.text
        assert "Status: contacted" in (await expect_with(contact_en, "still on it")).text
        async with quiet_bot.sessions() as session, session.begin():
            assert await stale.nudge_due(session, quiet_bot.settings, datetime.now(UTC)) == (
                0,
                0,
            )
    rows = by_ref(await outbox_rows(quiet_bot.sessions))
    assert rows["inquiry:2"] == [ADMIN_ID, CONTACT_ZH]  # #2 stayed in its one spell
    assert len(contact_zh.messages()) == 1


async def test_closed_or_with_a_step_never_nudged(quiet_bot: BotRunner, tg: FakeTelegram) -> None:
    teacher, admin, contact_en, contact_zh = people(tg)
    async with quiet_bot.sessions() as session, session.begin():
        first = await session.get(Inquiry, 1)
        second = await session.get(Inquiry, 2)
        assert first is not None and second is not None
        second.status = InquiryStatus.CLOSED
        session.add(
            NextStep(inquiry_id=1, title="Send the price list", owner_id=TEACHER_ID,
                     due_at=datetime.now(UTC) + 10 * WEEK)
        )  # fmt: skip
    with time_machine.travel(datetime.now(UTC) + WEEK + MINUTE, tick=True):
        async with quiet_bot.sessions() as session:
            assert await stale.next_nudge_at(session, quiet_bot.settings) is None
        # A step's reminders are weeks away; a run now has nothing to nudge.
        async with quiet_bot.sessions() as session, session.begin():
            assert await stale.nudge_due(session, quiet_bot.settings, datetime.now(UTC)) == (
                0,
                0,
            )
    for user in (teacher, admin, contact_en, contact_zh):
        assert user.messages() == []


def digest_morning(day: date, hour: int = 8, minute: int = 30) -> datetime:
    return datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(
        hours=hour, minutes=minute, seconds=1
    )


async def clear_marks(bot: BotRunner) -> None:
    async with bot.sessions() as session, session.begin():
        await session.execute(delete(EngineMark))


async def test_quiet_inquiries_in_the_digest(quiet_bot: BotRunner, tg: FakeTelegram) -> None:
    teacher, admin, _, _ = people(tg)
    await clear_marks(quiet_bot)
    day = datetime.now(SHANGHAI).date() + timedelta(days=8)
    if day.weekday() == 0:  # a Monday adds the weekly overview: not this test's subject
        day += timedelta(days=1)
    with time_machine.travel(digest_morning(day), tick=True):
        digest = await expect_with(teacher, "早上好")
        assert "今天没有到期的事项" in digest.text
        assert "已沉寂 7 天以上且没有下一步的咨询共 1 项" in digest.text
        assert "#1 Wuqing Robotics——已沉寂" in digest.text
        assert "本应于" not in digest.text  # on time
        theirs = await expect_with(admin, "Good morning")
        assert "1 inquiry quiet for 7+ days, with no next step" in theirs.text
        assert "#2 津南精工 — quiet for" in theirs.text and "#1" not in theirs.text
        assert "Missed" not in theirs.text


async def test_digest_missed_while_down_sent_at_restart_once(
    quiet_bot: BotRunner, tg: FakeTelegram
) -> None:
    teacher, admin, _, _ = people(tg)
    await clear_marks(quiet_bot)
    day = datetime.now(SHANGHAI).date() + timedelta(days=8)
    if day.weekday() == 0:
        day += timedelta(days=1)
    await quiet_bot.stop()  # down the whole morning
    with time_machine.travel(digest_morning(day, hour=11), tick=True):
        await quiet_bot.start()
        digest = await expect_with(teacher, "早上好")
        assert "⏰ 本应于 08:30 发送，因机器人当时未在运行，现补发。" in digest.text
        assert "已沉寂 7 天以上" in digest.text
        theirs = await expect_with(admin, "Good morning")
        assert "⏰ Missed at 08:30 while the bot was down; sent now." in theirs.text
        await quiet_bot.restart()  # a second start that day: no second digest
        async with quiet_bot.sessions() as session, session.begin():
            assert (
                await next_steps.send_digests(session, quiet_bot.settings, datetime.now(UTC)) == 0
            )
    digests = [
        m
        for m in teacher.messages() + admin.messages()
        if "morning" in m.text or "早上好" in m.text
    ]
    assert len(digests) == 2


# Real processes: `partnerbot run` and `partnerbot worker` started together -----------------


async def test_processes_down_over_the_digest_send_it_once_at_start(
    tg: FakeTelegram, db_url: str, tmp_path: Path
) -> None:
    """Both processes start after today's DIGEST_TIME (00:00 local) with no digest sent:
    the one that claims the day sends it, saying since when; the other sends nothing."""
    local = datetime.now(SHANGHAI)
    if local.time() < time(0, 6):  # 00:00 only just passed: the digest would be on time
        pytest.skip("too close to local midnight for a missed 00:00 digest")
    engine = create_engine(db_url)
    await upgrade(engine)
    long_ago = datetime.now(UTC) - WEEK - timedelta(days=1)
    async with create_session_factory(engine)() as session, session.begin():
        await add_people(session, long_ago)
        await add_inquiry(session, long_ago, user_id=CONTACT_EN, assignee_id=TEACHER_ID)
    await engine.dispose()
    teacher, _, contact_en, _ = people(tg)
    env = bot_env(tg, db_url, DIGEST_TIME="00:00")
    procs = [Proc("run", env, tmp_path / "run.log"), Proc("worker", env, tmp_path / "w.log")]
    try:
        await asyncio.gather(*(p.start() for p in procs))
        try:
            digest = await expect_with(teacher, "早上好", timeout=60)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{procs[0].tail()}\n{procs[1].tail()}") from None
        assert "⏰ 本应于 00:00 发送，因机器人当时未在运行，现补发。" in digest.text
        assert "#1 Wuqing Robotics——已沉寂 8 天" in digest.text
        note = await expect_with(contact_en, "still on it", timeout=30)
        assert "Status: contacted" in note.text
        codes = await asyncio.gather(*(p.stop(signal.SIGTERM) for p in procs))
        assert codes == [0, 0], [p.tail() for p in procs]
    finally:
        for p in procs:
            await p.ensure_dead()
    texts = [m.text for m in teacher.messages()]
    assert sum("早上好" in t for t in texts) == 1, texts  # one digest from two processes
    assert sum("没有待办的下一步" in t for t in texts) == 1, texts  # one nudge
    assert sum("still on it" in m.text for m in contact_en.messages()) == 1
