"""Telegram-native touches through the fake Bot API: the bot's descriptions in both
languages, the share buttons beside deep links, and inline mode."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from bot.settings import Settings
from bot.ui.i18n import t
from storage.models import Program
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram
from tests.harness import BotRunner
from tests.seed import seed_catalog, special_id


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
