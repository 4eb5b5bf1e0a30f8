"""Acting as users through the fake Bot API: /start, menus, language, restart, fallbacks."""

from __future__ import annotations

from sqlalchemy import select

from bot.ui.i18n import t
from storage.models import User
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram
from tests.harness import BotRunner


async def test_start_in_english_and_chinese(bot: BotRunner, tg: FakeTelegram) -> None:
    alice = tg.user(1001, first_name="Alice", language_code="en")
    li = tg.user(1002, first_name="李雷", language_code="zh-hans")

    reply = await alice.send_and_wait("/start")
    assert "Hello, Alice!" in reply.text
    assert "Main menu" in reply.text
    assert reply.button_labels() == [
        "📚 Programmes",
        "🔍 Search",
        "📋 My inquiries",
        "💬 Ask a question",
        "❓ Help",
        "🌐 Language",
    ]

    reply = await li.send_and_wait("/start")
    assert "您好，李雷！" in reply.text
    assert "主菜单" in reply.text
    assert reply.button_labels() == [
        "📚 合作项目",
        "🔍 搜索",
        "📋 我的咨询",
        "💬 提问",
        "❓ 帮助",
        "🌐 语言",
    ]


async def test_language_switch_is_remembered_across_restart(
    bot: BotRunner, tg: FakeTelegram
) -> None:
    bob = tg.user(1003, first_name="Bob", language_code="en")
    await bob.send_and_wait("/language")
    await bob.press("简体中文")
    edited = await bob.expect_message()
    assert "简体中文" in edited.text and "主菜单" in edited.text
    answer = await bob.expect_callback_answer()
    assert answer["text"] == "好的，以后我将用简体中文与您交流。"

    await bot.restart()
    reply = await bob.send_and_wait("/start")
    assert "您好，Bob！" in reply.text

    async with bot.sessions() as session:
        user = await session.scalar(select(User).where(User.id == 1003))
    assert user is not None and user.language == "zh" and user.language_chosen


async def test_chosen_language_beats_telegram_language(bot: BotRunner, tg: FakeTelegram) -> None:
    carol = tg.user(1004, first_name="Carol", language_code="zh-hans")
    await carol.send_and_wait("/language")
    await carol.press("English")
    await carol.expect_message()
    reply = await carol.send_and_wait("/help")
    assert "How this bot works" in reply.text


async def test_help_button_and_back(bot: BotRunner, tg: FakeTelegram) -> None:
    dan = tg.user(1005, first_name="Dan", language_code="en")
    await dan.send_and_wait("/start")
    await dan.press("Help")
    helped = await dan.expect_message()
    assert "/language" in helped.text
    assert "For admins" not in helped.text
    await dan.press("Main menu")
    menu = await dan.expect_message()
    assert menu.message_id == helped.message_id  # navigation edits, never piles up messages
    assert "Main menu" in menu.text


async def test_fallbacks_answer_everything(bot: BotRunner, tg: FakeTelegram) -> None:
    eve = tg.user(1006, first_name="Eve", language_code="en")
    assert "don't know that command" in (await eve.send_and_wait("/frobnicate")).text
    # Plain text outside a form is a catalog search; no hit gets suggestions, not silence.
    searched = await eve.send_and_wait("hello?")
    assert "No programme matches “hello?”" in searched.text
    assert "Joint research & labs (0)" in searched.button_labels()
    await eve.send_sticker()
    assert "can't use this kind of message" in (await eve.expect_message()).text
    assert "nothing to cancel" in (await eve.send_and_wait("/cancel")).text


async def test_name_with_html_is_escaped(bot: BotRunner, tg: FakeTelegram) -> None:
    mallory = tg.user(1007, first_name="<b>M&M</b>", language_code="en")
    reply = await mallory.send_and_wait("/start")
    assert "Hello, &lt;b&gt;M&amp;M&lt;/b&gt;!" in (reply.raw_text or "")


async def test_stale_and_forged_buttons_get_the_menu(bot: BotRunner, tg: FakeTelegram) -> None:
    frank = tg.user(1008, first_name="Frank", language_code="en")
    menu = await frank.send_and_wait("/start")
    for data in ("zzz:nothing", "lang:set:xx", "m:menu:extra:\x00", "", "a" * 64):
        await frank.press_data(menu.message_id, data)
        answer = await frank.expect_callback_answer()
        assert answer.get("text") == "This button is no longer valid.", (data, answer)
    reply = await frank.send_and_wait("/start")
    assert "Main menu" in reply.text  # still alive and well


async def test_commands_registered_in_both_languages(bot: BotRunner, tg: FakeTelegram) -> None:
    english = tg.commands[("default", None)]
    chinese = tg.commands[("default", "zh")]
    expected = [
        "start", "catalog", "search", "my", "ask", "profile", "tasks", "calendar", "help",
        "language", "cancel", "forget", "unsubscribe", "subscribe",
    ]  # fmt: skip
    assert [c["command"] for c in english] == expected
    assert [c["command"] for c in chinese] == expected
    assert english[9]["description"] == "Choose English or Chinese"
    assert chinese[9]["description"] == "选择语言"

    # An admin's own menu follows the admin's language: English until they choose Chinese.
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    own = {c["command"]: c["description"] for c in tg.commands[(f"chat:{ADMIN_ID}", None)]}
    assert own["broadcast"] == t("en", "cmd.broadcast")
    await admin.send_and_wait("/language")
    await admin.press("简体中文")
    await admin.expect_message()
    own = {c["command"]: c["description"] for c in tg.commands[(f"chat:{ADMIN_ID}", None)]}
    assert own["broadcast"] == t("zh", "cmd.broadcast") and own["staff"] == t("zh", "cmd.staff")


async def test_foreign_groups_are_ignored(bot: BotRunner, tg: FakeTelegram) -> None:
    group = tg.group(-100777, title="Random group")
    grace = tg.user(1009, first_name="Grace", language_code="en")
    await group.send(grace, "/start")
    await grace.send_and_wait("/start")  # the next private reply proves the group update passed
    assert tg.chat(-100777) == []


async def test_edited_messages_are_ignored(bot: BotRunner, tg: FakeTelegram) -> None:
    ivy = tg.user(1010, first_name="Ivy", language_code="en")
    await ivy.send_and_wait("/help")
    await ivy.edit_last_text("/start")
    # The next reply belongs to the next message, not to the edit.
    reply = await ivy.send_and_wait("/language")
    assert "Choose your language" in reply.text
    assert len(tg.chat(1010)) == 2
