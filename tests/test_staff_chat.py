"""The staff chat changes under the bot, through the fake Bot API (SQLite and PostgreSQL):
the group becomes a supergroup (a new id: ChatMigrated), or the bot is removed from it
(403) and added back. Cards keep reaching the staff, and nothing is lost or doubled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from functools import partial

import httpx
import pytest
from sqlalchemy import select

from bot.settings import Settings
from storage.models import BotState, OutboxMessage, OutboxState
from tests.constants import ADMIN_ID, TOKEN
from tests.fakebot import FakeGroup, FakeTelegram, FakeUser
from tests.harness import BotRunner

ZH_ADMIN = 9002
GROUP, SUPERGROUP = -500_123, -100_500_123  # a basic group, and what it becomes
CONTACT = 6201


@pytest.fixture
async def staffed(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> AsyncIterator[BotRunner]:
    """The bot with a basic staff group and two admins (English and Chinese)."""
    tg.group(GROUP, title="Cooperation office")
    settings = make_settings(
        tg, staff_chat_id=str(GROUP), admin_ids=f"{ADMIN_ID},{ZH_ADMIN}", safety_tick_seconds=0.2
    )
    runner = BotRunner(settings)
    await runner.start()
    try:
        await tg.user(ADMIN_ID, first_name="Admin", language_code="en").send_and_wait("/start")
        await tg.user(ZH_ADMIN, first_name="管理员", language_code="zh-hans").send_and_wait(
            "/start"
        )
        yield runner
    finally:
        await runner.stop()


async def ask(contact: FakeUser, text: str) -> None:
    await contact.send_and_wait("/ask")
    await contact.send_and_wait(text)
    await contact.press("📨 Send")
    assert "Your question was sent" in (await contact.expect_message()).text


def with_text(chat: FakeGroup | FakeUser, needle: str) -> list[str]:
    return [m.text for m in chat.messages() if needle in m.text]


async def state_keys(runner: BotRunner) -> dict[str, str]:
    async with runner.sessions() as session:
        rows = await session.execute(select(BotState.key, BotState.value))
        return {k: v for k, v in rows.all()}


async def until_state(runner: BotRunner, check: Callable[[dict[str, str]], bool]) -> None:
    """What an update taught the bot is written right after the update arrives."""
    for _ in range(200):
        if check(await state_keys(runner)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"bot_state never matched: {await state_keys(runner)}")


async def test_staff_group_that_became_a_supergroup_is_followed(
    staffed: BotRunner, tg: FakeTelegram
) -> None:
    old = tg.group(GROUP)
    contact = tg.user(CONTACT, first_name="Li", language_code="en")
    await ask(contact, "First question")
    await tg.wait_for(lambda: with_text(old, "First question"), 10, "the first card")

    # Upgraded while nobody was looking (no service messages reach the bot).
    new = tg.migrate_group(GROUP, SUPERGROUP, notify=False)
    await ask(contact, "Second question")
    await tg.wait_for(lambda: with_text(new, "Second question"), 15, "the card in the supergroup")
    await ask(contact, "Third question")
    card = await tg.wait_for(lambda: with_text(new, "Third question"), 15, "the next card")
    assert tg.stats["http_400"] == 1  # Telegram told us once; the next card went straight
    assert with_text(old, "question") == with_text(old, "First question")
    assert (await state_keys(staffed))[f"staff_chat.moved:{GROUP}"] == str(SUPERGROUP)
    assert card

    # The staff answer from the new supergroup: accepted as the staff chat.
    admin = tg.user(ADMIN_ID)
    third = next(m for m in new.messages() if "Third question" in m.text)
    await new.send_raw(admin, text="Yes, we do.", reply_to_message=third.payload)
    done = await new.expect_message(timeout=10)
    assert "Answer sent to the contact" in done.text
    answer = await tg.wait_for(
        lambda: [m for m in contact.messages() if "Yes, we do." in m.text], 10, "the answer"
    )
    assert "Answer from the college" in answer[0].text
    async with staffed.sessions() as session:
        cards = list(
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.chat_id < 0, OutboxMessage.method == "sendMessage"
                )  # the cards, not their live edits
            )
        )
    # Where each card went is recorded: the first in the old group, the others in the new.
    assert sorted((r.chat_id, r.state) for r in cards if "question" in r.payload["text"]) == [
        (SUPERGROUP, OutboxState.SENT), (SUPERGROUP, OutboxState.SENT), (GROUP, OutboxState.SENT)
    ]  # fmt: skip


async def test_telegrams_migration_notes_are_enough(staffed: BotRunner, tg: FakeTelegram) -> None:
    """When the service messages do arrive, the bot follows before sending anything."""
    admin = tg.user(ADMIN_ID)
    new = tg.migrate_group(GROUP, SUPERGROUP, by=admin)
    await until_state(
        staffed, lambda keys: keys.get(f"staff_chat.moved:{GROUP}") == str(SUPERGROUP)
    )
    contact = tg.user(CONTACT, first_name="Li", language_code="en")
    await ask(contact, "A question after the upgrade")
    await tg.wait_for(lambda: with_text(new, "after the upgrade"), 15, "the card")
    assert tg.stats["http_400"] == 0
    assert tg.group(GROUP).messages() == []  # the notes themselves are not answered


async def test_removed_from_the_staff_group_cards_go_to_the_admins_until_it_is_back(
    staffed: BotRunner, tg: FakeTelegram
) -> None:
    group = tg.group(GROUP)
    admin, zh_admin = tg.user(ADMIN_ID), tg.user(ZH_ADMIN)
    contact = tg.user(CONTACT, first_name="Li", language_code="en")

    # Removed while no update told the bot: the first card's send answers 403.
    tg.remove_bot(GROUP, notify=False)
    await ask(contact, "Where is the lab?")
    for person, lost, card in ((admin, "can no longer post", "New question"),
                               (zh_admin, "已无法在工作群中发消息", "新的咨询问题")):  # fmt: skip
        await tg.wait_for(partial(with_text, person, card), 15, f"the card for {person.id}")
        assert len(with_text(person, lost)) == 1, person.messages()
        (mine,) = with_text(person, "Where is the lab?")
        assert card in mine  # in the admin's own language
    await ask(contact, "And the opening hours?")
    for person in (admin, zh_admin):
        await tg.wait_for(partial(with_text, person, "opening hours"), 15, "the second card")
    assert tg.stats["http_403"] == 1  # later cards went to the admins without trying
    assert len(with_text(admin, "can no longer post")) == 1  # told once, not per card
    assert f"staff_chat.unreachable:{GROUP}" in await state_keys(staffed)
    async with staffed.sessions() as session:
        (first,) = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == GROUP)
        )
    assert first.state is OutboxState.BLOCKED and "re-sent to the admins" in (
        first.last_error or ""
    )

    # Added back (Telegram says so with my_chat_member): cards go to the group again.
    tg.add_bot(GROUP, by=admin)
    await until_state(staffed, lambda keys: f"staff_chat.unreachable:{GROUP}" not in keys)
    await ask(contact, "One more thing")
    await tg.wait_for(lambda: with_text(group, "One more thing"), 15, "the card in the group")
    assert with_text(admin, "One more thing") == []

    # Removed again, and this time the update arrives: known before any send fails.
    tg.remove_bot(GROUP, by=admin)
    await until_state(staffed, lambda keys: f"staff_chat.unreachable:{GROUP}" in keys)
    await ask(contact, "Last question")
    await tg.wait_for(lambda: with_text(zh_admin, "Last question"), 15, "the card for the admin")
    assert tg.stats["http_403"] == 1
    assert len(with_text(zh_admin, "已无法在工作群中发消息")) == 2  # a new episode, told again
    assert [len(with_text(p, "Where is the lab?")) for p in (admin, zh_admin)] == [1, 1]


async def test_the_fake_answers_as_telegram_does_for_moved_and_lost_groups(
    tg: FakeTelegram,
) -> None:
    """The shapes PTB turns into ChatMigrated and Forbidden, straight from the fake."""
    tg.group(GROUP)
    tg.group(-100_600_001)
    tg.migrate_group(GROUP, SUPERGROUP, notify=False)
    tg.remove_bot(-100_600_001, notify=False)
    async with httpx.AsyncClient() as client:
        moved = await client.post(f"{tg.base_url}{TOKEN}/sendMessage",
                                  json={"chat_id": GROUP, "text": "hi"})  # fmt: skip
        kicked = await client.post(f"{tg.base_url}{TOKEN}/sendMessage",
                                   json={"chat_id": -100_600_001, "text": "hi"})  # fmt: skip
        fine = await client.post(f"{tg.base_url}{TOKEN}/sendMessage",
                                 json={"chat_id": SUPERGROUP, "text": "hi"})  # fmt: skip
    assert (moved.status_code, moved.json()) == (400, {
        "ok": False, "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": SUPERGROUP},
    })  # fmt: skip
    assert (kicked.status_code, kicked.json()) == (403, {
        "ok": False, "error_code": 403,
        "description": "Forbidden: bot was kicked from the supergroup chat",
    })  # fmt: skip
    assert fine.json()["result"]["chat"] == {
        "id": SUPERGROUP, "type": "supergroup", "title": "Group"
    }  # fmt: skip
    # And the updates Telegram sends about it.
    tg.add_bot(-100_600_001)
    (update,) = [u for u in tg._updates if "my_chat_member" in u]
    member = update["my_chat_member"]
    assert member["chat"]["id"] == -100_600_001
    assert (member["old_chat_member"]["status"], member["new_chat_member"]["status"]) == (
        "left", "member"
    )  # fmt: skip
