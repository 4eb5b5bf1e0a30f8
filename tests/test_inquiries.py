"""Registering interest, questions and the pipeline, acting as contacts and staff."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select, update

from bot.settings import Settings
from storage.models import (
    EnterpriseProfile,
    FormDraft,
    Inquiry,
    InquiryStatus,
    Program,
    User,
)
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotRunner, start_staffed
from tests.seed import add_teacher, special_id

TEACHER_ID = 5001
STAFF_CHAT = -100500


@pytest.fixture
async def staffed(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> AsyncIterator[BotRunner]:
    """The bot with a staff group, a catalog, and 王老师 owning the AI lab."""
    settings = make_settings(tg, staff_chat_id=str(STAFF_CHAT), safety_tick_seconds=0.2)
    runner = await start_staffed(tg, settings, STAFF_CHAT)
    await add_teacher(runner.sessions, TEACHER_ID, "王老师")
    lab = await special_id(runner.sessions, "LAB-AI")
    async with runner.sessions() as session, session.begin():
        await session.execute(update(Program).where(Program.id == lab).values(owner_id=TEACHER_ID))
    try:
        yield runner
    finally:
        await runner.stop()


async def fill_profile(user: FakeUser) -> None:
    """From the consent question to the saved profile (the happy path)."""
    await user.press("✅ I agree")
    await user.expect_message()
    await user.send_and_wait("Tianjin Robotics Co., Ltd.")
    await user.send_and_wait("Li Lei, CTO")
    await user.send_contact("+86 138 0000 0000")
    await user.expect_message()  # the share keyboard goes with a word…
    await user.expect_message()  # …then the email question, with Skip
    await user.send_and_wait("li.lei@robotics.example.cn")
    confirm = await user.send_and_wait("Intelligent manufacturing")
    assert "Please check before saving" in confirm.text
    await user.press("✅ Save")


async def test_profile_then_interest_notifies_owner_and_staff(
    staffed: BotRunner, tg: FakeTelegram
) -> None:
    lab = await special_id(staffed.sessions, "LAB-AI")
    contact = tg.user(6001, first_name="Li", language_code="en", username="lilei")
    await contact.send_and_wait(f"/start p_{lab}")
    await contact.press("✋ I'm interested")
    consent = await contact.expect_message()
    assert "What we collect" in consent.text and "Do you agree?" in consent.text
    await contact.press("✅ I agree")
    await contact.expect_message()
    await contact.send_and_wait("Tianjin Robotics Co., Ltd.")
    phone_q = await contact.send_and_wait("Li Lei, CTO")
    share = phone_q.raw_markup or {}
    assert share["keyboard"][0][0]["request_contact"] is True
    bad = await contact.send_and_wait("call me maybe")
    assert "doesn't look like a phone number" in bad.text
    await contact.send_contact("+86 138 0000 0000")
    await contact.expect_message()  # the share keyboard goes with a word…
    await contact.expect_message()  # …then the email question, with Skip
    bad_mail = await contact.send_and_wait("li.lei@@robotics")
    assert "doesn't look like an email address" in bad_mail.text
    await contact.send_and_wait("li.lei@Robotics.Example.cn")
    confirm = await contact.send_and_wait("Intelligent manufacturing")
    assert "Phone: +8613800000000" in confirm.text
    assert "Email: li.lei@robotics.example.cn" in confirm.text
    await contact.press("✅ Save")
    assert "profile is saved" in (await contact.expect_message()).text
    ask = await contact.expect_message()
    assert "Register interest" in ask.text
    confirm = await contact.send_and_wait("We need <b>robots</b> & vision AI")
    assert "Your message: We need <b>robots</b> & vision AI" in confirm.text
    assert "&lt;b&gt;robots&lt;/b&gt; &amp; vision" in (confirm.raw_text or "")
    await contact.press("📨 Send")
    sent = await contact.expect_message()
    assert "Your interest was sent" in sent.text
    assert "Joint Laboratory for Intelligent Manufacturing" in sent.text
    assert "What happens next" in sent.text and "24 hours" in sent.text

    teacher = tg.user(TEACHER_ID)
    card = await teacher.expect_message(timeout=10)
    assert "新的合作意向" in card.text  # the teacher's own language
    assert "Tianjin Robotics Co., Ltd." in card.text and "@lilei" in card.text
    assert "We need <b>robots</b> & vision AI" in card.text
    staff_card = await tg.group(STAFF_CHAT).expect_message(timeout=10)
    assert "New interest" in staff_card.text
    assert staff_card.button_labels() == [
        "🙋 Assign to me",
        "📋 Status…",
        "💬 Reply",
        "➕ Next step",
    ]

    async with staffed.sessions() as session:
        profile = await session.get(EnterpriseProfile, 6001)
        assert profile is not None and profile.phone == "+8613800000000"
        inquiry = await session.scalar(select(Inquiry).where(Inquiry.user_id == 6001))
        assert inquiry is not None and inquiry.status is InquiryStatus.NEW
        assert inquiry.message == "We need <b>robots</b> & vision AI"

    # Once more for the same programme: told so before any form starts, nothing new.
    await contact.send_and_wait(f"/start p_{lab}")
    await contact.press("✋ I'm interested")
    again = await contact.expect_callback_answer()
    assert "You already registered interest" in again["text"] and again.get("show_alert")
    async with staffed.sessions() as session:
        assert await session.get(FormDraft, 6001) is None
    async with staffed.sessions() as session:
        count = await session.scalar(select(func.count(Inquiry.id)))
    assert count == 1


async def test_list_of_programmes_sent_together(staffed: BotRunner, tg: FakeTelegram) -> None:
    lab = await special_id(staffed.sessions, "LAB-AI")
    inc = await special_id(staffed.sessions, "INC-1")
    contact = tg.user(6002, first_name="Wu", language_code="zh-hans")
    await contact.send_and_wait(f"/start p_{lab}")
    await contact.press("➕ 加入意向清单")
    assert "清单中共 1 个项目" in (await contact.expect_callback_answer())["text"]
    await contact.expect_message()
    await contact.send_and_wait(f"/start p_{inc}")
    await contact.press("➕ 加入意向清单")
    listing = await contact.expect_message()
    assert "意向清单（2）" in listing.text
    await contact.press("📨 一次性提交全部意向")
    await contact.expect_message()
    await fill_profile_zh(contact)
    await contact.expect_message()  # saved
    await contact.expect_message()  # the interest question
    confirm = await contact.send_and_wait("-")
    assert "无留言" in confirm.text
    await contact.press("📨 发送")
    sent = await contact.expect_message()
    assert "智能制造联合实验室" in sent.text and "天开高教科创园孵化平台" in sent.text
    async with staffed.sessions() as session:
        count = await session.scalar(select(func.count(Inquiry.id)).where(Inquiry.user_id == 6002))
    assert count == 2


async def fill_profile_zh(user: FakeUser) -> None:
    await user.press("✅ 同意")
    await user.expect_message()
    await user.send_and_wait("武清智造有限公司")
    await user.send_and_wait("吴经理")
    await user.send_and_wait("022-1234-5678")  # the share keyboard goes with a word…
    await user.expect_message()  # …then the email question
    await user.send_and_wait("-")
    confirm = await user.send_and_wait("-")
    assert "请核对" in confirm.text
    await user.press("✅ 保存")


async def test_question_answer_relay_follow_up_and_status(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    """Without a staff chat, questions go to the admins' private chats."""
    runner = BotRunner(make_settings(tg, safety_tick_seconds=0.2))
    await runner.start()
    try:
        admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
        await admin.send_and_wait("/start")
        contact = tg.user(6003, first_name="Zhao", language_code="en")
        await contact.send_and_wait("/ask")
        confirm = await contact.send_and_wait("Do you offer <internships> for 3 & more students?")
        assert "Do you offer <internships> for 3 & more students?" in confirm.text
        await contact.press("📨 Send")
        sent = await contact.expect_message()
        assert "Your question was sent" in sent.text

        card = await admin.expect_message(timeout=10)
        assert "New question" in card.text
        assert "Do you offer <internships> for 3 & more students?" in card.text
        await admin.reply_to(card.message_id, "Yes — the Wuqing bases take 10 a term.")
        done = await admin.expect_message()
        assert "Answer sent to the contact" in done.text

        answer = await contact.expect_message(timeout=10)
        assert "Answer from the college" in answer.text  # no staff name by default
        assert "Admin" not in answer.text
        assert "Yes — the Wuqing bases take 10 a term." in answer.text
        await contact.reply_to(answer.message_id, "Great, when can we visit?")
        assert "Sent to the college" in (await contact.expect_message()).text
        follow = await admin.expect_message(timeout=10)
        assert "Follow-up on #" in follow.text and "Great, when can we visit?" in follow.text
        assert follow.payload.get("reply_to_message", {}).get("message_id") == card.message_id

        await admin.press_data(card.message_id, "iq:status:1")
        await admin.expect_message()
        await admin.press("meeting arranged")
        assert "meeting arranged" in (await admin.expect_callback_answer())["text"]
        note = await contact.expect_message(timeout=10)
        assert "is now: meeting arranged" in note.text

        mine = await contact.send_and_wait("/my")
        assert mine.button_labels()[0] == "#1 General question · meeting arranged"
        await contact.press("#1 General question · meeting arranged")
        timeline = await contact.expect_message()
        for line in (
            "sent",
            "answer: Yes — the Wuqing bases",
            "you wrote: Great",
            "status: meeting arranged",
        ):
            assert line in timeline.text, timeline.text
    finally:
        await runner.stop()


