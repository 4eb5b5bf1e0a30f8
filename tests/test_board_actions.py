"""The inquiry board's card is actionable: assign, status, reply and next step from
/inquiries, each coming back to the same filtered page; a teacher's board is their scope."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.inquiries.board import ListState
from bot.ui.callbacks import MAX_BYTES, cb
from bot.ui.i18n import t
from storage.models import Inquiry, InquiryEvent, InquiryStatus, NextStep
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram, FakeUser
from tests.fakebot.models import SentMessage
from tests.harness import BotRunner
from tests.test_inquiry_admin import TEACHER, items, seed

LANGS = {"en": "en", "zh": "zh-hans"}


def data_of(message: SentMessage, label: str) -> str:
    found = [data for text, data in message.buttons() if text == label]
    assert len(found) == 1, (label, message.button_labels())
    return str(found[0])


async def inquiry_row(bot: BotRunner, inquiry_id: int) -> Inquiry:
    async with bot.sessions() as session:
        row = await session.get(Inquiry, inquiry_id)
    assert row is not None
    return row


async def pressed(user: FakeUser, label: str) -> SentMessage:
    await user.press(label)
    return await user.expect_message()


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_card_actions_come_back_to_the_page(
    bot: BotRunner, tg: FakeTelegram, lang: str
) -> None:
    await seed(bot.sessions)
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code=LANGS[lang])
    bob = tg.user(7001, first_name="Bob", language_code="en")  # the contact of #1..#11

    def say(key: str, **values: object) -> str:
        return re.sub(r"<[^>]+>", "", t(lang, key, **values))  # as the chat shows it

    listing = await admin.send_and_wait("/inquiries")
    await admin.press(say("ia.status_btn", value=say("ia.all")))
    await admin.expect_message()
    await pressed(admin, say("ia.open_only"))
    page2 = await pressed(admin, say("btn.next"))
    assert page2.message_id == listing.message_id
    shown = items(page2.button_labels())
    assert [x.split(" · ")[0] for x in shown] == ["#3", "#2", "#1"]

    card = await pressed(admin, shown[1])  # #2, new
    assert card.message_id == listing.message_id
    labels = card.button_labels()
    for key in ("ia.assign_btn", "inquiry.status_btn", "inquiry.reply_btn", "step.add_btn"):
        assert say(key) in labels, key
    assert all(len(str(d).encode()) <= MAX_BYTES for _, d in card.buttons())

    # Status: the contact is told, the card shows it, the timeline too.
    menu = await pressed(admin, say("inquiry.status_btn"))
    assert say("istatus.meeting") in menu.button_labels()
    card = await pressed(admin, say("istatus.meeting"))
    meeting = say("istatus.meeting")
    answered = await admin.expect_callback_answer()
    assert answered.get("text") == say("inquiry.status_set", status=meeting)
    assert say("ia.line_status", status=meeting) in card.text
    told = await bob.expect_message(timeout=10)
    assert t("en", "istatus.meeting") in told.text
    assert (await inquiry_row(bot, 2)).status is InquiryStatus.MEETING

    # Assign: the admin picks the teacher.
    picker = await pressed(admin, say("ia.assign_btn"))
    staff = picker.button_labels()
    assert f"Wang Fang · {say('role.teacher')}" in staff
    assert f"Admin · {say('role.admin')}" in staff
    card = await pressed(admin, f"Wang Fang · {say('role.teacher')}")
    answered = await admin.expect_callback_answer()
    assert answered.get("text") == say("ia.assigned", name="Wang Fang")
    assert say("ia.line_assignee", name="Wang Fang") in card.text
    assert say("ia.ev_assigned_to", who="Admin", whom="Wang Fang") in card.text
    assert (await inquiry_row(bot, 2)).assignee_id == TEACHER
    # The picker marks the current one; Back from it is the card again.
    picker = await pressed(admin, say("ia.assign_btn"))
    assert f"✅ Wang Fang · {say('role.teacher')}" in picker.button_labels()
    card = await pressed(admin, say("btn.back"))
    assert "#2" in card.text
    back_data = data_of(card, say("btn.back"))
    card_id = card.message_id

    # Reply: the form in this private chat, the answer reaches the contact.
    await admin.press(say("inquiry.reply_btn"))
    prompt = await admin.expect_message()
    assert prompt.message_id != card_id  # the card stays, with its Back
    assert say("staffreply.ask") in prompt.text
    await admin.send_and_wait("We can meet on Tuesday <10:00>.")
    await pressed(admin, "📨 " + ("Send" if lang == "en" else "发送"))  # a reply is sent
    assert say("staffreply.sent", id=2) in admin.messages()[-1].text
    # (The seeded inquiries are weeks old: the contact may also hear they are not forgotten.)
    found = await tg.wait_for(
        lambda: [m for m in bob.messages() if "We can meet on Tuesday <10:00>." in m.text],
        15,
        "the answer at the contact",
    )
    assert len(found) == 1

    # Next step, from the card's button.
    await admin.press_data(card_id, data_of(card, say("step.add_btn")))
    ask = await admin.expect_message()
    assert say("step.ask_title") in ask.text
    await admin.send_and_wait("Send the lab's equipment list")
    await admin.press("Wang")
    await admin.expect_message()
    await admin.send_and_wait("2030-12-03 9:30")
    await admin.send_and_wait("-")
    await pressed(admin, "✅ " + ("Save" if lang == "en" else "保存"))
    async with bot.sessions() as session:
        steps = list(await session.scalars(select(NextStep).where(NextStep.inquiry_id == 2)))
    assert [(s.title, s.owner_id) for s in steps] == [("Send the lab's equipment list", TEACHER)]

    # Back on the card: the same page, the same filters.
    await admin.press_data(card_id, back_data)
    again = await admin.expect_message()
    assert again.message_id == card_id
    assert say("ia.page_count", page=2, pages=2, total=11) in again.text
    assert say("ia.status_btn", value=say("ia.open_only")) in again.button_labels()
    assert [x.split(" · ")[0] for x in items(again.button_labels())] == ["#3", "#2", "#1"]


async def test_teacher_board_is_their_scope(bot: BotRunner, tg: FakeTelegram) -> None:
    await seed(bot.sessions)  # the teacher is assigned #13 (of 李雷, in Chinese) only
    wang = tg.user(TEACHER, first_name="Wang", language_code="en")
    lei = tg.user(7002, first_name="雷", language_code="zh-hans")
    listing = await wang.send_and_wait("/inquiries")
    assert [x.split(" · ")[0] for x in items(listing.button_labels())] == ["#13"]
    card = await pressed(wang, items(listing.button_labels())[0])
    assert t("en", "inquiry.assign_me") in card.button_labels()  # no picker for teachers
    assert t("en", "ia.assign_btn") not in card.button_labels()

    # Acting on it: status (the contact is told in Chinese), assign themselves.
    await pressed(wang, t("en", "inquiry.status_btn"))
    card = await pressed(wang, t("en", "istatus.agreement"))
    assert f"Status: {t('en', 'istatus.agreement')}" in card.text
    told = await lei.expect_message(timeout=10)
    assert t("zh", "istatus.agreement") in told.text
    card = await pressed(wang, t("en", "inquiry.assign_me"))
    assert (await wang.expect_callback_answer()).get("text") == "Assigned to Wang Fang."

    # Outside their scope, or assigning a colleague: refused like a stale button, nothing
    # changes.
    state = ListState().args()
    forged = [
        cb("ia", "o", 1, *state),
        cb("ia", "s", 1, *state),
        cb("ia", "S", 1, "closed", *state),
        cb("ia", "a", 1, *state),
        cb("ia", "A", 13, ADMIN_ID, *state),
        cb("ia", "A", 13, 7001, *state),
        cb("ia", "r", 1, *state),
        cb("ia", "n", 1, *state),
        cb("ia", "S", 13, "bogus", *state),
        "ia:A:13:x:" + ":".join(state),
    ]
    for data in forged:
        await wang.press_data(card.message_id, data)
        refused = await wang.expect_callback_answer()
        assert refused.get("text") == "This button is no longer valid.", data
    assert (await inquiry_row(bot, 1)).status is InquiryStatus.NEW
    assert (await inquiry_row(bot, 13)).assignee_id == TEACHER
    async with bot.sessions() as session:
        of_one = select(InquiryEvent).where(InquiryEvent.inquiry_id == 1)
        events = list(await session.scalars(of_one))
    assert events == []
    assert wang.messages()[-1].text == card.text  # the card as it was


async def test_admin_assigns_only_staff(bot: BotRunner, tg: FakeTelegram) -> None:
    await seed(bot.sessions)
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    listing = await admin.send_and_wait("/inquiries")
    state = ListState().args()
    for whom in (7001, 999_999, 2**60):  # a contact, nobody, beyond any id
        await admin.press_data(listing.message_id, cb("ia", "A", 1, whom, *state))
        refused = await admin.expect_callback_answer()
        assert refused.get("text") == "This button is no longer valid.", whom
    assert (await inquiry_row(bot, 1)).assignee_id is None
    # The longest card button fits Telegram's 64 bytes.
    widest = ListState("agreement", 7, 30, 2**31 - 1, 100_000).args()
    assert len(cb("ia", "A", 2**31 - 1, 2**63 - 1, *widest).encode()) <= MAX_BYTES
