"""Message catalogs (gettext .po files read with Babel) and language choice.

Message ids are keys ("menu.title"), not English sentences, so every language, English
included, must translate every key; tests/test_i18n.py fails when one is missing.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, get_timezone_name
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


# The value that counts something, when a text has one: {n} new, {count} rows, {total}.
_COUNTS: Final = ("n", "count", "total", "merged")


def t(lang: str, key: str, **values: object) -> str:
    """The text for `key` in `lang`, falling back to English, then to the key itself.

    Plurals: when the count (n, count or total) is 1 and the language's catalog has
    `<key>.one`, that text is used ("1 entry", not "1 entries"). Chinese has no plural
    forms, so its catalogs have no such keys."""
    messages = catalog(lang if lang in LANGUAGES else "en")
    if values:
        count = next((values[name] for name in _COUNTS if name in values), None)
        if count == 1 and f"{key}.one" in messages:
            key = f"{key}.one"
    text = messages.get(key) or catalog("en").get(key, key)
    return text.format(**values) if values else text


# Zones people call by a name of their own rather than Babel's ("中国时间", "China Time").
_CHINA_ZONES: Final = ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "Asia/Urumqi", "PRC")
_ZONE_NAMES: Final[dict[str, tuple[str, str]]] = {  # (zh, en)
    **{key: ("北京时间", "Beijing time") for key in _CHINA_ZONES},
    **{key: ("协调世界时", "UTC") for key in ("UTC", "Etc/UTC", "Etc/GMT", "GMT")},
}


def _locale(lang: str) -> Locale:
    return Locale.parse(BABEL_LOCALES.get(lang, "en"))


def zone_name(lang: str, tz: ZoneInfo) -> str:
    """The zone in words, as the reader says it: 北京时间, Beijing time, 中欧时间."""
    named = _ZONE_NAMES.get(tz.key)
    if named:
        return named[0] if lang == "zh" else named[1]
    return get_timezone_name(tz, "long", locale=_locale(lang))


def format_clock(moment: datetime, lang: str, tz: ZoneInfo) -> str:
    """A UTC moment in the configured zone, without the zone: for the lines of a list whose
    screen names the zone once (zone_note). 12月2日（周三）14:30 · Wed 2 Dec, 14:30; the
    year only when it is not this one.

    Babel's own names, but not its pattern engine: format_datetime took 86 µs a call, and
    a board of 600 inquiries formats 1,200 times (tests/test_i18n.py checks that both
    always agree). Each moment's text is kept (a board shown again formats the same 300
    cards)."""
    return _clock(moment, lang, tz, datetime.now(tz).year)


@lru_cache(maxsize=4096)
def _clock(moment: datetime, lang: str, tz: ZoneInfo, year: int) -> str:
    local = moment.astimezone(tz)
    this_year = local.year == year
    days, months = _names(lang if lang in BABEL_LOCALES else "en")
    day, clock = days[local.weekday()], f"{local.hour:02d}:{local.minute:02d}"
    if lang == "zh":
        date_part = f"{local.month}月{local.day}日（{day}）"
        return date_part + clock if this_year else f"{local.year}年{date_part}{clock}"
    month = months[local.month]
    if this_year:
        return f"{day} {local.day} {month}, {clock}"
    return f"{day} {local.day} {month} {local.year}, {clock}"


def babel_clock(moment: datetime, lang: str, tz: ZoneInfo) -> str:
    """format_clock by Babel's pattern engine: what format_clock must always equal."""
    local = moment.astimezone(tz)
    this_year = local.year == datetime.now(tz).year
    if lang == "zh":
        pattern = "M月d日（EEE）HH:mm" if this_year else "y年M月d日（EEE）HH:mm"
    else:
        pattern = "EEE d MMM, HH:mm" if this_year else "EEE d MMM y, HH:mm"
    return format_datetime(
        local, pattern, locale=Locale.parse(BABEL_LOCALES[lang if lang in BABEL_LOCALES else "en"])
    )


@cache
def _names(lang: str) -> tuple[list[str], dict[int, str]]:
    """Babel's abbreviated weekdays (Monday first) and months of a language."""
    locale = _locale(lang)
    days = locale.days["format"]["abbreviated"]
    months = locale.months["format"]["abbreviated"]
    return [str(days[i]) for i in range(7)], {m: str(months[m]) for m in range(1, 13)}


def format_time(moment: datetime, lang: str, tz: ZoneInfo) -> str:
    """One time on a screen, with its zone in words: 12月2日（周三）14:30（北京时间）."""
    return bracketed(lang, format_clock(moment, lang, tz), zone_name(lang, tz))


def bracketed(lang: str, text: str, inside: object) -> str:
    """`text (inside)`, with Chinese full-width brackets on a Chinese screen: 经济管理学院（3）."""
    return f"{text}（{inside}）" if lang == "zh" else f"{text} ({inside})"


def zone_note(lang: str, tz: ZoneInfo) -> str:
    """The line that names the zone once for a list of times (format_clock)."""
    return t(lang, "time.zone_note", zone=zone_name(lang, tz))
