"""The admins' Monday overview carries the /stats chart: a photo uploaded through the
outbox (its JSON payload carries the PNG), with the figures in the caption, in each
admin's language."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from bot.engines import outbox
from bot.next_steps import service as next_steps
from storage.models import OutboxMessage, Role, User
from storage.next_steps import claim_mark
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram
from tests.harness import BotRunner
from tests.test_inquiry_admin import CHART_SECONDS, check_chart, seed

ZH_ADMIN = 8101


async def test_monday_overview_carries_the_chart(bot: BotRunner, tg: FakeTelegram) -> None:
    # The seeded inquiries are weeks old: without a longer STALE_DAYS the admins' Monday
    # would also bring the daily digest of quiet inquiries (test_quiet tests that).
    settings = bot.settings.model_copy(update={"stale_days": 365})
    await seed(bot.sessions)
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    zh_admin = tg.user(ZH_ADMIN, first_name="李", language_code="zh-hans")
    local_today = datetime.now(settings.tz).date()
    monday = local_today + timedelta(days=7 + (7 - local_today.weekday()) % 7)
    async with bot.sessions() as session, session.begin():
        session.add(User(id=ZH_ADMIN, first_name="李", language="zh", role=Role.ADMIN))
        for n in range(-1, 20):  # the bot's own digest engine must not run meanwhile
            day = local_today + timedelta(days=n)
            if day != monday:
                await claim_mark(session, f"digest:{day.isoformat()}")
    now = datetime.combine(monday, time(9), settings.tz).astimezone(UTC)
    async with bot.sessions() as session, session.begin():
        assert await next_steps.send_digests(session, settings, now) == 4  # 2 × (text, chart)

    for user, lang in ((admin, "en"), (zh_admin, "zh")):
        overview = await user.expect_message(timeout=CHART_SECONDS)
        assert overview.photo is None  # the overdue steps come first, as before
        chart = await user.expect_message(timeout=CHART_SECONDS)
        check_chart(chart)
        if lang == "en":
            assert "Inquiries this week" in chart.text
            assert "Last 12 weeks: 14 received" in chart.text
            assert "Median time to first response: 2.0 h (1 of 14 answered)" in chart.text
        else:
            assert "本周合作咨询概况" in chart.text
            assert "近 12 周：共收到 14 条" in chart.text
            assert "已收到 14 → 已联系 5 → 已约洽谈 2 → 已达成合作 1" in chart.text
    # Sent once each, and the row keeps no personal data under a "weekly:" key.
    async with bot.sessions() as session:
        rows = list(
            await session.scalars(select(OutboxMessage).where(OutboxMessage.method == "sendPhoto"))
        )
    assert sorted(r.chat_id for r in rows) == sorted([ADMIN_ID, ZH_ADMIN])
    assert all(r.dedupe_key and r.dedupe_key.startswith("weekly-chart:") for r in rows)
    assert all(outbox.UPLOAD in r.payload for r in rows)
    # A second run that Monday sends nothing again.
    async with bot.sessions() as session, session.begin():
        assert await next_steps.send_digests(session, settings, now) == 0
