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
# Seconds to wait for what the staff chat shows: the bot paces a group's messages and
# edits 3.2 s apart (Telegram's 20 a minute), so a few changes take a while to show.
WAIT = 30
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
    await contact.press("📨 Send")
    assert "Your question was sent" in (await contact.expect_message()).text


def live(tg: FakeTelegram, message: SentMessage) -> SentMessage:
    return tg._messages[message.chat_id][message.message_id]


async def until_card(tg: FakeTelegram, card: SentMessage, *needles: str) -> SentMessage:
    def shows() -> bool:
        return all(n in live(tg, card).text for n in needles)

    await tg.wait_for(shows, WAIT, f"the card to show {needles}: {live(tg, card).text!r}")
    return live(tg, card)


async def first_card(tg: FakeTelegram, group: FakeGroup, lang: str) -> SentMessage:
    found = await tg.wait_for(
        lambda: [m for m in group.messages() if WORDS[lang]["card"] in m.text], WAIT, "the card"
    )
    assert len(found) == 1
    card: SentMessage = found[0]
    return card


async def answer_privately(group: FakeGroup, admin: FakeUser, lang: str, text: str) -> None:
    """The Reply button on the card: the answer is written in the admin's private chat."""
    await group.press(admin, BUTTONS[lang]["reply"])
    await admin.expect_message(timeout=10)
    await admin.send_and_wait(text)
    await admin.press("📨 Send")
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
        lambda: "meeting arranged" in live(tg, card).button_labels(), WAIT, "the status menu"
    )
    await group.press(admin, "meeting arranged")
    await until_card(tg, card, words["meeting"])

    # Answered through the Reply button, privately: the staff chat sees it under the card.
    await answer_privately(group, admin, lang, "Yes, on Tuesday.")
    posted = await tg.wait_for(
        lambda: [m for m in group.messages() if words["posted"] in m.text], WAIT, "the echo"
    )
    assert "Yes, on Tuesday." in posted[0].text
    assert posted[0].payload["reply_to_message"]["message_id"] == card.message_id
    await until_card(tg, card, words["answered"])
    assert words["unanswered"] not in live(tg, card).text

    # The contact writes again: the follow-up comes with the card's buttons, and the card
    # says an answer is awaited.
    answer = await tg.wait_for(
        lambda: [m for m in contact.messages() if "Yes, on Tuesday." in m.text], WAIT, "answer"
    )
    await contact.reply_to(answer[0].message_id, "Which building?")
    follow = await tg.wait_for(
        lambda: [m for m in group.messages() if "Which building?" in m.text], WAIT, "follow-up"
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
    await tg.wait_for(lambda: live(tg, card).text != shown, WAIT, "the step moved")
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
        WAIT, "the card posted anew",
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


def topic_of(tg: FakeTelegram, lang: str) -> int:
    return tg.topic_named(FORUM, "#1 ").thread_id


async def test_forum_topic_per_inquiry(forum: BotRunner, tg: FakeTelegram, lang: str) -> None:
    words, group = WORDS[lang], tg.group(FORUM)
    admin, contact = tg.user(ADMIN_ID), tg.user(CONTACT, first_name="Li", language_code="en")
    await ask(contact, "Do you take interns?")
    await tg.wait_for(lambda: tg.topics.get(FORUM), WAIT, "a topic")
    topic = tg.topic_named(FORUM, "#1 ")
    no_org = "Contact" if lang == "en" else "联系人"
    assert topic.name == f"#1 · {no_org} · {words['new']}"
    cards = await tg.wait_for(lambda: tg.in_topic(FORUM, topic.thread_id), WAIT, "the card")
    assert words["card"] in cards[0].text  # the card opens the topic

    # A staff member writes in the topic: that is the answer to the contact.
    await group.send(admin, "Yes, ten a term.", thread=topic.thread_id)
    answer = await tg.wait_for(
        lambda: [m for m in contact.messages() if "Yes, ten a term." in m.text], WAIT, "answer"
    )
    assert "Answer from the college" in answer[0].text
    done = await tg.wait_for(
        lambda: [m for m in tg.in_topic(FORUM, topic.thread_id) if "Answer sent" in m.text],
        WAIT, "the confirmation in the topic",
    )  # fmt: skip
    assert done
    await tg.wait_for(lambda: topic.name.endswith(words["contacted"]), WAIT, "renamed")
    await until_card(tg, cards[0], words["contacted"], words["answered"])
    assert not [m for m in group.messages() if words["posted"] in m.text]  # said there already

    # Someone in the group who is not staff: nothing reaches the contact.
    stranger = tg.user(6400, first_name="Guest", language_code="en")
    await group.send(stranger, "I am not staff", thread=topic.thread_id)
    await contact.send_and_wait("/my")  # a round trip: the stranger's update came first
    assert not [m for m in contact.messages() if "I am not staff" in m.text]

    # The contact writes back: in the topic, with the card's buttons.
    await contact.reply_to(answer[0].message_id, "When can we visit?")
    follow = await tg.wait_for(
        lambda: [m for m in tg.in_topic(FORUM, topic.thread_id) if "When can we visit?" in m.text],
        WAIT, "the follow-up in the topic",
    )  # fmt: skip
    assert BUTTONS[lang]["reply"] in follow[0].button_labels()

    # Closed with the inquiry, reopened with it.
    person = Person(ADMIN_ID, "Admin", "en", Role.ADMIN)
    async with forum.sessions() as session, session.begin():
        await pipeline.set_status(session, forum.settings, person, 1, "closed")
    await tg.wait_for(lambda: topic.closed, WAIT, "the topic closed")
    await tg.wait_for(lambda: topic.name.endswith(words["closed"]), WAIT, "renamed closed")
    async with forum.sessions() as session, session.begin():
        await pipeline.set_status(session, forum.settings, person, 1, "meeting")
    await tg.wait_for(lambda: not topic.closed, WAIT, "the topic reopened")
    await tg.wait_for(lambda: topic.name.endswith(words["meeting"]), WAIT, "renamed meeting")
    assert len(tg.topics[FORUM]) == 1  # one inquiry, one topic


async def test_deleted_topic_is_recreated_and_nothing_is_lost(
    forum: BotRunner, tg: FakeTelegram, lang: str
) -> None:
    words, group = WORDS[lang], tg.group(FORUM)
    admin, contact = tg.user(ADMIN_ID), tg.user(CONTACT, first_name="Li", language_code="en")
    await ask(contact, "Do you take interns?")
    await tg.wait_for(lambda: tg.topics.get(FORUM), WAIT, "a topic")
    old = tg.topic_named(FORUM, "#1 ")
    await tg.wait_for(lambda: tg.in_topic(FORUM, old.thread_id), WAIT, "the card")
    await group.send(admin, "Yes.", thread=old.thread_id)
    answer = await tg.wait_for(
        lambda: [m for m in contact.messages() if "Yes." in m.text], WAIT, "the answer"
    )

    tg.delete_topic(FORUM, old.thread_id)  # a member deletes it; Telegram tells the bot nothing
    await contact.reply_to(answer[0].message_id, "Are you still there?")
    new = await tg.wait_for(
        lambda: [t for t in tg.topics[FORUM].values() if not t.deleted], WAIT, "a new topic"
    )
    assert new[0].thread_id != old.thread_id and new[0].name.startswith("#1 · ")
    shown = await tg.wait_for(
        lambda: (lambda ms: ms if len(ms) >= 2 else None)(tg.in_topic(FORUM, new[0].thread_id)),
        WAIT, "the card and the follow-up in the new topic",
    )  # fmt: skip
    assert words["card"] in shown[0].text and words["contacted"] in shown[0].text
    assert "Are you still there?" in shown[1].text
    assert tg.stats["topics_created"] == 2
    assert (await mapped(forum, FORUM, lambda c: c.thread_id == new[0].thread_id)).message_id == (
        shown[0].message_id
    )

    # Staff answer in the new topic; the card there is the live one.
    await group.send(admin, "Yes, we are.", thread=new[0].thread_id)
    await tg.wait_for(
        lambda: [m for m in contact.messages() if "Yes, we are." in m.text], WAIT, "answer 2"
    )
    async with forum.sessions() as session:
        lost = await session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.state.in_((OutboxState.FAILED, OutboxState.CANCELLED))
            )
        )
        assert list(lost) == []


