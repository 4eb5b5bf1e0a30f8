"""The staff chat's live card and forum topics, through the fake Bot API (SQLite and
PostgreSQL, the staff chat in English and in Chinese): the card is edited in place on
every change, answers given privately appear under it, follow-ups carry its buttons;
in a forum every inquiry has its own topic, named and closed with it, where staff answer
by writing, and a deleted topic is recreated with nothing lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.inquiries import pipeline
from bot.next_steps import service as steps
from bot.people.person import Person
from bot.settings import Settings
from storage.models import OutboxMessage, OutboxState, Role, StaffCard
from tests.constants import ADMIN_ID
from tests.fakebot import FakeGroup, FakeTelegram, FakeUser
from tests.fakebot.models import SentMessage
from tests.harness import BotRunner

PLAIN, FORUM = -600_100, -100_600_200
CONTACT = 6301

WORDS = {
    "en": {
        "card": "New question #", "nobody": "nobody yet", "assignee": "Assignee: Admin",
        "unanswered": "Not answered yet", "answered": "Answered", "waiting": "wrote again",
        "meeting": "meeting arranged", "closed": "closed", "steps": "Next steps:",
        "posted": "Admin answered #", "new": "new", "contacted": "contacted",
    },
    "zh": {
        "card": "新的咨询问题 #", "nobody": "负责人：暂无", "assignee": "负责人：Admin",
        "unanswered": "尚未答复", "answered": "✅ 已于", "waiting": "再次留言",
        "meeting": "已约洽谈", "closed": "已结束", "steps": "后续步骤：",
        "posted": "Admin 答复了 #", "new": "新提交", "contacted": "已联系",
    },
}  # fmt: skip
BUTTONS = {
    "en": {"assign": "🙋 Assign to me", "status": "📋 Status…", "reply": "💬 Reply"},
    "zh": {"assign": "🙋 由我跟进", "status": "📋 更新状态…", "reply": "💬 答复"},
}


@pytest.fixture(params=["en", "zh"])
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _runner(
    tg: FakeTelegram, make_settings: Callable[..., Settings], chat: int, lang: str
) -> BotRunner:
    settings = make_settings(
        tg, staff_chat_id=str(chat), default_language=lang, safety_tick_seconds=0.2
    )
    runner = BotRunner(settings)
    await runner.start()
    await tg.user(ADMIN_ID, first_name="Admin", language_code="en").send_and_wait("/start")
    return runner


@pytest.fixture
async def plain(
    tg: FakeTelegram, make_settings: Callable[..., Settings], lang: str
) -> AsyncIterator[BotRunner]:
    tg.group(PLAIN, title="Cooperation office")
    runner = await _runner(tg, make_settings, PLAIN, lang)
    try:
        yield runner
    finally:
        await runner.stop()


@pytest.fixture
async def forum(
    tg: FakeTelegram, make_settings: Callable[..., Settings], lang: str
) -> AsyncIterator[BotRunner]:
    tg.group(FORUM, title="Cooperation office", is_forum=True)
    runner = await _runner(tg, make_settings, FORUM, lang)
    try:
        yield runner
    finally:
        await runner.stop()


async def ask(contact: FakeUser, text: str) -> None:
    await contact.send_and_wait("/ask")
    await contact.send_and_wait(text)
    await contact.press("✅ Save")
    assert "Your question was sent" in (await contact.expect_message()).text


def live(tg: FakeTelegram, message: SentMessage) -> SentMessage:
    return tg._messages[message.chat_id][message.message_id]


async def until_card(tg: FakeTelegram, card: SentMessage, *needles: str) -> SentMessage:
    def shows() -> bool:
        return all(n in live(tg, card).text for n in needles)

    await tg.wait_for(shows, 10, f"the card to show {needles}: {live(tg, card).text!r}")
    return live(tg, card)


async def first_card(tg: FakeTelegram, group: FakeGroup, lang: str) -> SentMessage:
    found = await tg.wait_for(
        lambda: [m for m in group.messages() if WORDS[lang]["card"] in m.text], 10, "the card"
    )
    assert len(found) == 1
    card: SentMessage = found[0]
    return card


async def answer_privately(group: FakeGroup, admin: FakeUser, lang: str, text: str) -> None:
    """The Reply button on the card: the answer is written in the admin's private chat."""
    await group.press(admin, BUTTONS[lang]["reply"])
    await admin.expect_message(timeout=10)
    await admin.send_and_wait(text)
    await admin.press("✅ Save")
    assert "Answer sent" in (await admin.expect_message(timeout=10)).text


