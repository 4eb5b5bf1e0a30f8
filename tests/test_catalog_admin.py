"""Admins manage the catalog in chat: add through a form, edit, close, assign an owner."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import FormDraft, Program, ProgramKind, ProgramStatus
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram
from tests.harness import BotRunner
from tests.seed import add_teacher, seed_catalog, special_id


async def programs_titled(bot: BotRunner, title: str) -> list[Program]:
    async with bot.sessions() as session:
        return list(await session.scalars(select(Program).where(Program.title_en == title)))


async def test_add_programme_through_the_form(bot: BotRunner, tg: FakeTelegram) -> None:
    await seed_catalog(bot.sessions, count=1)
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    first = await admin.send_and_wait("/newprogram")
    assert "Step 1 of 10" in first.text and "kind of cooperation" in first.text
    retry = await admin.send_and_wait("incubation please")
    assert "Please choose one of the buttons." in retry.text
    await admin.press("Incubation")
    dept = await admin.expect_message()
    assert "Which department" in dept.text
    await admin.press("School of Economics")
    ask_zh = await admin.expect_message()
    assert "Title in Chinese" in ask_zh.text
    await admin.send_and_wait("-")  # skip the Chinese title
    too_long = await admin.send_and_wait("x" * 201)
    assert "too long: 201 characters, at most 200" in too_long.text
    await admin.send_and_wait("Start-up <Incubator> & Co")
    for answer in ("-", "Desk space and mentoring.", "-", "Early access to graduates."):
        await admin.send_and_wait(answer)
    await admin.send_and_wait("incubation，创业、start-up")
    confirm = await admin.send_and_wait("Room 101")
    assert "Please check before saving" in confirm.text
    assert "Title (English): Start-up &lt;Incubator&gt; &amp; Co" in (confirm.raw_text or "")
    assert "Keywords: incubation, 创业, start-up" in confirm.text
    await admin.press("✅ Save")
    saved = await admin.expect_message()
    assert "Programme saved and open" in saved.text
    card = await admin.expect_message()
    assert "Start-up <Incubator> & Co" in card.text
    assert "✏️ Edit" in card.button_labels()
    [program] = await programs_titled(bot, "Start-up <Incubator> & Co")
    assert program.kind is ProgramKind.INCUBATION and program.status is ProgramStatus.OPEN
    assert program.code.startswith("IC-") and program.title_zh == ""
    found = await admin.send_and_wait("incubator")
    assert "Start-up <Incubator> & Co" in found.button_labels()


async def test_form_needs_a_title_and_survives_restart(bot: BotRunner, tg: FakeTelegram) -> None:
    await seed_catalog(bot.sessions, count=1)
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    await admin.send_and_wait("/newprogram")
    await admin.press("Customised training")
    await admin.expect_message()
    await admin.send_and_wait("New Department of Robotics")  # typed: a new department
    await admin.send_and_wait("-")

    await bot.restart()  # half-way through the form
    # No English title either: refused at this step (typed "-" or the Skip button),
    # not at Save.
    refused = await admin.send_and_wait("-")
    assert "needs a title in at least one language" in refused.text
    assert "Title in English" in refused.text
    await admin.press("Skip ⏭")  # the same screen: the answer to the press says why
    assert "needs a title" in (await admin.expect_callback_answer())["text"]
    ask = await admin.send_and_wait("Robotics training")
    assert "Description in Chinese" in ask.text
    for _ in range(6):
        reply = await admin.send_and_wait("-")
    assert "Please check before saving" in reply.text
    assert "Department: New Department of Robotics" in reply.text
    await admin.press("✏️ Change…")
    await admin.expect_message()
    await admin.press("Title (Chinese)")
    await admin.expect_message()
    back = await admin.send_and_wait("机器人培训班")
    assert "Please check before saving" in back.text and "机器人培训班" in back.text
    await admin.press("✅ Save")
    assert "Programme saved" in (await admin.expect_message()).text
    async with bot.sessions() as session:
        program = await session.scalar(select(Program).where(Program.title_zh == "机器人培训班"))
        assert program is not None
        assert (await session.scalars(select(FormDraft))).all() == []


async def test_cancel_at_any_step(bot: BotRunner, tg: FakeTelegram) -> None:
    await seed_catalog(bot.sessions, count=1)
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    await admin.send_and_wait("/newprogram")
    await admin.press("Customised training")
    await admin.expect_message()
    cancelled = await admin.send_and_wait("/cancel")
    assert "Cancelled. Nothing was saved." in cancelled.text
    assert "nothing to cancel" in (await admin.send_and_wait("/cancel")).text
    # After cancelling, text is a search again, not a form answer.
    search = await admin.send_and_wait("智能")
    assert "Joint Laboratory for Intelligent Manufacturing" in search.button_labels()


async def test_edit_close_reopen_and_owner(bot: BotRunner, tg: FakeTelegram) -> None:
    await seed_catalog(bot.sessions, count=1)
    await add_teacher(bot.sessions, 5001, "王老师")
    lab = await special_id(bot.sessions, "LAB-AI")
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    await admin.send_and_wait(f"/start p_{lab}")
    await admin.press("✏️ Edit")
    await admin.expect_message()
    await admin.press("Title (English)")
    ask = await admin.expect_message()
    assert "Now: Joint Laboratory for Intelligent Manufacturing" in ask.text
    confirm = await admin.send_and_wait("Intelligent Manufacturing Lab")
    assert "Intelligent Manufacturing Lab" in confirm.text
    await admin.press("✅ Save")
    assert "Change saved" in (await admin.expect_message()).text
    card = await admin.expect_message()
    assert "Intelligent Manufacturing Lab" in card.text

    await admin.press("⛔ Close programme")
    closed = await admin.expect_message()
    assert "Status: closed" in closed.text
    visitor = tg.user(5002, first_name="V", language_code="en")
    assert "closed" in (await visitor.send_and_wait(f"/start p_{lab}")).text
    # The search (served from each process's copy of the texts) follows the change.
    hidden = await visitor.send_and_wait("Intelligent Manufacturing Lab")
    assert "No programme matches" in hidden.text
    await admin.press("✅ Open programme")
    assert "Status: open for cooperation" in (await admin.expect_message()).text
    found = await visitor.send_and_wait("intelligent manufacturing lab")
    assert found.button_labels()[0] == "Intelligent Manufacturing Lab"

    await admin.press("👤 Owner")
    await admin.expect_message()
    await admin.press("王老师")
    owned = await admin.expect_message()
    assert "王老师" in owned.text
    async with bot.sessions() as session:
        program = await session.get(Program, lab)
        assert program is not None and program.owner_id == 5001
        assert program.title_en == "Intelligent Manufacturing Lab"
        assert program.status is ProgramStatus.OPEN


async def test_forged_catalog_admin_buttons_refused(bot: BotRunner, tg: FakeTelegram) -> None:
    await seed_catalog(bot.sessions, count=1)
    lab = await special_id(bot.sessions, "LAB-AI")
    user = tg.user(5003, first_name="Forger", language_code="en")
    card = await user.send_and_wait(f"/start p_{lab}")
    for data in (
        f"ca:status:{lab}:closed", f"ca:field:{lab}:title_en", "ca:new",
        f"ca:owner:{lab}:{user.id}", f"ca:owners:{lab}:1",
    ):  # fmt: skip
        await user.press_data(card.message_id, data)
        answer = await user.expect_callback_answer()
        assert answer["text"] == "This button is no longer valid.", data
    refused = await user.send_and_wait("/newprogram")
    assert "only the college's admins" in refused.text
    async with bot.sessions() as session:
        program = await session.get(Program, lab)
        assert program is not None and program.status is ProgramStatus.OPEN
        assert program.owner_id is None
        assert (await session.scalars(select(FormDraft))).all() == []