async def test_a_topic_deleted_under_a_card_edit(
    forum: BotRunner, tg: FakeTelegram, lang: str
) -> None:
    """The first thing to meet the deleted topic is an edit of the card (TOPIC_DELETED for
    the rename, "message to edit not found" for the card): a new topic, the card in it."""
    words = WORDS[lang]
    await ask(tg.user(CONTACT, first_name="Li", language_code="en"), "A question")
    await tg.wait_for(lambda: tg.topics.get(FORUM), WAIT, "a topic")
    old = tg.topic_named(FORUM, "#1 ")
    await tg.wait_for(lambda: tg.in_topic(FORUM, old.thread_id), WAIT, "the card")
    await mapped(forum, FORUM, lambda c: c.message_id is not None)
    tg.delete_topic(FORUM, old.thread_id)
    person = Person(ADMIN_ID, "Admin", "en", Role.ADMIN)
    async with forum.sessions() as session, session.begin():
        await pipeline.set_status(session, forum.settings, person, 1, "meeting")
    new = await tg.wait_for(
        lambda: [t for t in tg.topics[FORUM].values() if not t.deleted], WAIT, "a new topic"
    )
    await tg.wait_for(lambda: new[0].name.endswith(words["meeting"]), WAIT, "named")
    cards = await tg.wait_for(lambda: tg.in_topic(FORUM, new[0].thread_id), WAIT, "the card")
    assert len(cards) == 1 and words["meeting"] in cards[0].text
    assert len([t for t in tg.topics[FORUM].values() if not t.deleted]) == 1