async def test_live_card_in_a_plain_group(plain: BotRunner, tg: FakeTelegram, lang: str) -> None:
    words, group = WORDS[lang], tg.group(PLAIN)
    admin, contact = tg.user(ADMIN_ID), tg.user(CONTACT, first_name="Li", language_code="en")
    await ask(contact, "Can your lab test our gearbox?")
    card = await first_card(tg, group, lang)
    assert words["nobody"] in card.text and words["unanswered"] in card.text

    await group.press(admin, BUTTONS[lang]["assign"])
    await until_card(tg, card, words["assignee"])

    await group.press(admin, BUTTONS[lang]["status"])
    # The menu is in the presser's language (the admin's: English); the card in the chat's.
    await tg.wait_for(
        lambda: "meeting arranged" in live(tg, card).button_labels(), 10, "the status menu"
    )
    await group.press(admin, "meeting arranged")
    await until_card(tg, card, words["meeting"])

    # Answered through the Reply button, privately: the staff chat sees it under the card.
    await answer_privately(group, admin, lang, "Yes, on Tuesday.")
    posted = await tg.wait_for(
        lambda: [m for m in group.messages() if words["posted"] in m.text], 10, "the echo"
    )
    assert "Yes, on Tuesday." in posted[0].text
    assert posted[0].payload["reply_to_message"]["message_id"] == card.message_id
    await until_card(tg, card, words["answered"])
    assert words["unanswered"] not in live(tg, card).text

    # The contact writes again: the follow-up comes with the card's buttons, and the card
    # says an answer is awaited.
    answer = await tg.wait_for(
        lambda: [m for m in contact.messages() if "Yes, on Tuesday." in m.text], 10, "answer"
    )
    await contact.reply_to(answer[0].message_id, "Which building?")
    follow = await tg.wait_for(
        lambda: [m for m in group.messages() if "Which building?" in m.text], 10, "follow-up"
    )
    assert BUTTONS[lang]["reply"] in follow[0].button_labels()
    await until_card(tg, card, words["waiting"])

    # A next step, then moved, then done: the card lists it with its due time.
    person = Person(ADMIN_ID, "Admin", "en", Role.ADMIN)
    due = datetime.now(UTC) + timedelta(days=3)
    async with plain.sessions() as session, session.begin():
        step = await steps.create(
            session, plain.settings, person, inquiry_id=1, title="Send the test plan",
            owner_id=ADMIN_ID, due_at=due,
        )  # fmt: skip
    shown = (await until_card(tg, card, words["steps"], "Send the test plan")).text
    async with plain.sessions() as session, session.begin():
        await steps.reschedule(session, plain.settings, person, step.id, due + timedelta(days=2))
    await tg.wait_for(lambda: live(tg, card).text != shown, 10, "the step moved")
    async with plain.sessions() as session, session.begin():
        await steps.complete(session, plain.settings, person, step.id)
    done = await until_card(tg, card, "✓ Send the test plan")
    assert done.message_id == card.message_id  # one card, edited in place
    assert len([m for m in group.messages() if words["card"] in m.text]) == 1
    async with plain.sessions() as session:
        failed = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.state == OutboxState.FAILED)
        )
    assert failed is None


async def test_a_deleted_card_is_posted_anew(plain: BotRunner, tg: FakeTelegram, lang: str) -> None:
    words, group = WORDS[lang], tg.group(PLAIN)
    await ask(tg.user(CONTACT, first_name="Li", language_code="en"), "A question")
    card = await first_card(tg, group, lang)
    live(tg, card).deleted = True  # a member deleted it
    person = Person(ADMIN_ID, "Admin", "en", Role.ADMIN)
    async with plain.sessions() as session, session.begin():
        await pipeline.assign_to(session, plain.settings, person, 1)
    cards = await tg.wait_for(
        lambda: [m for m in group.messages() if words["card"] in m.text and not m.deleted],
        10, "the card posted anew",
    )  # fmt: skip
    assert words["assignee"] in cards[0].text
    assert (await mapped(plain, PLAIN, lambda c: c.message_id == cards[0].message_id)).message_id


async def mapped(runner: BotRunner, chat: int, check: Callable[[StaffCard], bool]) -> StaffCard:
    """Where inquiry #1's card is, once it is as `check` expects (written just after the
    send that Telegram answered)."""
    for _ in range(200):
        async with runner.sessions() as session:
            card = await session.get(StaffCard, (1, chat))
        if card is not None and check(card):
            return card
        await asyncio.sleep(0.05)
    raise AssertionError(f"staff_cards never matched: {card and vars(card)}")
