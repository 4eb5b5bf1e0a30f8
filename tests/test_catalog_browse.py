"""Browsing the catalog as an enterprise contact would, through the fake Bot API."""

from __future__ import annotations

from sqlalchemy import select, update

from bot.catalog.views import tags_for
from storage.models import Program, ProgramStatus
from tests.fakebot import FakeTelegram
from tests.harness import BotRunner
from tests.seed import seed_catalog, special_id


async def test_browse_kind_list_page_card_back(bot: BotRunner, tg: FakeTelegram) -> None:
    ids = await seed_catalog(bot.sessions, count=20)
    user = tg.user(4001, first_name="Ada", language_code="en")
    await user.send_and_wait("/start")
    await user.press("Programmes")
    home = await user.expect_message()
    assert "Cooperation programmes" in home.text
    await user.press("By kind of cooperation")
    kinds = await user.expect_message()
    assert "Joint research & labs (21)" in kinds.button_labels()  # 20 + the AI lab
    assert "Customised training (0)" in kinds.button_labels()  # the closed one is hidden
    await user.press("Joint research & labs (21)")
    page1 = await user.expect_message()
    assert "Page 1 of 3 · 21 programmes" in page1.text
    assert page1.button_labels()[:8] == [f"Joint project {n:05d}" for n in range(1, 9)]
    await user.press("Next ▶️")
    page2 = await user.expect_message()
    assert page2.message_id == page1.message_id  # edited in place
    assert "Page 2 of 3" in page2.text
    assert page2.button_labels()[0] == "Joint project 00009"
    await user.press("Joint project 00010")
    card = await user.expect_message()
    assert "Joint project 00010" in card.text
    assert "Joint research & labs · School of Mechatronics" in card.text
    assert "Status: open for cooperation" in card.text
    assert "🔗 Share" in card.button_labels() and "⬅️ Back" in card.button_labels()
    assert "✏️ Edit" not in card.button_labels()  # not an admin
    await user.press("⬅️ Back")
    back = await user.expect_message()
    assert "Page 2 of 3" in back.text
    assert back.button_labels()[:8] == page2.button_labels()[:8]
    await user.press("◀️ Previous")
    again = await user.expect_message()
    assert "Page 1 of 3" in again.text
    await user.press("Next ▶️")
    await user.expect_message()
    await user.press("Next ▶️")
    last = await user.expect_message()
    assert "Page 3 of 3" in last.text
    assert "Next ▶️" not in last.button_labels()
    assert ids[-1] > ids[0]


async def test_browse_by_department_in_chinese(bot: BotRunner, tg: FakeTelegram) -> None:
    await seed_catalog(bot.sessions, count=3)
    user = tg.user(4002, first_name="李", language_code="zh-hans")
    await user.send_and_wait("/catalog")
    await user.press("按院系")
    deps = await user.expect_message()
    assert deps.button_labels()[:2] == ["经济管理学院（1）", "机电工程学院（4）"]
    await user.press("经济管理学院（1）")
    listing = await user.expect_message()
    assert listing.button_labels()[0] == "天开高教科创园孵化平台"
    await user.press("天开高教科创园孵化平台")
    card = await user.expect_message()
    assert "创新创业孵化 · 经济管理学院" in card.text


async def test_tags_in_the_readers_language(bot: BotRunner, tg: FakeTelegram) -> None:
    """The lab is tagged "robotics, 机器人": each reader sees the tag in their language,
    and a search finds it by either."""
    await seed_catalog(bot.sessions, count=1)
    lab = await special_id(bot.sessions, "LAB-AI")
    chinese = tg.user(4012, first_name="李", language_code="zh-hans")
    card = await chinese.send_and_wait(f"/start p_{lab}")
    assert "🏷 机器人" in card.text and "robotics" not in card.text
    english = tg.user(4013, first_name="Ann", language_code="en")
    card = await english.send_and_wait(f"/start p_{lab}")
    assert "🏷 robotics" in card.text and "机器人" not in card.text
    found = await english.send_and_wait("机器人")
    assert "Joint Laboratory for Intelligent Manufacturing" in found.button_labels()


def test_tags_for() -> None:
    tags = "智能制造, 工业机器人，smart manufacturing、robotics"
    assert tags_for("zh", tags) == "智能制造、工业机器人"
    assert tags_for("en", tags) == "smart manufacturing, robotics"
    assert tags_for("en", "孵化, 天开园") == "孵化, 天开园"  # none in English: all of them
    assert tags_for("zh", " , ") == ""


async def test_language_fallback_on_card(bot: BotRunner, tg: FakeTelegram) -> None:
    await seed_catalog(bot.sessions, count=1)
    inc = await special_id(bot.sessions, "INC-1")
    user = tg.user(4003, first_name="Ben", language_code="en")
    reply = await user.send_and_wait(f"/start p_{inc}")
    assert "天开高教科创园孵化平台" in reply.text
    assert "described in Chinese only" in reply.text


