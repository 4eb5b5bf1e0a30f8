"""Announcements through the fake Bot API, with Telegram's limits enforced."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import func, select

from bot.settings import Settings
from storage.models import Broadcast, BroadcastStatus, OutboxMessage, OutboxState, User
from tests.constants import ADMIN_ID, TOKEN
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotRunner

RECIPIENTS = 1000
BLOCKED = {2000 + n for n in range(0, RECIPIENTS, 97)}  # 11 people who blocked the bot


async def seed_people(bot: BotRunner, tg: FakeTelegram, count: int) -> None:
    async with bot.sessions() as session, session.begin():
        session.add_all(
            User(id=2000 + n, first_name=f"P{n}", language="zh" if n % 3 else "en")
            for n in range(count)
        )
    for n in range(count):
        tg.user(2000 + n, first_name=f"P{n}", language_code="en")


async def compose(admin: FakeUser, text: str, audience: str) -> None:
    await admin.send_and_wait("/broadcast")
    if "&amp;" in text:  # the admin types a bare &: written as &amp; for them
        unclosed = await admin.send_and_wait("<b>unclosed")
        assert "not valid for Telegram" in unclosed.text
        text = text.replace("&amp;", "&")
    await admin.send_and_wait(text)
    await admin.send_and_wait("-")  # no photo
    await admin.send_and_wait("Details | https://college.example.edu/symposium")
    await admin.press(audience)
    confirm = await admin.expect_message()
    assert "Please check before saving" in confirm.text
    await admin.press("✅ Save")
    await admin.expect_message()  # "Here is the preview"


async def test_broadcast_to_1000_within_limits(
    make_settings: Callable[..., Settings],
) -> None:
    async with FakeTelegram(TOKEN, rate_limit_global=30, rate_limit_per_chat=1) as tg:
        bot = BotRunner(make_settings(tg, safety_tick_seconds=0.5, send_rate=25))
        await bot.start()
        try:
            await seed_people(bot, tg, RECIPIENTS)
            for user_id in BLOCKED:
                tg.block(user_id)
            admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
            await compose(
                admin, "<b>School-enterprise symposium</b> on 3 Dec &amp; more", "Everyone (1"
            )
            preview = await admin.expect_message()
            assert preview.text.startswith("School-enterprise symposium on 3 Dec & more")
            assert preview.button_labels() == ["Details", "🔕 Stop announcements"]
            control = await admin.expect_message()
            assert "Ready to send to 1001 recipients" in control.text
            tg.inject_429(3, retry_after=1)
            await admin.press("🚀 Send now")
            started = await admin.expect_message()
            assert "sending" in started.text

            def delivered() -> int:
                return sum(
                    1 for c in tg.calls_to("sendMessage")
                    if c.status == 200 and "symposium" in str(c.params.get("text", ""))
                )  # fmt: skip

            await tg.wait_for(lambda: delivered() >= RECIPIENTS + 1 - len(BLOCKED), 100, "delivery")
            final = await tg.wait_for(
                lambda: next((m for m in admin.messages() if "done" in m.text), None), 20, "report"
            )
            assert f"Delivered {RECIPIENTS + 1 - len(BLOCKED)} of 1001" in final.text
            assert f"blocked the bot {len(BLOCKED)}" in final.text
            # No delivery met a 429 of our own pace. (The admin's own chat may: the test
            # drives the compose conversation faster than a person types, and the fake
            # enforces 1/s per chat even on replies, stricter than Telegram.)
            to_recipients = [
                c for c in tg.calls if c.status == 429 and c.params.get("chat_id") != ADMIN_ID
            ]
            assert len(to_recipients) <= tg.stats["429_injected"] == 3
            per_second = tg.sends_per_second()
            assert max(per_second.values()) <= 30
            async with bot.sessions() as session:
                states = dict(
                    (await session.execute(
                        select(OutboxMessage.state, func.count())
                        .where(OutboxMessage.ref == "broadcast:1")
                        .group_by(OutboxMessage.state)
                    )).all()
                )  # fmt: skip
                blocked_users = await session.scalar(
                    select(func.count()).select_from(User).where(User.blocked_at.is_not(None))
                )
                broadcast = await session.get(Broadcast, 1)
            assert states == {
                OutboxState.SENT: RECIPIENTS + 1 - len(BLOCKED),
                OutboxState.BLOCKED: len(BLOCKED),
            }
            assert blocked_users == len(BLOCKED)
            assert broadcast is not None and broadcast.status is BroadcastStatus.DONE
            assert "⬇️ Failed recipients" in final.button_labels()
            await admin.press_data(final.message_id, "bc:failed:1")
            report = await admin.expect_message(timeout=10)
            assert report.document is not None
            lines = report.document.content.decode("utf-8-sig").splitlines()
            assert lines[0] == "chat_id,state,error" and len(lines) == 1 + len(BLOCKED)
            assert {int(line.split(",")[0]) for line in lines[1:]} == BLOCKED
            # Each recipient got it once, in their language's stop button.
            chats = [
                c.params["chat_id"] for c in tg.calls_to("sendMessage")
                if c.status == 200 and "symposium" in str(c.params.get("text", ""))
            ]  # fmt: skip
            others = [c for c in chats if c != ADMIN_ID]
            assert len(others) == len(set(others)) == RECIPIENTS - len(BLOCKED)
            assert chats.count(ADMIN_ID) == 2  # the preview, then the announcement itself
        finally:
            await bot.stop()


async def test_scheduled_broadcast_goes_out_at_its_time(
    make_settings: Callable[..., Settings], tg: FakeTelegram
) -> None:
    bot = BotRunner(make_settings(tg, safety_tick_seconds=0.2, send_rate=200))
    await bot.start()
    try:
        await seed_people(bot, tg, 5)
        admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
        await compose(admin, "Incubation open day", "Chinese speakers (")
        await admin.expect_message()  # preview
        await admin.expect_message()  # control
        await admin.press("🕒 Schedule")
        await admin.expect_message()
        confirm = await admin.send_and_wait("tomorrow 9:00")
        assert "(you typed “tomorrow 9:00”)" in confirm.text
        await admin.press("✅ Save")
        assert "will go out" in (await admin.expect_message()).text
        async with bot.sessions() as session:
            broadcast = await session.get(Broadcast, 1)
        assert broadcast is not None and broadcast.status is BroadcastStatus.SCHEDULED
        assert broadcast.scheduled_at is not None
        chinese = tg.user(2001)
        with time_machine.travel(broadcast.scheduled_at + timedelta(seconds=1), tick=True):
            got = await chinese.expect_message(timeout=10)
        assert "Incubation open day" in got.text
        assert got.button_labels()[-1] == "🔕 不再接收公告"
        assert datetime.now(UTC) < broadcast.scheduled_at  # the clock is back
    finally:
        await bot.stop()


async def test_stop_button_and_forged_admin_buttons(
    make_settings: Callable[..., Settings], tg: FakeTelegram
) -> None:
    bot = BotRunner(make_settings(tg, safety_tick_seconds=0.2, send_rate=200))
    await bot.start()
    try:
        await seed_people(bot, tg, 3)
        admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
        await compose(admin, "Training class", "English speakers (")
        await admin.expect_message()
        await admin.expect_message()
        await admin.press("🚀 Send now")
        await admin.expect_message()
        english = tg.user(2000)
        got = await english.expect_message(timeout=10)
        await english.press("🔕 Stop announcements")
        assert "not receive announcements" in (await english.expect_callback_answer())["text"]
        async with bot.sessions() as session:
            user = await session.get(User, 2000)
        assert user is not None and user.opted_out

        for data in ("bc:go:1", "bc:pause:1", "bc:resume:1", "bc:cancel:1", "bc:failed:1"):
            await english.press_data(got.message_id, data)
            answer = await english.expect_callback_answer()
            assert answer["text"] == "This button is no longer valid.", data
        refused = await english.send_and_wait("/broadcast")
        assert "only the college's admins" in refused.text
        assert "only the college's admins" in (await english.send_and_wait("/broadcasts")).text
    finally:
        await bot.stop()


async def test_pause_resume_and_list(
    make_settings: Callable[..., Settings], tg: FakeTelegram
) -> None:
    bot = BotRunner(make_settings(tg, safety_tick_seconds=0.2, send_rate=4))
    await bot.start()
    try:
        await seed_people(bot, tg, 30)
        admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
        await compose(admin, "Teachers going out", "Everyone (")
        await admin.expect_message()
        await admin.expect_message()
        await admin.press("🚀 Send now")
        await admin.expect_message()
        await admin.press("⏸ Pause")
        assert (await admin.expect_callback_answer())["text"] == "Paused."
        async with bot.sessions() as session:
            held = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.state == OutboxState.HELD)
            )
        assert held and held > 0
        await tg.wait_for(
            lambda: "▶️ Resume" in admin.messages()[-1].button_labels(), 10, "paused report"
        )
        await admin.press("▶️ Resume")
        assert (await admin.expect_callback_answer())["text"] == "Resumed."
        await tg.wait_for(
            lambda: next((m for m in admin.messages() if "done" in m.text), None), 30, "report"
        )
        listing = await admin.send_and_wait("/broadcasts")
        assert "#1" in listing.text and "31/31 delivered" in listing.text
    finally:
        await bot.stop()


async def test_photo_to_people_interested_in_a_programme(
    make_settings: Callable[..., Settings], tg: FakeTelegram
) -> None:
    bot = BotRunner(make_settings(tg, safety_tick_seconds=0.2, send_rate=200))
    await bot.start()
    try:
        await seed_people(bot, tg, 4)
        lab = await seed_interest(bot, interested=[2001, 2003])
        admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
        await admin.send_and_wait("/broadcast")
        await admin.send_and_wait("Lab open day: <i>bring your engineers</i>")
        await admin.send_photo(b"\x89PNG fake image bytes", caption=None)
        await admin.expect_message()
        await admin.send_and_wait(f"See the lab | p_{lab}")
        wrong = await admin.send_and_wait("everyone please")
        assert "type p_ and a programme number" in wrong.text
        confirm = await admin.send_and_wait(f"p_{lab}")
        assert f"Audience: Interested in programme #{lab}" in confirm.text
        assert "With: a photo" in confirm.text
        await admin.press("✅ Save")
        await admin.expect_message()
        preview = await admin.expect_message()
        assert preview.photo_file is not None and "Lab open day" in preview.text
        control = await admin.expect_message()
        assert (
            "Ready to send to <b>2</b>" in (control.raw_text or "")
            or "to 2 recipient" in control.text
        )
        await admin.press("🚀 Send now")
        for user_id in (2001, 2003):
            got = await tg.user(user_id).expect_message(timeout=10)
            assert got.photo_file is not None and "bring your engineers" in got.text
            assert got.buttons()[0] == (
                "See the lab",
                f"https://t.me/{tg.bot_username}?start=p_{lab}",
            )
        assert tg.chat(2000) == [] and tg.chat(2002) == []
    finally:
        await bot.stop()


async def seed_interest(bot: BotRunner, interested: list[int]) -> int:
    from storage.models import Inquiry, InquiryKind, InquiryStatus
    from tests.seed import seed_catalog, special_id

    await seed_catalog(bot.sessions, count=1)
    lab = await special_id(bot.sessions, "LAB-AI")
    async with bot.sessions() as session, session.begin():
        session.add_all(
            Inquiry(user_id=user_id, program_id=lab, kind=InquiryKind.INTEREST,
                    status=InquiryStatus.NEW, organization="Org")
            for user_id in interested
        )  # fmt: skip
    return lab
