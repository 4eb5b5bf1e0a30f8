"""Telegram-native touches through the fake Bot API: the bot's descriptions in both
languages, the share buttons beside deep links, and inline mode."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from bot.settings import Settings
from bot.ui.i18n import t
from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import Program, User
from tests.constants import ADMIN_ID, TOKEN
from tests.fakebot import FakeTelegram
from tests.fakebot.models import parse_html
from tests.harness import BotRunner
from tests.seed import seed_catalog, special_id
from tests.test_e2e_process import BotProcess


async def test_descriptions_set_in_both_languages_and_not_again_when_unchanged(
    make_settings: Callable[..., Settings], tg: FakeTelegram
) -> None:
    bot = BotRunner(make_settings(tg))
    await bot.start()
    try:
        # English is the default (no language_code): what people of other languages see.
        assert tg.settings["description:"]["description"] == t("en", "about.description")
        assert tg.settings["description:zh"]["description"] == t("zh", "about.description")
        assert tg.settings["short_description:"]["short_description"] == t("en", "about.short")
        assert tg.settings["short_description:zh"]["short_description"] == t("zh", "about.short")
        assert "开始" in t("zh", "about.description")
        assert tg.stats["set_description"] == tg.stats["set_short_description"] == 2

        await bot.restart()  # nothing changed: read, not set again
        assert tg.stats["set_description"] == tg.stats["set_short_description"] == 2
        assert len(tg.calls_to("getMyDescription")) == 4

        # Someone changed the Chinese one in @BotFather: the next start puts ours back.
        tg.settings["description:zh"] = {"description": "旧的介绍"}
        await bot.restart()
        assert tg.settings["description:zh"]["description"] == t("zh", "about.description")
        assert tg.stats["set_description"] == 3
        assert tg.stats["set_short_description"] == 2
    finally:
        await bot.stop()


def share_target(url: str | None) -> tuple[str, str]:
    """The link and the text of a t.me/share URL, checked to be fully percent-encoded."""
    assert url is not None
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "t.me", "/share/url")
    assert url.isascii() and " " not in url
    query = parse_qs(parts.query, strict_parsing=True)
    assert set(query) == {"url", "text"} and all(len(v) == 1 for v in query.values())
    return query["url"][0], query["text"][0]


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_share_buttons_beside_the_deep_links(
    bot: BotRunner, tg: FakeTelegram, lang: str
) -> None:
    await seed_catalog(bot.sessions, count=1)
    lab = await special_id(bot.sessions, "LAB-AI")
    title = {"en": "R&D lab #1 = 100% open?", "zh": "智能制造联合实验室 R&D #1"}[lang]
    async with bot.sessions() as session, session.begin():
        await session.execute(
            update(Program).where(Program.id == lab).values(title_en=title, title_zh=title)
        )
    user = tg.user(4101, first_name="Ada", language_code=lang)
    card = await user.send_and_wait(f"/start p_{lab}")
    deep_link = f"https://t.me/{tg.bot_username}?start=p_{lab}"
    found = dict(card.buttons())
    share = found[t(lang, "catalog.share_to")]
    assert share_target(share) == (deep_link, title)
    assert share is not None
    assert "R%26D%20" in share and "%231" in share and "start%3Dp_" in share
    # The QR code (which shows the link) carries the same button.
    await user.press(t(lang, "catalog.share"))
    qr = await user.expect_message()
    assert qr.photo_file is not None and deep_link in qr.text
    assert qr.buttons() == [(t(lang, "catalog.share_to"), share)]


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_invite_link_has_a_share_button(
    make_settings: Callable[..., Settings], tg: FakeTelegram, lang: str
) -> None:
    bot = BotRunner(make_settings(tg, default_language=lang))
    await bot.start()
    try:
        admin = tg.user(ADMIN_ID, first_name="Admin", language_code=lang)
        reply = await admin.send_and_wait("/invite")
        match = re.search(r"https://t\.me/\S+\?start=inv_[A-Za-z0-9_\-]+", reply.text)
        assert match, reply.text
        ((label, url),) = reply.buttons()
        assert label == t(lang, "invite.share")
        assert share_target(url) == (match.group(0), t(lang, "invite.share_text"))
    finally:
        await bot.stop()


def open_button(result: dict[str, object]) -> tuple[str, str]:
    markup = result["reply_markup"]
    assert isinstance(markup, dict)
    ((button,),) = markup["inline_keyboard"]
    assert set(button) == {"text", "url"}  # a link: an inline message has no chat of ours
    return button["text"], button["url"]


@pytest.mark.parametrize(
    ("lang", "word", "title"),
    [
        ("en", "laboratory", "Joint Laboratory for Intelligent Manufacturing"),
        ("zh", "制造", "智能制造联合实验室"),  # a Chinese substring, no word boundaries
    ],
)
async def test_inline_query_lists_matching_programmes(
    bot: BotRunner, tg: FakeTelegram, lang: str, word: str, title: str
) -> None:
    await seed_catalog(bot.sessions, count=3)
    lab = await special_id(bot.sessions, "LAB-AI")
    # Someone who never started the bot, typing in a group: answered, and not stored.
    stranger = tg.user(4201, first_name="Wang", language_code=lang)
    await stranger.inline_query(word, chat_type="supergroup")
    answer = await stranger.expect_inline_answer()
    assert answer["is_personal"] is True and answer["cache_time"] == 60
    (result,) = answer["results"]
    assert result["type"] == "article" and result["id"] == f"p{lab}"
    assert result["title"] == title
    content = result["input_message_content"]
    assert content["parse_mode"] == "HTML"
    shown = parse_html(content["message_text"])
    assert shown.startswith(title) and len(shown) <= 4096
    benefits = {"en": "Access to equipment & <students>", "zh": "共享设备与学生资源"}[lang]
    assert benefits in shown  # the admin's text, escaped in the HTML that is posted
    deep_link = f"https://t.me/{tg.bot_username}?start=p_{lab}"
    assert open_button(result) == (t(lang, "inline.open"), deep_link)
    async with bot.sessions() as session:
        assert await session.get(User, 4201) is None

    # An unknown word: nothing (Telegram then shows its own "no results").
    await stranger.inline_query("xyzzy-nothing")
    assert (await stranger.expect_inline_answer())["results"] == []
    # A closed programme is never listed, not even by its exact title.
    await stranger.inline_query("Closed training class")
    assert (await stranger.expect_inline_answer())["results"] == []


async def test_inline_empty_query_shows_the_newest_in_the_askers_language(
    bot: BotRunner, tg: FakeTelegram
) -> None:
    ids = await seed_catalog(bot.sessions, count=12)
    lab = await special_id(bot.sessions, "LAB-AI")
    incubation = await special_id(bot.sessions, "INC-1")
    # A contact who chose Chinese in the bot, though Telegram says English.
    person = tg.user(4202, first_name="Li", language_code="en")
    await person.send_and_wait("/start")
    async with bot.sessions() as session, session.begin():
        await session.execute(update(User).where(User.id == 4202).values(language="zh"))
    await person.inline_query("")
    results = (await person.expect_inline_answer())["results"]
    assert [r["id"] for r in results] == [
        f"p{incubation}", f"p{lab}", *(f"p{i}" for i in reversed(ids[-8:]))
    ]  # fmt: skip
    assert results[0]["title"] == "天开高教科创园孵化平台"
    assert open_button(results[0])[0] == "在机器人中打开"
    assert results[2]["title"] == "联合项目00012"
    assert "机电工程学院" in results[2]["description"]


async def test_inline_answer_refused_by_telegram_is_not_fatal(
    bot: BotRunner, tg: FakeTelegram
) -> None:
    """Telegram refuses an answer that came too late (the person typed on); the bot goes
    on answering the next query."""
    await seed_catalog(bot.sessions, count=1)
    user = tg.user(4203, first_name="Ada", language_code="en")
    tg.fail_next(
        "answerInlineQuery",
        400,
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
    )
    await user.inline_query("joint")
    await tg.wait_for(lambda: tg.calls_to("answerInlineQuery"), 5, "the first answer")
    await user.inline_query("joint")
    answer = await user.expect_inline_answer()
    assert [r["title"] for r in answer["results"]][-1] == "Joint project 00001"
    assert (await user.send_and_wait("/start")).text


async def test_inline_query_hostile_text(bot: BotRunner, tg: FakeTelegram) -> None:
    """Control characters, SQL and LIKE wildcards, 256 characters: an answer, no match."""
    await seed_catalog(bot.sessions, count=2)
    user = tg.user(4204, first_name="Eve", language_code="en")
    for query in ("\x00\x07'; DROP TABLE programs; --", "%_%", "🧪" * 256):
        await user.inline_query(query)
        assert (await user.expect_inline_answer())["results"] == []
    await user.inline_query("\x00joint\x00")  # control characters are spaces
    assert len((await user.expect_inline_answer())["results"]) == 3  # 2 + the AI lab


async def test_run_process_answers_inline_and_sets_descriptions(
    tg: FakeTelegram, db_url: str, tmp_path: Path
) -> None:
    """The real `partnerbot run`: it asks Telegram for inline queries (allowed_updates)
    and answers them, and it has set its descriptions by then."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_"))}
    env.update(
        BOT_TOKEN=TOKEN, DATABASE_URL=db_url, ADMIN_IDS=str(ADMIN_ID),
        TELEGRAM_API_URL=tg.base_url, TELEGRAM_FILE_URL=tg.file_url,
        PYTHONPATH=str(Path(__file__).parent.parent),
    )  # fmt: skip
    engine = create_engine(db_url)
    await upgrade(engine)
    try:
        await seed_catalog(create_session_factory(engine), count=1)
    finally:
        await engine.dispose()
    bot = BotProcess(env, tmp_path)
    await bot.start()
    try:
        user = tg.user(4205, first_name="Ada", language_code="zh-hans")
        await user.send_and_wait("/start", timeout=30)
        await user.inline_query("实验室")
        (result,) = (await user.expect_inline_answer(timeout=10))["results"]
        assert result["title"] == "智能制造联合实验室"
        assert tg.settings["description:zh"]["description"] == t("zh", "about.description")
    finally:
        code = await bot.stop()
    assert code == 0, bot.stderr.decode(errors="replace")[-2000:]
