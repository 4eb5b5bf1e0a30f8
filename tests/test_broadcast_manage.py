"""Announcements after scheduling, through the fake Bot API, in both languages: the list's
open / send now / reschedule / cancel, "send at" on the check screen, a bare & escaped
for the admin, and ADMIN_IDS never counted as enterprise contacts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import select

from bot.settings import Settings
from bot.ui.i18n import bracketed, t
from storage.models import Broadcast, BroadcastStatus, OutboxMessage, Role, User
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotRunner

WHEN = {"en": ("tomorrow 9:00", "tomorrow 10:30"), "zh": ("明天上午9点", "明天上午10点半")}


@pytest.fixture
async def running(
    make_settings: Callable[..., Settings], tg: FakeTelegram
) -> AsyncIterator[BotRunner]:
    bot = BotRunner(make_settings(tg, safety_tick_seconds=0.2, send_rate=200))
    await bot.start()
    try:
        async with bot.sessions() as session, session.begin():
            session.add_all(
                User(id=2000 + n, first_name=f"P{n}", language="zh" if n % 2 else "en")
                for n in range(3)
            )
            session.add(User(id=2100, first_name="Teacher", language="en", role=Role.TEACHER))
        for user_id in (2000, 2001, 2002, 2100):
            tg.user(user_id, first_name=f"P{user_id}")
        yield bot
    finally:
        await bot.stop()


async def compose(admin: FakeUser, lang: str, text: str, audience: str) -> None:
    await admin.send_and_wait("/broadcast")
    await admin.send_and_wait(text)
    await admin.press(t(lang, "form.skip"))  # no photo
    await admin.expect_message()
    await admin.send_and_wait("Details | https://college.example.edu/symposium")
    await admin.press(audience)
    confirm = await admin.expect_message()
    assert t(lang, "form.check") in confirm.text
    await admin.press(t(lang, "form.save"))
    await admin.expect_message()  # saved


async def schedule(admin: FakeUser, lang: str, typed: str, text: str) -> None:
    """The SCHEDULE form, from whatever button started it: the check screen shows what
    goes out and calls the time "send at"."""
    await admin.expect_message()  # when should it go out?
    confirm = await admin.send_and_wait(typed)
    assert text in confirm.text
    assert t(lang, "bc.sum_send_at", shown="|", typed=typed).split("|")[0] in confirm.text
    assert t(lang, "step.understood", shown="|", typed=typed).split("|")[0] not in confirm.text
    assert typed in confirm.text
    await admin.press(t(lang, "form.save"))
    await admin.expect_message()


async def stored(bot: BotRunner, broadcast_id: int) -> Broadcast:
    async with bot.sessions() as session:
        found = await session.get(Broadcast, broadcast_id)
    assert found is not None
    return found


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_scheduled_broadcast_managed_from_the_list(
    running: BotRunner, tg: FakeTelegram, lang: str
) -> None:
    bot = running
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code=lang)
    # The admin is stored as an enterprise contact (the default role), yet is an admin
    # through ADMIN_IDS: the enterprise audience is the three contacts, not four.
    enterprise = bracketed(lang, t(lang, "bc.seg_enterprise"), 3)
    await admin.send_and_wait("/start")
    await compose(admin, lang, "<b>R&D</b> open day & lab tour", enterprise)
    preview = await admin.expect_message()
    assert preview.text.startswith("R&D open day & lab tour")
    assert preview.raw_text == "<b>R&amp;D</b> open day &amp; lab tour"
    control = await admin.expect_message()
    assert "<b>3</b>" in (control.raw_text or "")
    await admin.press(t(lang, "bc.schedule"))
    await schedule(admin, lang, WHEN[lang][0], "R&amp;D")
    first = await stored(bot, 1)
    assert first.status is BroadcastStatus.SCHEDULED and first.scheduled_at is not None

    listing = await admin.send_and_wait("/broadcasts")
    labels = listing.button_labels()
    for key in ("bc.list_open", "bc.list_send_now", "bc.list_reschedule", "bc.list_cancel"):
        assert t(lang, key, id=1) in labels
    # Open: the announcement as recipients get it, then its time and what can be done.
    await admin.press(t(lang, "bc.list_open", id=1))
    opened = await admin.expect_message()
    assert opened.raw_text == "<b>R&amp;D</b> open day &amp; lab tour"
    assert opened.button_labels() == ["Details", t(lang, "bc.stop_btn")]
    where = await admin.expect_message()
    assert "#1" in where.text
    assert where.button_labels() == [
        t(lang, "bc.send_now"), t(lang, "bc.reschedule"), t(lang, "bc.cancel")
    ]  # fmt: skip
    assert tg.chat(2000) == []  # opening sends nothing to anyone

    # Reschedule: the same form again; the time moves.
    await admin.send_and_wait("/broadcasts")
    await admin.press(t(lang, "bc.list_reschedule", id=1))
    await schedule(admin, lang, WHEN[lang][1], "R&amp;D")
    moved = await stored(bot, 1)
    assert moved.status is BroadcastStatus.SCHEDULED and moved.scheduled_at is not None
    assert (moved.scheduled_at - first.scheduled_at).total_seconds() == pytest.approx(5400, abs=60)

    # Send now, from the list: the contacts get it at once, escaped as Telegram wants.
    await admin.send_and_wait("/broadcasts")
    await admin.press(t(lang, "bc.list_send_now", id=1))
    await admin.expect_message()
    for user_id in (2000, 2001, 2002):
        got = await tg.user(user_id).expect_message(timeout=10)
        assert got.raw_text == "<b>R&amp;D</b> open day &amp; lab tour"
        assert got.text == "R&D open day & lab tour"
    assert tg.chat(2100) == []  # a teacher is no enterprise contact
    async with bot.sessions() as session:
        chats = await session.scalars(
            select(OutboxMessage.chat_id).where(OutboxMessage.ref == "broadcast:1")
        )
        assert sorted(chats) == [2000, 2001, 2002]  # not the admin, not the teacher
    assert (await stored(bot, 1)).status in (BroadcastStatus.SENDING, BroadcastStatus.DONE)
    # Open, once it has started: the preview again, then its report.
    done = t(
        lang, "bc.report_done", id=1, total=3, sent=3, failed=0, blocked=0,
    ).replace("<b>", "").replace("</b>", "")  # fmt: skip
    await tg.wait_for(lambda: [m for m in admin.messages() if m.text == done], 10, "done")
    listing = await admin.send_and_wait("/broadcasts")
    assert listing.button_labels() == [t(lang, "bc.list_open", id=1)]
    await admin.press(t(lang, "bc.list_open", id=1))
    assert (await admin.expect_message()).raw_text == "<b>R&amp;D</b> open day &amp; lab tour"
    assert (await admin.expect_message()).text == done

    # Cancel, from the list: a second one, scheduled, never goes out.
    everyone = bracketed(lang, t(lang, "bc.seg_all"), "")[:-1]  # "Everyone (" whatever the count
    await compose(admin, lang, "Second notice", everyone)
    await admin.expect_message()
    await admin.expect_message()
    await admin.press(t(lang, "bc.schedule"))
    await schedule(admin, lang, WHEN[lang][0], "Second notice")
    listing = await admin.send_and_wait("/broadcasts")
    assert t(lang, "bc.list_cancel", id=2) in listing.button_labels()
    assert t(lang, "bc.list_cancel", id=1) not in listing.button_labels()  # it is sending
    await admin.press(t(lang, "bc.list_cancel", id=2))
    assert (await admin.expect_callback_answer())["text"] == t(lang, "bc.now_cancel")
    assert (await stored(bot, 2)).status is BroadcastStatus.CANCELLED
    # A cancelled one can no longer be rescheduled (a forged or stale button).
    await admin.press_data(listing.message_id, "bc:sched:2")
    refused = await admin.expect_callback_answer()
    assert refused["text"] == t(lang, "bc.not_draft")


async def test_audience_counts_leave_out_admin_ids(
    make_settings: Callable[..., Settings], tg: FakeTelegram
) -> None:
    """An ADMIN_IDS admin stored as a teacher is no teacher of the audience either, and
    a second admin id counts too; everyone is still everyone."""
    bot = BotRunner(make_settings(tg, admin_ids=f"{ADMIN_ID},2001"))
    await bot.start()
    try:
        async with bot.sessions() as session, session.begin():
            session.add_all(
                [
                    User(id=2000, first_name="A", language="en"),
                    User(id=2001, first_name="B", language="en", role=Role.TEACHER),
                    User(id=2002, first_name="C", language="en", role=Role.TEACHER),
                ]
            )
        admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
        await admin.send_and_wait("/start")
        await admin.send_and_wait("/broadcast")
        await admin.send_and_wait("Hello")
        await admin.press(t("en", "form.skip"))
        await admin.expect_message()
        await admin.press(t("en", "form.skip"))
        audience = await admin.expect_message()
        labels = audience.button_labels()
        assert f"{t('en', 'bc.seg_enterprise')} (1)" in labels
        assert f"{t('en', 'bc.seg_teachers')} (1)" in labels
        assert f"{t('en', 'bc.seg_all')} (4)" in labels
    finally:
        await bot.stop()
