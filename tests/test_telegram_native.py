"""Telegram-native touches through the fake Bot API: the bot's descriptions in both
languages, the share buttons beside deep links, and inline mode."""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings
from bot.ui.i18n import t
from tests.fakebot import FakeTelegram
from tests.harness import BotRunner


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