async def test_reactions_are_the_receipts(plain: BotRunner, tg: FakeTelegram, lang: str) -> None:
    """The contact's own message gets 👀 when staff open the inquiry, 👍 when it is
    answered; no text is written to them for either."""
    group, admin = tg.group(PLAIN), tg.user(ADMIN_ID)
    contact = tg.user(CONTACT, first_name="Li", language_code="en")
    await ask(contact, "Do you take interns?")
    await first_card(tg, group, lang)
    person = Person(ADMIN_ID, "Admin", "en", Role.ADMIN)
    async with plain.sessions() as session, session.begin():
        await pipeline.staff_reply(session, plain.settings, person, 1, "We do.")
    answer = await tg.wait_for(
        lambda: [m for m in contact.messages() if "We do." in m.text], WAIT, "the answer"
    )
    sent = await contact.reply_to(answer[0].message_id, "How many a term?")
    mine = sent["message_id"]
    await tg.wait_for(
        lambda: [m for m in group.messages() if "How many a term?" in m.text], WAIT, "follow-up"
    )
    before = len(contact.messages())
    await group.press(admin, BUTTONS[lang]["status"])
    await tg.wait_for(lambda: tg.reactions(CONTACT, mine) == ["👀"], WAIT, "👀")
    async with plain.sessions() as session, session.begin():
        await pipeline.staff_reply(session, plain.settings, person, 1, "Ten.")
    await tg.wait_for(lambda: tg.reactions(CONTACT, mine) == ["👍"], WAIT, "👍")
    async with plain.sessions() as session, session.begin():  # opened again: 👍 stays
        await pipeline.assign_to(session, plain.settings, person, 1)
    await tg.wait_for(lambda: WORDS[lang]["assignee"] in group.messages()[0].text, WAIT, "assigned")
    assert tg.reactions(CONTACT, mine) == ["👍"]
    texts = [m.text for m in contact.messages()[before:]]
    assert len(texts) == 1 and "Ten." in texts[0]  # the answer; the receipts are no posts


async def test_a_forum_where_the_bot_may_not_open_topics(
    forum: BotRunner, tg: FakeTelegram, lang: str
) -> None:
    """Without the right to manage topics the staff chat works as a plain group: the card
    and what follows it in the General topic, under the card; Telegram is asked once."""
    group = tg.group(FORUM)
    tg.fail_next("createForumTopic", 400, "Bad Request: not enough rights to create a topic")
    contact = tg.user(CONTACT, first_name="Li", language_code="en")
    await ask(contact, "Do you take interns?")
    card = await first_card(tg, group, lang)
    assert card.thread_id is None
    person = Person(ADMIN_ID, "Admin", "en", Role.ADMIN)
    async with forum.sessions() as session, session.begin():
        await pipeline.staff_reply(session, forum.settings, person, 1, "We do.")
    answer = await tg.wait_for(
        lambda: [m for m in contact.messages() if "We do." in m.text], WAIT, "the answer"
    )
    await contact.reply_to(answer[0].message_id, "How many?")
    follow = await tg.wait_for(
        lambda: [m for m in group.messages() if "How many?" in m.text], WAIT, "follow-up"
    )
    assert follow[0].thread_id is None
    assert follow[0].payload["reply_to_message"]["message_id"] == card.message_id
    assert len(tg.calls_to("createForumTopic")) == 1 and not tg.topics.get(FORUM)
