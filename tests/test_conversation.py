"""The contact's conversation (issue 13, items 1 and 5): a form left aside never
swallows the next text; free text and files outside a flow are not lost. Both
languages, both databases, through the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.broadcasts import forms as broadcast_forms
from bot.catalog import forms as catalog_forms
from bot.inquiries import forms as inquiry_forms
from bot.next_steps import forms as step_forms
from bot.settings import Settings
from bot.ui.i18n import catalog, t
from storage.models import EnterpriseProfile, FormDraft, Inquiry, InquiryEvent
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotRunner, start_staffed
from tests.seed import special_id

STAFF_CHAT = -100700
T = {
    "en": {
        "agree": "✅ I agree", "org_q": "Name of your organisation", "search": "robotics",
        "continue": "▶️ Continue: your profile", "discard": "🗑 Discard",
        "paused": "it is paused", "ask": "✉️ Send this to the college as a question",
        "person_q": "Contact person", "email_q": "Email address", "skip": "Skip ⏭",
        "need": "phone number or an email", "got": "✅ Got it.", "save": "✅ Save",
        "send": "📨 Send", "check_send": "Please check before sending",
        "programme": "Programme: Joint Laboratory for Intelligent Manufacturing",
        "lab": "Joint Laboratory for Intelligent Manufacturing",
        "interested": "✋ I'm interested", "already": "You already registered interest",
        "sent": "Your question was sent", "card": "New question",
        "with_file": "✉️ Ask the college, with this file", "attached": "📎 Attached (2)",
        "too_big": "at most 20.0 MB", "odd": "not accepted", "discarded": "discarded",
    },
    "zh": {
        "agree": "✅ 同意", "org_q": "单位名称", "search": "机器人",
        "continue": "▶️ 继续：企业信息", "discard": "🗑 放弃",
        "paused": "现已暂停", "ask": "✉️ 把这段话作为问题发给学院",
        "person_q": "联系人", "email_q": "电子邮箱", "skip": "跳过 ⏭",
        "need": "请至少填写电话或邮箱之一", "got": "✅ 已收到。", "save": "✅ 保存",
        "send": "📨 发送", "check_send": "发送前请核对",
        "programme": "项目：智能制造联合实验室", "lab": "智能制造联合实验室",
        "interested": "✋ 我有意向", "already": "您已登记过",
        "sent": "问题已提交", "card": "新的咨询问题",
        "with_file": "✉️ 附上此文件向学院提问", "attached": "📎 附件（2）",
        "too_big": "最大 20.0 MB", "odd": "不接受此类文件", "discarded": "已放弃",
    },
}  # fmt: skip
LANG_CODE = {"en": "en", "zh": "zh-hans"}
STALE_BY_LANG = {lang: catalog(lang)["button.stale"] for lang in ("en", "zh")}
STALE = STALE_BY_LANG["en"]


def card_id(text: str) -> str:
    return text.split("#", 1)[1].split()[0]


@pytest.fixture
async def world(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> AsyncIterator[BotRunner]:
    settings = make_settings(tg, staff_chat_id=str(STAFF_CHAT), safety_tick_seconds=0.2)
    runner = await start_staffed(tg, settings, STAFF_CHAT)
    try:
        yield runner
    finally:
        await runner.stop()


async def draft_of(runner: BotRunner, user_id: int) -> FormDraft | None:
    async with runner.sessions() as session:
        return await session.get(FormDraft, user_id)


async def with_profile(runner: BotRunner, user_id: int) -> None:
    async with runner.sessions() as session, session.begin():
        session.add(
            EnterpriseProfile(
                user_id=user_id, organization="Tianjin Robotics", contact_person="Li Lei",
                phone="+8613800000000", email="", industry="", consent_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        )  # fmt: skip


def with_form_buttons(user: FakeUser) -> list[int]:
    """The bot's messages in the chat that still carry a form's buttons (f:…)."""
    return [
        m.message_id
        for m in user.messages()
        if m.from_bot and any(str(data).startswith("f:") for _, data in m.buttons())
    ]


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_a_word_typed_after_leaving_a_form_never_lands_in_it(
    world: BotRunner, tg: FakeTelegram, lang: str
) -> None:
    w = T[lang]
    user = tg.user(6101, first_name="Li", language_code=LANG_CODE[lang])
    await user.send_and_wait("/profile")
    await user.press(w["agree"])
    assert w["org_q"] in (await user.expect_message()).text

    await user.send_and_wait("/catalog")  # leaving the form: a command
    found = await user.send_and_wait(w["search"])
    assert w["lab"] in found.button_labels()  # a search, not the organisation
    assert w["ask"] in found.button_labels()  # the other choice, one tap away
    draft = await draft_of(world, user.id)
    assert draft is not None and draft.paused and draft.step == "organization"
    assert "organization" not in draft.data

    welcome = await user.send_and_wait("/start")  # /start in the middle of a form says so
    assert w["paused"] in welcome.text
    assert w["continue"] in welcome.button_labels() and w["discard"] in welcome.button_labels()
    await user.press(w["continue"])
    back = await user.expect_message()
    assert w["org_q"] in back.text  # the same step
    assert not (await draft_of(world, user.id)).paused  # type: ignore[union-attr]

    nxt = await user.send_and_wait("Tianjin Robotics")
    assert w["person_q"] in nxt.text
    # Only the newest question has buttons: no stale Skip or Cancel above it.
    assert with_form_buttons(user) == [nxt.message_id]
    draft = await draft_of(world, user.id)
    assert draft is not None and draft.data["organization"] == "Tianjin Robotics"

    # A menu button leaves it too; Discard from the menu drops it.
    await user.send_and_wait("/start")
    await user.press(w["discard"])
    assert w["discarded"] in (await user.expect_message()).text
    assert await draft_of(world, user.id) is None
    again = await user.send_and_wait("/start")
    assert w["continue"] not in again.button_labels()


async def test_a_paused_form_waits_seven_days(world: BotRunner, tg: FakeTelegram) -> None:
    user = tg.user(6102, first_name="Wu", language_code="en")
    await user.send_and_wait("/ask")
    menu = await user.send_and_wait("/start")
    assert "▶️ Continue: your question" in menu.button_labels()
    async with world.sessions() as session, session.begin():
        await session.execute(
            update(FormDraft).values(updated_at=datetime.now(UTC) - timedelta(days=8))
        )
    later = await user.send_and_wait("/start")
    assert "▶️ Continue: your question" not in later.button_labels()
    await user.press_data(menu.message_id, "f:resume")  # the old menu's button
    assert (await user.expect_callback_answer())["text"] == STALE
    answer = await user.send_and_wait("hello")  # not taken as the question either
    assert "✉️ Send this to the college as a question" in answer.button_labels()


async def test_a_button_of_an_earlier_message_leaves_the_form_too(
    world: BotRunner, tg: FakeTelegram
) -> None:
    user = tg.user(6108, first_name="Han", language_code="en")
    home = await user.send_and_wait("/catalog")
    await user.send_and_wait("/profile")
    await user.press("✅ I agree")
    await user.expect_message()
    await user.press_data(home.message_id, home.buttons()[0][1] or "")  # the catalogue's
    await user.expect_message()
    found = await user.send_and_wait("robotics")
    assert "Joint Laboratory for Intelligent Manufacturing" in found.button_labels()
    draft = await draft_of(world, user.id)
    assert draft is not None and draft.paused and "organization" not in draft.data
    # The share-phone keyboard's own buttons still answer it (it stays on screen).
    async with world.sessions() as session, session.begin():
        await session.execute(update(FormDraft).values(step="phone"))
    await user.send_contact("+86 138 0000 0000")
    assert "✅ Got it." in (await user.expect_message()).text
    draft = await draft_of(world, user.id)
    assert draft is not None and not draft.paused and draft.data["phone"] == "+8613800000000"


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_profile_checks_at_their_step_and_skip_on_the_phone_step(
    world: BotRunner, tg: FakeTelegram, lang: str
) -> None:
    w = T[lang]
    user = tg.user(6103, first_name="Zhou", language_code=LANG_CODE[lang])
    await user.send_and_wait("/profile")
    await user.press(w["agree"])
    await user.expect_message()
    await user.send_and_wait("Zhou Logistics")
    phone_q = await user.send_and_wait("Zhou Min")
    keyboard = (phone_q.raw_markup or {})["keyboard"]
    assert keyboard[0][0]["request_contact"] is True and keyboard[1][0]["text"] == w["skip"]
    await user.send(w["skip"])  # the reply keyboard's Skip comes back as its label
    got = await user.expect_message()
    assert got.text == w["got"] and (got.raw_markup or {}).get("remove_keyboard") is True
    email_q = await user.expect_message()
    assert w["email_q"] in email_q.text and w["skip"] in email_q.button_labels()
    await user.press(w["skip"])  # neither phone nor email: refused here, not at Save
    assert w["need"] in (await user.expect_callback_answer())["text"]
    refused = await user.expect_message()
    assert w["need"] in refused.text and w["email_q"] in refused.text
    await user.send_and_wait("zhou@logistics.example")
    confirm = await user.send_and_wait("-")
    assert confirm.button_labels()[0] == w["save"]  # the verb of a profile: Save


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_interest_names_the_programme_says_send_and_refuses_a_repeat_first(
    world: BotRunner, tg: FakeTelegram, lang: str
) -> None:
    w = T[lang]
    lab = await special_id(world.sessions, "LAB-AI")
    user = tg.user(6104, first_name="Sun", language_code=LANG_CODE[lang])
    await user.send_and_wait("/start")
    await with_profile(world, user.id)
    await user.send_and_wait(f"/start p_{lab}")
    await user.press(w["interested"])
    await user.expect_message()
    confirm = await user.send_and_wait("-")
    assert w["programme"] in confirm.text and w["check_send"] in confirm.text
    assert confirm.button_labels()[0] == w["send"]
    await user.press(w["send"])
    await user.expect_message()
    await user.send_and_wait(f"/start p_{lab}")
    await user.press(w["interested"])
    refused = await user.expect_callback_answer()
    assert w["already"] in refused["text"] and refused.get("show_alert")
    assert await draft_of(world, user.id) is None  # no form began


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_programme_check_screen_names_the_department(
    world: BotRunner, tg: FakeTelegram, lang: str
) -> None:
    """The department by name, not id; on a Chinese screen with Chinese punctuation."""
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code=LANG_CODE[lang])
    await admin.send_and_wait("/newprogram")
    await admin.press(t(lang, "kind.training"))
    await admin.expect_message()
    await admin.press("School of Economics" if lang == "en" else "经济管理学院")
    await admin.expect_message()
    await admin.send_and_wait("-")
    reply = await admin.send_and_wait("Robotics training")
    for _ in range(6):
        reply = await admin.send_and_wait("-")
    if lang == "en":
        assert "Department: School of Economics" in reply.text
    else:
        assert f"{t('zh', 'field.department')}：经济管理学院" in reply.text
        assert ": " not in reply.text  # no half-width colon on a Chinese check screen
    assert reply.button_labels()[0] == t(lang, "form.save")


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_free_text_goes_to_the_college_in_one_tap(
    world: BotRunner, tg: FakeTelegram, lang: str
) -> None:
    w = T[lang]
    user = tg.user(6105, first_name="Qian", language_code=LANG_CODE[lang])
    text = "Do you take <b>20 interns</b> in July & August?"
    offer = await user.send_and_wait(text)
    await user.press(w["ask"])
    done = await user.expect_message()
    assert w["sent"] in done.text and done.message_id == offer.message_id
    card = await tg.group(STAFF_CHAT).expect_message(timeout=10)
    assert "New question" in card.text and text in card.text
    async with world.sessions() as session:
        inquiry = await session.scalar(select(Inquiry).where(Inquiry.user_id == user.id))
        assert inquiry is not None and inquiry.message == text
    # A second tap on the same offer (a double tap) is the same question, not a new one.
    await user.press_data(offer.message_id, "t:ask")
    await user.expect_callback_answer()
    # A forged press on a message that quotes nothing of theirs finds no text.
    welcome = await user.send_and_wait("/start")
    await user.press_data(welcome.message_id, "t:ask")
    assert (await user.expect_callback_answer())["text"] == STALE_BY_LANG[lang]
    async with world.sessions() as session:
        assert len((await session.scalars(select(Inquiry))).all()) == 1


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_a_pdf_and_a_photo_reach_the_staff_by_file_id(
    world: BotRunner, tg: FakeTelegram, lang: str
) -> None:
    w = T[lang]
    user = tg.user(6106, first_name="Zheng", language_code=LANG_CODE[lang])
    pdf = await user.send_document(b"%PDF-1.4 spec sheet", "spec sheet.pdf", "application/pdf")
    offer = await user.expect_message()
    assert "spec sheet.pdf" in offer.text
    await user.press(w["with_file"])
    ask = await user.expect_message()  # the question form, the file attached
    while "spec sheet.pdf" not in ask.text:
        ask = await user.expect_message()
    shot = await user.send_photo(b"\x89PNG fake image bytes")
    again = await user.expect_message()
    assert w["attached"] in again.text
    confirm = await user.send_and_wait("Can you machine this part?")
    assert w["attached"] in confirm.text and confirm.button_labels()[0] == w["send"]
    await user.press(w["send"])
    assert w["sent"] in (await user.expect_message()).text

    staff = tg.group(STAFF_CHAT)
    card = await staff.expect_message(timeout=10)
    assert "Can you machine this part?" in card.text
    files = [await staff.expect_message(timeout=10), await staff.expect_message(timeout=10)]
    # Two rows to one chat, sent side by side: either may land first.
    doc = next(m for m in files if m.document is not None)
    photo = next(m for m in files if m.photo_file is not None)
    # The very files the contact sent (forwarded by file_id, never downloaded).
    assert doc.document is not None and doc.document.file_id == pdf["document"]["file_id"]
    assert photo.photo_file is not None
    assert photo.photo_file.file_id == shot["photo"][-1]["file_id"]
    assert f"#{card_id(card.text)}" in doc.text and "file 1 of 2" in doc.text
    async with world.sessions() as session:
        event = await session.scalar(select(InquiryEvent).where(InquiryEvent.kind == "created"))
        assert event is not None and event.attachments is not None
        assert [a["kind"] for a in event.attachments] == ["document", "photo"]
        assert event.attachments[0]["name"] == "spec sheet.pdf"
        assert event.attachments[0]["size"] == len(b"%PDF-1.4 spec sheet")


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_an_oversized_or_odd_file_is_refused_with_the_reason(
    world: BotRunner, tg: FakeTelegram, lang: str
) -> None:
    w = T[lang]
    user = tg.user(6107, first_name="Feng", language_code=LANG_CODE[lang])
    big = {"file_id": "BIG1", "file_unique_id": "big1", "file_name": "plant.pdf",
           "file_size": 31 * 1024 * 1024, "mime_type": "application/pdf"}  # fmt: skip
    await user.send_raw(document=big)
    refused = await user.expect_message()
    assert w["too_big"] in refused.text and not refused.button_labels()
    await user.send_document(b"MZ\x90\x00", "setup.exe", "application/octet-stream")
    odd = await user.expect_message()
    assert w["odd"] in odd.text and "PDF" in odd.text and not odd.button_labels()
    async with world.sessions() as session:
        assert (await session.scalars(select(Inquiry))).all() == []


def test_every_form_has_a_name_for_the_menu() -> None:
    specs = [
        catalog_forms.NEW_PROGRAM, catalog_forms.EDIT_FIELD, inquiry_forms.PROFILE,
        inquiry_forms.INTEREST, inquiry_forms.QUESTION, inquiry_forms.FOLLOW_UP,
        inquiry_forms.STAFF_REPLY, step_forms.NEW_STEP, step_forms.MOVE_STEP,
        broadcast_forms.COMPOSE, broadcast_forms.SCHEDULE,
    ]  # fmt: skip
    for lang in ("en", "zh"):
        for spec in specs:
            assert f"formname.{spec.name}" in catalog(lang), (lang, spec.name)