async def test_card_escapes_html(bot: BotRunner, tg: FakeTelegram) -> None:
    await seed_catalog(bot.sessions, count=1)
    lab = await special_id(bot.sessions, "LAB-AI")
    user = tg.user(4004, first_name="Cy", language_code="en")
    card = await user.send_and_wait(f"/start p_{lab}")
    assert "Access to equipment &amp; &lt;students&gt;" in (card.raw_text or "")
    assert "Access to equipment & <students>" in card.text
    assert "Tel 022-0000 <ext 1>" in card.text


async def test_search_english_chinese_substring_and_none(bot: BotRunner, tg: FakeTelegram) -> None:
    await seed_catalog(bot.sessions, count=12)
    user = tg.user(4005, first_name="Dee", language_code="en")
    hit = await user.send_and_wait("/search intelligent manufacturing")
    assert hit.button_labels()[0] == "Joint Laboratory for Intelligent Manufacturing"
    zh = await user.send_and_wait("智能")  # plain text is a search too
    assert zh.button_labels()[0] == "Joint Laboratory for Intelligent Manufacturing"
    robot = await user.send_and_wait("/search 机器人")
    assert "Joint Laboratory for Intelligent Manufacturing" in robot.button_labels()
    dept = await user.send_and_wait("/search mechatronics")
    assert "Page 1 of 2 · 13 programmes" in dept.text
    await user.press("Next ▶️")
    page2 = await user.expect_message()
    assert "Page 2 of 2" in page2.text
    closed = await user.send_and_wait("/search closed training")
    assert "No programme matches" in closed.text
    assert "Joint research & labs (13)" in closed.button_labels()  # suggestions: the kinds
    nothing = await user.send_and_wait("/search 量子引力")
    assert "No programme matches “量子引力”" in nothing.text


async def test_deep_links(bot: BotRunner, tg: FakeTelegram) -> None:
    await seed_catalog(bot.sessions, count=1)
    lab = await special_id(bot.sessions, "LAB-AI")
    old = await special_id(bot.sessions, "OLD-1")
    user = tg.user(4006, first_name="Eva", language_code="en")
    await user.send_and_wait(f"/start p_{lab}")
    await user.press("🔗 Share")
    shared = await user.expect_message()
    assert f"https://t.me/{tg.bot_username}?start=p_{lab}" in shared.text
    assert shared.photo  # the QR code image
    card = await user.send_and_wait(f"/start p_{lab}")
    assert "Joint Laboratory for Intelligent Manufacturing" in card.text
    closed = await user.send_and_wait(f"/start p_{old}")
    assert "This programme is closed" in closed.text
    assert "By kind of cooperation" in " ".join(closed.button_labels())
    missing = await user.send_and_wait("/start p_999999")
    assert "does not exist" in missing.text


async def test_stale_buttons(bot: BotRunner, tg: FakeTelegram) -> None:
    await seed_catalog(bot.sessions, count=1)
    lab = await special_id(bot.sessions, "LAB-AI")
    user = tg.user(4007, first_name="Fay", language_code="en")
    card = await user.send_and_wait(f"/start p_{lab}")
    async with bot.sessions() as session, session.begin():
        await session.execute(
            update(Program).where(Program.id == lab).values(status=ProgramStatus.CLOSED)
        )
    await user.press("🔗 Share")
    assert (await user.expect_callback_answer())["text"] == "This button is no longer valid."
    for data in (
        "c:p:999999", "c:l:k-nonsense:f0", "c:l:s-424242:f0", "c:l:d-77:f0",
        "c:p:abc", "c:l:k-joint_research:zz", "c:deps:x", "c:bogus",
    ):  # fmt: skip
        await user.press_data(card.message_id, data)
        answer = await user.expect_callback_answer()
        assert answer["text"] in (
            "This button is no longer valid.",
            "Sorry, that programme does not exist (any more).",
        ), data
    await bot.restart()
    await user.press_data(card.message_id, f"c:p:{lab}")
    gone = await user.expect_message()
    assert "closed" in gone.text


async def test_a_page_that_emptied_shows_the_last_one(bot: BotRunner, tg: FakeTelegram) -> None:
    """A "Next" pressed after the programmes it led to were closed: the last page, on
    PostgreSQL too (the bound given to the query must fit its INTEGER ids)."""
    await seed_catalog(bot.sessions, count=20)
    user = tg.user(4014, first_name="Ada", language_code="en")
    await user.send_and_wait("/catalog")
    await user.press("By kind of cooperation")
    await user.expect_message()
    await user.press("Joint research & labs (21)")
    page1 = await user.expect_message()
    async with bot.sessions() as session, session.begin():
        ids = sorted((await session.scalars(select(Program.id))).all())
        await session.execute(
            update(Program).where(Program.id > ids[7]).values(status=ProgramStatus.CLOSED)
        )
    await user.press("Next ▶️")
    again = await user.expect_message()
    assert again.message_id == page1.message_id
    assert "Page 1 of 1" in again.text, again.text