async def test_staff_group_reply_button_and_forged_staff_buttons(
    staffed: BotRunner, tg: FakeTelegram
) -> None:
    contact = tg.user(6004, first_name="Qian", language_code="en")
    lab = await special_id(staffed.sessions, "LAB-AI")  # 王老师's programme: in her scope
    await contact.send_and_wait(f"/start p_{lab}")
    await contact.press("💬 Ask a question")
    await contact.expect_message()
    await contact.send_and_wait("Can your teachers visit our plant?")
    await contact.press("📨 Send")
    await contact.expect_message()
    group = tg.group(STAFF_CHAT)
    await group.expect_message(timeout=10)

    stranger = tg.user(6005, first_name="Stranger", language_code="en")
    own = await stranger.send_and_wait("/start")
    for data in (
        f"iq:set:1:{InquiryStatus.CLOSED.value}",
        "iq:assign:1",
        "iq:reply:1",
        "iq:status:1",
    ):
        await stranger.press_data(own.message_id, data)
        refused = await stranger.expect_callback_answer()
        assert refused["text"] == "This button is no longer valid.", data
    async with staffed.sessions() as session:
        inquiry = await session.get(Inquiry, 1)
        assert inquiry is not None and inquiry.status is InquiryStatus.NEW

    # A teacher whose programme it is not: the card's buttons refuse them.
    await add_teacher(staffed.sessions, TEACHER_ID + 1, "李老师")
    other = tg.user(TEACHER_ID + 1, first_name="李老师", language_code="zh-hans")
    await group.press(other, "💬 Reply")
    assert (await other.expect_callback_answer())["text"] == "此按钮已失效。"
    assert other.messages() == []

    teacher = tg.user(TEACHER_ID, first_name="王老师", language_code="zh-hans")
    await group.press(teacher, "💬 Reply")
    prompt = await teacher.expect_message(timeout=10)
    assert "答复企业" in prompt.text
    await teacher.send_and_wait("可以，下周二上午。")
    await teacher.press("📨 发送")
    assert "答复已发送" in (await teacher.expect_message()).text
    answer = await contact.expect_message(timeout=10)
    assert "可以，下周二上午。" in answer.text


