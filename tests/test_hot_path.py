"""The catalogue's hot path (issue 15): a press costs one round trip, its answer is
never lost silently, and the sender's cached recognition never outlives a role change."""

from __future__ import annotations

import logging

import pytest

from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotRunner
from tests.seed import seed_catalog

TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


async def open_first_page(bot: BotRunner, tg: FakeTelegram, user_id: int) -> FakeUser:
    await seed_catalog(bot.sessions, count=20)
    user = tg.user(user_id, first_name="Ada", language_code="en")
    await user.send_and_wait("/catalog")
    await user.press("By kind of cooperation")
    await user.expect_message()
    await user.press("Joint research & labs (21)")
    page = await user.expect_message()
    assert "Page 1 of 3" in page.text
    return user


async def test_press_answers_alongside_the_edit(bot: BotRunner, tg: FakeTelegram) -> None:
    user = await open_first_page(bot, tg, 4101)
    # A far-away Telegram: each call takes 0.5 s. One after the other, the edit would
    # reach it only once the answer had come back.
    tg.slow("answerCallbackQuery", 0.5)
    tg.slow("editMessageText", 0.5)
    await user.press("Next ▶️")
    page = await user.expect_message(timeout=10)
    assert "Page 2 of 3" in page.text
    assert (await user.expect_callback_answer()).get("text") is None
    answered = tg.calls_to("answerCallbackQuery")[-1]
    edited = tg.calls_to("editMessageText")[-1]
    assert abs(edited.time - answered.time) < 0.3, "the edit waited for the answer"


async def test_a_failed_answer_is_logged_and_the_press_still_works(
    bot: BotRunner, tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    user = await open_first_page(bot, tg, 4102)
    tg.fail_next("answerCallbackQuery", 400, TOO_OLD)
    with caplog.at_level(logging.WARNING, logger="bot.traffic.answers"):
        query_id = await user.press("Next ▶️")
        page = await user.expect_message()
        assert "Page 2 of 3" in page.text
        # The same person's next update runs only once this press is done, answer and all.
        await user.send_and_wait("/catalog")
    failed = [r.getMessage().lower() for r in caplog.records if r.name == "bot.traffic.answers"]
    telegram_said = TOO_OLD.split(": ", 1)[1]  # PTB drops "Bad Request: "
    assert failed == [f"answering button press {query_id} failed: {telegram_said}".lower()]
    assert query_id not in tg.callback_answers  # Telegram refused it: nothing pretends
