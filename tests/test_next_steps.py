"""Next steps and their reminders, with the clock moved instead of waited for."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import delete, select

from bot.settings import Settings
from storage.models import (
    EngineMark,
    EnterpriseProfile,
    Inquiry,
    InquiryKind,
    InquiryStatus,
    NextStep,
    Reminder,
    ReminderState,
    StepStatus,
    User,
)
from storage.next_steps import claim_mark
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram, FakeUser, SentMessage
from tests.harness import BotRunner
from tests.seed import add_teacher

TEACHER_ID = 5001
CONTACT_ID = 6100
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def bot_with_inquiry(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> AsyncIterator[BotRunner]:
    runner = BotRunner(make_settings(tg, safety_tick_seconds=0.2))
    await runner.start()
    await add_teacher(runner.sessions, TEACHER_ID, "王老师")
    async with runner.sessions() as session, session.begin():
        session.add(User(id=CONTACT_ID, first_name="Li", language="en"))
        await session.flush()
        session.add(
            EnterpriseProfile(
                user_id=CONTACT_ID, organization="Wuqing Robotics", contact_person="Li Lei",
                phone="+8613800000000", consent_at=datetime.now(UTC),
            )
        )  # fmt: skip
        session.add(
            Inquiry(
                user_id=CONTACT_ID, kind=InquiryKind.QUESTION, message="Visit?",
                organization="Wuqing Robotics", status=InquiryStatus.CONTACTED,
                first_response_at=datetime.now(UTC),
            )
        )  # fmt: skip
        # The morning digest would interleave with the reminders depending on the hour the
        # suite runs; mark the next days' digests done (the digest test clears this).
        today = datetime.now(SHANGHAI).date()
        for n in range(-1, 10):
            await claim_mark(session, f"digest:{(today + timedelta(days=n)).isoformat()}")
    try:
        yield runner
    finally:
        await runner.stop()


async def add_step(tg: FakeTelegram, due_text: str) -> tuple[FakeUser, str]:
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    menu = await admin.send_and_wait("/start")
    await admin.press_data(menu.message_id, "iq:step:1")
    ask = await admin.expect_message()
    assert "What is to be done?" in ask.text
    await admin.send_and_wait("Send the lab's equipment list")
    await admin.press("王老师")
    await admin.expect_message()
    bad = await admin.send_and_wait("someday, maybe")
    assert "⚠️" in bad.text
    await admin.send_and_wait(due_text)
    confirm = await admin.send_and_wait("-")
    assert "Please check before saving" in confirm.text
    assert f"(you typed “{due_text}”)" in confirm.text
    await admin.press("✅ Save")
    saved = await admin.expect_message()
    assert "Next step #1 saved" in saved.text
    return admin, confirm.text


async def expect_reminder(user: FakeUser, needle: str) -> SentMessage:
    """The next message with `needle`; the morning digest may come in between."""
    for _ in range(3):
        message = await user.expect_message(timeout=10)
        if needle in message.text:
            return message
        assert "早上好" in message.text or "Good morning" in message.text, message
    raise AssertionError(f"no reminder with {needle!r}")


async def reminders_of(bot: BotRunner) -> list[Reminder]:
    async with bot.sessions() as session:
        return list(await session.scalars(select(Reminder).order_by(Reminder.due_at)))


async def the_step(bot: BotRunner) -> NextStep:
    async with bot.sessions() as session:
        step = await session.get(NextStep, 1)
    assert step is not None
    return step


async def test_each_offset_then_done(bot_with_inquiry: BotRunner, tg: FakeTelegram) -> None:
    bot = bot_with_inquiry
    _, confirm = await add_step(tg, "in 3 days")
    step = await the_step(bot)
    shown = step.due_at.astimezone(SHANGHAI).strftime("%H:%M")
    assert shown in confirm  # the understood time was echoed in the local zone
    kinds = [r.kind for r in await reminders_of(bot)]
    assert kinds == ["before:86400", "before:3600", "due"]
    teacher = tg.user(TEACHER_ID, first_name="王老师", language_code="zh-hans")

    with time_machine.travel(step.due_at - timedelta(days=1) + timedelta(seconds=1), tick=True):
        first = await expect_reminder(teacher, "将在 1 天后到期")
    assert "Wuqing Robotics" in first.text
    assert first.button_labels() == ["✅ 已完成", "⏰ 1小时后", "⏰ 1天后", "📂 查看咨询"]
    with time_machine.travel(step.due_at - timedelta(hours=1) + timedelta(seconds=1), tick=True):
        await expect_reminder(teacher, "将在 1 小时后到期")
    with time_machine.travel(step.due_at + timedelta(seconds=1), tick=True):
        await expect_reminder(teacher, "现在到期")
    with time_machine.travel(step.due_at + timedelta(days=1, seconds=1), tick=True):
        fourth = await expect_reminder(teacher, "已逾期 1 天")
        await teacher.press("✅ 已完成")
        assert (await teacher.expect_callback_answer())["text"] == "已标记为完成。"
        stamped = await teacher.expect_message()
    assert stamped.message_id == fourth.message_id and "✅ 已完成" in stamped.text
    assert stamped.button_labels() == []
    assert (await the_step(bot)).status is StepStatus.DONE
    states = {r.kind: r.state for r in await reminders_of(bot)}
    assert states["overdue:2"] is ReminderState.CANCELLED  # a finished step never reminds


async def test_snooze_reschedule_and_cancel(bot_with_inquiry: BotRunner, tg: FakeTelegram) -> None:
    bot = bot_with_inquiry
    await add_step(tg, "tomorrow 15:00")
    step = await the_step(bot)
    teacher = tg.user(TEACHER_ID, first_name="王老师", language_code="zh-hans")
    with time_machine.travel(step.due_at - timedelta(hours=1) + timedelta(seconds=1), tick=True):
        reminder = await expect_reminder(teacher, "将在 1 小时后到期")
        await teacher.press("⏰ 1小时后")
        assert "将于" in (await teacher.expect_callback_answer())["text"]
        await teacher.expect_message()  # the stamp on the reminder
    snoozes = [r for r in await reminders_of(bot) if r.kind == "snooze"]
    assert len(snoozes) == 1 and reminder.text

    # Move the due time: the old reminders go, new ones follow the new time.
    tasks = await teacher.send_and_wait("/tasks")
    await teacher.press("Send the lab's equipment list")
    await teacher.expect_message()
    await teacher.press("🕒 改时间")
    await teacher.expect_message()
    confirm = await teacher.send_and_wait("2027-01-05 10:00")
    assert "1月5日（周二）10:00（北京时间）" in confirm.text  # 2027年 first while it is 2026
    await teacher.press("✅ 保存")
    assert "截止时间改为" in (await teacher.expect_message()).text
    moved = await the_step(bot)
    assert moved.due_at == datetime(2027, 1, 5, 2, 0, tzinfo=UTC)
    pending = [r for r in await reminders_of(bot) if r.state is ReminderState.PENDING]
    assert sorted(r.kind for r in pending) == ["before:3600", "before:86400", "due"]
    assert all(r.due_at <= moved.due_at for r in pending)
    assert tasks.text

    # Cancel it: no reminder is left pending.
    await teacher.send_and_wait("/tasks")
    await teacher.press("Send the lab's equipment list")
    await teacher.expect_message()
    await teacher.press("✖️ 取消事项")
    await teacher.expect_message()
    assert (await the_step(bot)).status is StepStatus.CANCELLED
    assert not [r for r in await reminders_of(bot) if r.state is ReminderState.PENDING]


async def test_morning_digest(bot_with_inquiry: BotRunner, tg: FakeTelegram) -> None:
    bot = bot_with_inquiry
    async with bot.sessions() as session, session.begin():
        await session.execute(delete(EngineMark))
    # A fixed morning to type "tomorrow 15:00" in: typed after 15:00 local, its one-day
    # reminder would fall due at once, not in the night before the digest.
    typed_at = datetime.now(SHANGHAI).replace(hour=10, minute=0, second=0, microsecond=0)
    # The teacher has a chat with the bot before anything is sent to her ("chat not found"
    # otherwise), and the morning is travelled to from inside the typing morning: no stretch
    # of the real clock in between, in which the 1-day reminder could go early.
    teacher = tg.user(TEACHER_ID, first_name="王老师", language_code="zh-hans")
    with time_machine.travel(typed_at, tick=True):
        await add_step(tg, "tomorrow 15:00")
        step = await the_step(bot)
        local_due = step.due_at.astimezone(SHANGHAI)
        morning = datetime.combine(local_due.date(), datetime.min.time(), SHANGHAI)
        with time_machine.travel(morning + timedelta(hours=8, minutes=30, seconds=1), tick=True):
            # The 1-day reminder fell due in the night too, so it comes (late) beside it.
            first, second = (
                await teacher.expect_message(timeout=10),
                await teacher.expect_message(timeout=10),
            )
    digest = first if "早上好" in first.text else second
    late = second if digest is first else first
    assert "今天到期或已逾期的事项共 1 项" in digest.text
    assert "延迟发送" in late.text and "合并" not in late.text
    assert "Send the lab's equipment list" in digest.text
    assert "以上时间均为北京时间" in digest.text  # the zone, once
    # Its button opens the teacher's own list (it carries no id, and needs none).
    await teacher.press_data(digest.message_id, "ns:list")
    await teacher.expect_callback_answer()
    listing = await teacher.expect_message(timeout=10)
    assert "Send the lab's equipment list" in listing.text and listing is not digest


async def test_forged_step_buttons_refused(bot_with_inquiry: BotRunner, tg: FakeTelegram) -> None:
    await add_step(tg, "tomorrow 15:00")
    stranger = tg.user(6200, first_name="X", language_code="en")
    menu = await stranger.send_and_wait("/start")
    for data in ("ns:done:1", "ns:sn:1:h", "ns:cancel:1", "iq:step:1", "ns:inq:1", "ns:view:1"):
        await stranger.press_data(menu.message_id, data)
        answer = await stranger.expect_callback_answer()
        assert answer["text"] == "This button is no longer valid.", data
    step = await the_step(bot_with_inquiry)
    assert step.status is StepStatus.OPEN