async def test_first_response_escalation(staffed: BotRunner, tg: FakeTelegram) -> None:
    lab = await special_id(staffed.sessions, "LAB-AI")
    contact = tg.user(6006, first_name="Sun", language_code="en")
    await contact.send_and_wait(f"/start p_{lab}")
    await contact.press("✋ I'm interested")
    await contact.expect_message()
    await fill_profile(contact)
    await contact.expect_message()
    await contact.expect_message()
    await contact.send_and_wait("-")
    await contact.press("📨 Send")
    await contact.expect_message()
    teacher = tg.user(TEACHER_ID)
    await teacher.expect_message(timeout=10)  # the new-inquiry card
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")

    with time_machine.travel(datetime.now(UTC) + timedelta(hours=25), tick=True):
        reminder = await teacher.expect_message(timeout=10)
        assert "已 24 小时无人答复" in reminder.text
        assert admin.messages() == []  # not yet the admins
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=49), tick=True):
        escalated = await admin.expect_message(timeout=10)
        assert "no answer for 48 hours" in escalated.text
    async with staffed.sessions() as session:
        inquiry = await session.scalar(select(Inquiry).where(Inquiry.user_id == 6006))
        assert inquiry is not None and inquiry.escalation == 2


async def test_form_survives_restart(staffed: BotRunner, tg: FakeTelegram) -> None:
    contact = tg.user(6007, first_name="Zhou", language_code="en")
    await contact.send_and_wait("/profile")
    await contact.press("✅ I agree")
    await contact.expect_message()
    await contact.send_and_wait("Zhou Logistics")
    await staffed.restart()
    phone_q = await contact.send_and_wait("Zhou Min")
    assert "Phone number" in phone_q.text
    await contact.send_and_wait("13900001111")  # the share keyboard goes with a word…
    await contact.expect_message()  # …then the email question
    await contact.send_and_wait("-")
    confirm = await contact.send_and_wait("-")
    assert "Organisation: Zhou Logistics" in confirm.text and "Phone: 13900001111" in confirm.text
    await contact.press("✅ Save")
    assert "profile is saved" in (await contact.expect_message()).text


