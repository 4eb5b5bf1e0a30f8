"""Message catalogs (gettext .po files read with Babel) and language choice.

Message ids are keys ("menu.title"), not English sentences, so every language, English
included, must translate every key; tests/test_i18n.py fails when one is missing.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.pofile import read_po

LANGUAGES: Final = ("en", "zh")
LANGUAGE_NAMES: Final = {"en": "English", "zh": "简体中文"}
BABEL_LOCALES: Final = {"en": "en", "zh": "zh_Hans_CN"}
LOCALES_DIR: Final = Path(__file__).parent.parent / "locales"


def pick_language(language_code: str | None, default: str) -> str:
    """Map Telegram's IETF language_code (en-GB, zh-hans, zh-TW…) to one we speak."""
    code = (language_code or "").lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh"
    if code.startswith("en"):
        return "en"
    return default if default in LANGUAGES else "en"


def localized(lang: str, zh: str, en: str) -> str:
    """A text stored in both languages (a title, a department name): the user's language,
    falling back to the other one."""
    first, second = (zh, en) if lang == "zh" else (en, zh)
    return first or second


def _messages(lang: str) -> list[tuple[str, str]]:
    """(key, text) pairs from every .po file of a language; one file per feature."""
    pairs: list[tuple[str, str]] = []
    for path in sorted((LOCALES_DIR / lang).glob("*.po")):
        with path.open("rb") as fh:
            po = read_po(fh, locale=BABEL_LOCALES[lang])
        pairs += [(str(m.id), str(m.string or "")) for m in po if m.id]
    return pairs


@cache
def catalog(lang: str) -> dict[str, str]:
    return {key: text for key, text in _messages(lang) if text}


def message_ids(lang: str) -> set[str]:
    """Every key in a catalog, translated or not (for the completeness test)."""
    return {key for key, _ in _messages(lang)}


def t(lang: str, key: str, **values: object) -> str:
    """The text for `key` in `lang`, falling back to English, then to the key itself."""
    text = catalog(lang if lang in LANGUAGES else "en").get(key) or catalog("en").get(key, key)
    return text.format(**values) if values else text


def format_time(moment: datetime, lang: str, tz: ZoneInfo) -> str:
    """A UTC moment shown in the configured zone, the way each language writes it."""
    local = moment.astimezone(tz)
    pattern = "yyyy-MM-dd HH:mm" if lang == "zh" else "EEE d MMM yyyy, HH:mm"
    return f"{format_datetime(local, pattern, locale=Locale.parse(BABEL_LOCALES[lang]))} ({tz.key})"
