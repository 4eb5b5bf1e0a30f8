"""Every word a user reads exists in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.ui.i18n import LANGUAGES, catalog, message_ids, pick_language, t

ROOT = Path(__file__).parent.parent
KEY_IN_CODE = re.compile(r"""["']((?:[a-z_]+)\.[a-z_]+(?:\.[a-z_]+)*)["']""")


def keys_used_in_code() -> set[str]:
    """Message keys that appear as string literals passed to t()/views in the code."""
    used: set[str] = set()
    known = message_ids("en") | message_ids("zh")
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in KEY_IN_CODE.finditer(path.read_text(encoding="utf-8")):
                key = match.group(1)
                prefix = key.split(".")[0]
                if any(k.startswith(prefix + ".") for k in known):
                    used.add(key)
    return used


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_translated(lang: str) -> None:
    all_ids = message_ids("en") | message_ids("zh")
    if lang == "zh":  # English singulars (`<key>.one`): Chinese has no plural forms
        all_ids = {key for key in all_ids if not key.endswith(".one")}
    missing = sorted(all_ids - set(catalog(lang)))
    assert not missing, f"{lang} lacks translations for {missing}"
    orphans = sorted(k for k in catalog(lang) if k.endswith(".one") and k[:-4] not in all_ids)
    assert not orphans, f"singulars without their plural: {orphans}"


def test_english_says_one_entry_not_one_entries() -> None:
    assert t("en", "audit.export_caption", count=1, time="now").startswith("Audit trail: 1 entry,")
    assert t("en", "audit.export_caption", count=2, time="now").startswith("Audit trail: 2 entries")
    assert "1 条" in t("zh", "audit.export_caption", count=1, time="现在")
    english = catalog("en")
    for key in english:  # every "(s)" became a real plural
        assert "(s)" not in english[key] and "(ies)" not in english[key], key


def test_every_key_used_in_code_exists() -> None:
    for lang in LANGUAGES:
        missing = sorted(keys_used_in_code() - set(catalog(lang)))
        assert not missing, f"{lang} catalog lacks {missing}"


def test_placeholders_match_between_languages() -> None:
    field = re.compile(r"\{(\w+)\}")
    for key, english in catalog("en").items():
        chinese = catalog("zh")[key.removesuffix(".one")]  # a singular: its plural's
        assert set(field.findall(english)) == set(field.findall(chinese)), key


def test_chinese_is_chinese() -> None:
    assert re.search(r"[\u4e00-\u9fff]", t("zh", "menu.title"))
    assert not re.search(r"[\u4e00-\u9fff]", t("en", "menu.title"))


@pytest.mark.parametrize(
    ("code", "expected"),
    [("en", "en"), ("en-GB", "en"), ("zh-hans", "zh"), ("zh-TW", "zh"), ("zh", "zh"),
     ("de", "en"), (None, "en"), ("", "en")],
)  # fmt: skip
def test_pick_language(code: str | None, expected: str) -> None:
    assert pick_language(code, "en") == expected


# Where Chinese text meets ASCII punctuation that Chinese writes full-width (，：；！？（）).
_HALF_WIDTH = re.compile(r"[\u4e00-\u9fff][,:;!?(]|[,;!?)][\u4e00-\u9fff]|[\u4e00-\u9fff] \(")
# Syntax the reader must type exactly as shown: YAML's "key: value".
_SYNTAX = {"files.yaml_not_list", "files.not_mapping"}


def test_chinese_punctuation_is_full_width() -> None:
    markup = re.compile(r"<[^>]+>|\{[^}]*\}|https?://\S+|/[a-z_]+")
    wrong = {
        key: text
        for key, text in catalog("zh").items()
        if key not in _SYNTAX and _HALF_WIDTH.search(markup.sub("", text))
    }
    assert not wrong, wrong


def test_format_clock_says_what_babel_says() -> None:
    """format_clock writes Babel's names itself (for speed): every day of two years, at
    hours that cross midnight in each zone, in both languages, as Babel's patterns."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from bot.ui.i18n import babel_clock, format_clock

    start = datetime(datetime.now(UTC).year - 1, 1, 1, tzinfo=UTC)
    for zone in ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "UTC"):
        tz = ZoneInfo(zone)
        for hours in range(0, 2 * 366 * 24, 13):
            moment = start + timedelta(hours=hours, minutes=hours % 60)
            for lang in ("zh", "en"):
                assert format_clock(moment, lang, tz) == babel_clock(moment, lang, tz)