async def test_forget_removes_personal_data_keeps_counts(
    staffed: BotRunner, tg: FakeTelegram
) -> None:
    lab = await special_id(staffed.sessions, "LAB-AI")
    contact = tg.user(6008, first_name="Zheng", language_code="en", username="zheng")
    await contact.send_and_wait(f"/start p_{lab}")
    await contact.press("✋ I'm interested")
    await contact.expect_message()
    await fill_profile(contact)
    await contact.expect_message()
    await contact.expect_message()
    await contact.send_and_wait("Personal note: call my mobile")
    await contact.press("📨 Send")
    await contact.expect_message()

    ask = await contact.send_and_wait("/forget")
    assert "cannot be undone" in ask.text
    await contact.press("Keep it")
    assert "Nothing was deleted" in (await contact.expect_message()).text
    await contact.send_and_wait("/forget")
    await contact.press("🗑 Yes, delete my data")
    done = await contact.expect_message()
    assert "Your data is deleted" in done.text and "• inquiries: 1" in done.text
    async with staffed.sessions() as session:
        assert await session.get(EnterpriseProfile, 6008) is None
        assert await session.get(User, 6008) is None
        inquiries = (await session.scalars(select(Inquiry))).all()
    assert len(inquiries) == 1
    assert inquiries[0].user_id is None and inquiries[0].message == ""
    assert inquiries[0].status is InquiryStatus.NEW


async def test_long_question_is_refused_at_the_step(staffed: BotRunner, tg: FakeTelegram) -> None:
    """Once cut silently to 3,000 characters with a note; now refused at the question
    with the limit and the length, and the question asked again (tests/test_limits.py
    covers the longest allowed one arriving whole)."""
    contact = tg.user(6009, first_name="Long", language_code="en")
    await contact.send_and_wait("/ask")
    again = await contact.send_and_wait("很长的问题。" * 1000)  # 6,000 characters
    assert "That message is 6000 characters long; a message can hold at most 3000" in again.text
    assert "Type your question" in again.text and "📨 Send" not in again.button_labels()
    confirm = await contact.send_and_wait("很长的问题。" * 500)  # 3,000: whole
    assert "很长的问题。" * 500 in confirm.text
    await contact.press("📨 Send")
    await contact.expect_message()
    card = await tg.group(STAFF_CHAT).expect_message(timeout=10)
    assert "很长的问题。" * 500 in card.text
    async with staffed.sessions() as session:
        inquiry = await session.scalar(select(Inquiry).where(Inquiry.user_id == 6009))
    assert inquiry is not None and inquiry.message == "很长的问题。" * 500
