"""Times typed the way people type them, in English or Chinese, read in the local zone.

`parse_when` turns "tomorrow 3pm", "下周一 10:00", "12月3号下午3点", "in 2 hours" or
"2026-12-03 9:30" into an aware UTC datetime, or raises FieldError with a message key
(when.unknown, when.past, when.too_far); it never raises anything else, whatever the
input (tests/test_timeparse.py checks with hypothesis). `format_echo` shows the
understood moment back, with its weekday, so the user can see what was understood.

Rules, all in the local zone `tz`:
- a date without a time means 09:00; "in 3 days" / "3天后" keep the current clock time;
- a time alone is today if still ahead, else tomorrow;
- a bare weekday is the next such day (today if still ahead); "next monday" and
  "下周一" are the Monday of next week (weeks start on Monday); "这周一" is this week's;
- a month and day without a year are this year, or next year if that day has passed;
- Chinese hours without 上午/下午… are read on the 24-hour clock ("3点" is 03:00);
- a local time that does not exist (spring forward) lands just after the gap, and one
  that happens twice (fall back) is the first; zoneinfo's fold=0 does both.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, TypeVar
from zoneinfo import ZoneInfo

from bot.ui.errors import FieldError
from bot.ui.i18n import format_time

PAST_GRACE: Final = timedelta(minutes=1)
MAX_YEARS: Final = 5
DEFAULT_TIME: Final = 9 * 60  # minutes after midnight for a date without a time
MAX_LENGTH: Final = 100
_MAX_DAYS: Final = 366 * (MAX_YEARS + 1)  # beyond this an offset is too far, surely


@dataclass(frozen=True)
class _Day:
    """When, as a day: one of the kinds below, resolved against today."""

    kind: str  # "date" | "month_day" | "offset" | "weekday" | "week"
    year: int = 0
    month: int = 0
    day: int = 0  # day of month; days for "offset"; weekday 0=Mon for weekday/week
    weeks: int = 0  # for "week": 0 this week, 1 next week…
    keep_clock: bool = False  # "in 3 days": same clock time as now


_T = TypeVar("_T")
# minutes after midnight; 24:00 and beyond mean the next day (晚上12点, 夜里1点)
_Clock = int

# ---------------------------------------------------------------- normalising

_TRADITIONAL = str.maketrans(
    {"號": "号", "點": "点", "週": "周", "後": "后", "鐘": "钟", "個": "个", "禮": "礼",
     "時": "时", "兩": "两", "〇": "零"}
)  # fmt: skip

_REPLACEMENTS: Final = (
    ("今晚", "今天晚上"), ("明晚", "明天晚上"), ("明早", "明天早上"), ("今早", "今天早上"),
    ("礼拜", "星期"), ("号", "日"), ("钟头", "小时"), ("个钟", "小时"),
)  # fmt: skip


def _normalise(text: str) -> str:
    value = unicodedata.normalize("NFKC", text).translate(_TRADITIONAL).lower()
    for old, new in _REPLACEMENTS:
        value = value.replace(old, new)
    value = re.sub(r"(?<=\d)t(?=\d)", " ", value)  # 2026-12-03T09:30
    value = re.sub(r"[,，、的]", " ", value)
    value = re.sub(r"\b(?:at|on|the)\b", " ", value)
    value = value.strip(" \t\r\n.。!！?？")
    return " ".join(value.split())


# ---------------------------------------------------------------- numbers

_CN_DIGITS: Final = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
                     "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_NUM = r"\d{1,4}|[零一二两三四五六七八九十]{1,4}"
_COUNT = r"\d{1,9}|[零一二两三四五六七八九十]{1,4}"  # "in N …" / "N…后"
_WORD_NUMBERS: Final = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
                        "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}  # fmt: skip


def _number(text: str) -> int:
    """123, 十二, 二十三, 零五, 两 → int; ValueError when it is not a number."""
    if text.isdigit() and text.isascii():
        return int(text)
    if text in _WORD_NUMBERS:
        return _WORD_NUMBERS[text]
    if not text or any(ch not in _CN_DIGITS and ch != "十" for ch in text):
        raise ValueError(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        if "十" in ones or len(tens) > 1 or len(ones) > 1:
            raise ValueError(text)
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    if len(text) == 2 and text[0] == "零":
        return _CN_DIGITS[text[1]]
    if len(text) != 1:
        raise ValueError(text)
    return _CN_DIGITS[text]


# ---------------------------------------------------------------- days

_WEEKDAYS_EN: Final = {
    "monday": 0, "mon": 0, "tuesday": 1, "tues": 1, "tue": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thurs": 3, "thur": 3, "thu": 3, "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5, "sunday": 6, "sun": 6,
}  # fmt: skip
_WEEKDAYS_ZH: Final = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
                       "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}  # fmt: skip
_MONTHS_EN: Final = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11,
    "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
_OFFSET_WORDS: Final = {
    "today": 0, "tomorrow": 1, "tmr": 1, "tmrw": 1, "tomorow": 1,
    "day after tomorrow": 2, "今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2,
    "大后天": 3,
}  # fmt: skip


def _alternatives(words: dict[str, int]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_EN_WD = _alternatives(_WEEKDAYS_EN)
_EN_MONTH = _alternatives(_MONTHS_EN)
_ORD = r"(?:st|nd|rd|th)?"
_UNITS_EN: Final = {
    "minute": 1, "minutes": 1, "min": 1, "mins": 1, "m": 1, "hour": 60, "hours": 60,
    "hr": 60, "hrs": 60, "h": 60, "day": 1440, "days": 1440, "d": 1440, "week": 10080,
    "weeks": 10080, "w": 10080,
}  # fmt: skip
_UNITS_ZH: Final = {"分钟": 1, "分": 1, "小时": 60, "天": 1440, "日": 1440, "周": 10080,
                    "星期": 10080}  # fmt: skip


def _day_date(m: re.Match[str]) -> _Day:
    return _Day("date", int(m["y"]), int(m["mo"]), int(m["d"]))


def _day_month_day(m: re.Match[str]) -> _Day:
    return _Day("month_day", 0, int(m["mo"]), int(m["d"]))


def _day_zh(m: re.Match[str]) -> _Day:
    month, day = _number(m["mo"]), _number(m["d"])
    if m["y"]:
        return _Day("date", int(m["y"]), month, day)
    return _Day("month_day", 0, month, day)


def _day_en_month(m: re.Match[str]) -> _Day:
    month, day = _MONTHS_EN[m["mon"]], int(m["d"])
    return _Day("date", int(m["y"]), month, day) if m["y"] else _Day("month_day", 0, month, day)


def _day_word(m: re.Match[str]) -> _Day:
    return _Day("offset", day=_OFFSET_WORDS[m[0]])


def _day_en_weekday(m: re.Match[str]) -> _Day:
    weekday = _WEEKDAYS_EN[m["wd"]]
    if m["next"] == "next":
        return _Day("week", day=weekday, weeks=1)
    return _Day("weekday", day=weekday)


def _day_zh_weekday(m: re.Match[str]) -> _Day:
    weekday = _WEEKDAYS_ZH[m["wd"]]
    prefix = m["pre"] or ""
    if prefix.startswith("下"):
        return _Day("week", day=weekday, weeks=prefix.count("下"))
    if prefix.startswith("上"):
        return _Day("week", day=weekday, weeks=-prefix.count("上"))
    if prefix:  # 这周/本周/这个星期
        return _Day("week", day=weekday, weeks=0)
    return _Day("weekday", day=weekday)


def _day_in_days(m: re.Match[str]) -> _Day:
    minutes = _number(m["n"]) * _UNITS_EN.get(m["unit"], _UNITS_ZH.get(m["unit"], 0))
    return _Day("offset", day=minutes // 1440, keep_clock=True)


_END = r"(?![\d:])"
_EN_N = rf"\d{{1,9}}|{_alternatives(_WORD_NUMBERS)}"
_DAY_PARSERS: Final[tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], _Day]], ...]] = (
    (re.compile(rf"(?P<y>\d{{4}})\s*[-/.]\s*(?P<mo>\d{{1,2}})\s*[-/.]\s*(?P<d>\d{{1,2}}){_END}"),
     _day_date),
    (re.compile(rf"(?P<mo>\d{{1,2}})\s*[-/]\s*(?P<d>\d{{1,2}}){_END}"), _day_month_day),
    (re.compile(rf"(?:(?P<y>\d{{4}})\s*年\s*)?(?P<mo>{_NUM})\s*月\s*(?P<d>{_NUM})\s*日"),
     _day_zh),
    (re.compile(rf"(?P<mon>{_EN_MONTH})\.?\s*(?P<d>\d{{1,2}}){_ORD}(?:\s+(?P<y>\d{{4}}))?\b"),
     _day_en_month),
    (re.compile(rf"(?P<d>\d{{1,2}}){_ORD}\s*(?P<mon>{_EN_MONTH})\.?(?:\s+(?P<y>\d{{4}}))?\b"),
     _day_en_month),
    (re.compile(rf"(?:{_alternatives(_OFFSET_WORDS)})(?![a-z])"), _day_word),
    (re.compile(rf"(?:(?P<next>next|this)\s+)?(?P<wd>{_EN_WD})\b"), _day_en_weekday),
    (re.compile(r"(?P<pre>下+个?|上+个?|这个?|本)?(?:周|星期)(?P<wd>[一二三四五六日天1-7])"),
     _day_zh_weekday),
    (re.compile(rf"in\s+(?P<n>{_EN_N})\s*(?P<unit>days?|d|weeks?|w)\b"), _day_in_days),
    (re.compile(rf"(?P<n>{_EN_N})\s*(?P<unit>days?|weeks?)\s+(?:later|from now)\b"),
     _day_in_days),
    (re.compile(rf"(?P<n>{_COUNT})\s*个?\s*(?P<unit>天|日|周|星期)\s*(?:以后|之后|后)"),
     _day_in_days),
)  # fmt: skip

# ---------------------------------------------------------------- clock times

_PERIODS: Final = {
    "凌晨": (None, "early"), "早上": (9, "am"), "早晨": (9, "am"), "上午": (9, "am"),
    "中午": (12, "noon"), "下午": (15, "pm"), "傍晚": (18, "pm"), "晚上": (20, "night"),
    "夜里": (20, "night"), "夜晚": (20, "night"), "晚": (20, "night"),
}  # fmt: skip
_PERIOD = _alternatives(dict.fromkeys(_PERIODS, 0))


def _check(hour: int, minute: int) -> _Clock:
    if not 0 <= minute <= 59 or not 0 <= hour <= 24 or (hour == 24 and minute):
        raise ValueError("no such time")
    return hour * 60 + minute


def _clock_24(m: re.Match[str]) -> _Clock:
    return _check(int(m["h"]), int(m["mi"]))


def _clock_ampm(m: re.Match[str]) -> _Clock:
    hour, minute = int(m["h"]), int(m["mi"] or 0)
    if not 1 <= hour <= 12:
        raise ValueError("no such time")
    hour = hour % 12 + (12 if m["ap"] == "p" else 0)
    return _check(hour, minute)


def _clock_noon(m: re.Match[str]) -> _Clock:
    return 12 * 60


def _with_period(period: str | None, hour: int, minute: int) -> _Clock:
    """下午3点 → 15:00, 晚上12点 → 24:00 (the next midnight), 夜里1点 → 25:00."""
    kind = _PERIODS[period][1] if period else None
    if kind == "night" and 1 <= hour <= 4:
        return 24 * 60 + _check(hour, minute)
    shift = _PERIOD_HOURS.get(kind or "")
    return _check(shift(hour) if shift else hour, minute)


def _early(hour: int) -> int:  # 凌晨: 12 is midnight; after 6 it is not early any more
    if hour > 6 and hour != 12:
        raise ValueError("no such time")
    return 0 if hour == 12 else hour


def _morning(hour: int) -> int:
    if hour > 12:
        raise ValueError("no such time")
    return hour


def _noon(hour: int) -> int:  # 中午1点 is 13:00; 中午11点 and 12点 stay
    if hour <= 3:
        return hour + 12
    if not 11 <= hour <= 14:
        raise ValueError("no such time")
    return hour


def _afternoon(hour: int) -> int:
    return hour + 12 if hour < 12 else hour


def _night(hour: int) -> int:  # 晚上8点 is 20:00 (1 to 4 are after midnight, above)
    return hour + 12 if hour <= 12 else hour


_PERIOD_HOURS = {"early": _early, "am": _morning, "noon": _noon, "pm": _afternoon, "night": _night}


def _clock_zh(m: re.Match[str]) -> _Clock:
    hour = _number(m["h"])
    if m["half"]:
        minute = 30
    elif m["q1"]:
        minute = 15
    elif m["q3"]:
        minute = 45
    else:
        minute = _number(m["mi"]) if m["mi"] else 0
    return _with_period(m["p"], hour, minute)


def _clock_zh_colon(m: re.Match[str]) -> _Clock:
    return _with_period(m["p"], int(m["h"]), int(m["mi"]))


def _clock_period_alone(m: re.Match[str]) -> _Clock:
    default = _PERIODS[m["p"]][0]
    if default is None:
        raise ValueError("which hour?")
    return default * 60


_CLOCK_PARSERS: Final[tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], _Clock]], ...]] = (
    (re.compile(r"(?P<h>\d{1,2})(?::(?P<mi>\d{2}))?\s*(?P<ap>[ap])\.?m\.?(?![a-z])"),
     _clock_ampm),
    (re.compile(r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::\d{2})?(?!\d)"), _clock_24),
    (re.compile(r"(?:noon|midday)\b|中午(?!\s*\S)"), _clock_noon),
    (re.compile(rf"(?:(?P<p>{_PERIOD})\s*)?(?P<h>{_NUM})\s*[点时]\s*(?:(?P<half>半)|(?P<q1>一刻)"
                rf"|(?P<q3>三刻)|(?P<mi>{_NUM})\s*分?|钟|整)?"), _clock_zh),
    (re.compile(rf"(?:(?P<p>{_PERIOD})\s*)(?P<h>\d{{1,2}}):(?P<mi>\d{{2}})(?!\d)"),
     _clock_zh_colon),
    (re.compile(rf"(?P<p>{_PERIOD})"), _clock_period_alone),
)  # fmt: skip

# "in 2 hours", "30分钟后", "半小时后": an exact amount of time from now
_EXACT: Final = (
    re.compile(rf"in\s+(?P<n>{_EN_N})\s*(?P<unit>minutes?|mins?|m|hours?|hrs?|h)"),
    re.compile(rf"(?P<n>{_EN_N})\s*(?P<unit>minutes?|mins?|hours?|hrs?)\s+(?:later|from now)"),
    re.compile(rf"(?P<n>{_COUNT})\s*个?\s*(?P<unit>分钟|分|小时)\s*(?:以后|之后|后)"),
)  # fmt: skip
_HALF_HOUR: Final = re.compile(r"(?:in\s+half\s+an\s+hour|半\s*个?\s*小时\s*(?:以后|之后|后))")


def _exact_minutes(text: str) -> int | None:
    if _HALF_HOUR.fullmatch(text):
        return 30
    for pattern in _EXACT:
        m = pattern.fullmatch(text)
        if m:
            return _number(m["n"]) * _UNITS_EN.get(m["unit"], _UNITS_ZH.get(m["unit"], 0))
    return None


# ---------------------------------------------------------------- reading


def _first(
    parsers: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], _T]], ...], text: str,
    *, whole: bool,
) -> Iterator[tuple[_T, str]]:  # fmt: skip
    """Each reading of the start (or the whole) of `text`, with what is left after it."""
    for pattern, parse in parsers:
        m = pattern.fullmatch(text) if whole else pattern.match(text)
        if m is None:
            continue
        try:
            value = parse(m)
        except ValueError:
            continue
        yield value, text[m.end() :].strip()


def _read(text: str) -> tuple[_Day | None, _Clock | None]:
    """Split into a day and a clock time, either first; ValueError if it is neither."""
    for day, rest in _first(_DAY_PARSERS, text, whole=False):
        if not rest:
            return day, None
        for clock, _ in _first(_CLOCK_PARSERS, rest, whole=True):
            return day, clock
    for clock, rest in _first(_CLOCK_PARSERS, text, whole=False):
        if not rest:
            return None, clock
        for day, _ in _first(_DAY_PARSERS, rest, whole=True):
            return day, clock
    raise ValueError("not understood")


def _resolve_day(day: _Day, today: date) -> date:
    if day.kind == "date":
        return date(day.year, day.month, day.day)
    if day.kind == "month_day":
        moment = date(today.year, day.month, day.day)
        return moment if moment >= today else date(today.year + 1, day.month, day.day)
    if day.kind == "offset":
        return today + timedelta(days=day.day)
    monday = today - timedelta(days=today.weekday())
    if day.kind == "week":
        return monday + timedelta(weeks=day.weeks, days=day.day)
    return today + timedelta(days=(day.day - today.weekday()) % 7)  # weekday


def _localise(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    naive = datetime.combine(day, time()) + timedelta(minutes=minutes)
    return naive.replace(tzinfo=tz).astimezone(UTC)  # fold=0: after a gap, first of two


def _limit(now: datetime) -> datetime:
    try:
        return now.replace(year=now.year + MAX_YEARS)
    except ValueError:  # 29 February
        return now.replace(year=now.year + MAX_YEARS, day=28)


def _understand(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """The moment meant, in UTC; ValueError/OverflowError when not understood."""
    local_now = now.astimezone(tz)
    today = local_now.date()
    this_minute = now.replace(second=0, microsecond=0)
    clock_now = local_now.hour * 60 + local_now.minute
    exact = _exact_minutes(text)
    if exact is not None:
        if exact > _MAX_DAYS * 1440:
            raise FieldError("when.too_far")
        return this_minute + timedelta(minutes=exact)
    day, clock = _read(text)
    if day is None:  # a time alone: today if still ahead, else tomorrow
        assert clock is not None
        moment = _localise(today, clock, tz)
        return moment if moment >= this_minute else _localise(today + timedelta(days=1), clock, tz)
    if day.kind == "date" and not 1000 <= day.year <= today.year + MAX_YEARS + 1:
        if day.year > today.year:
            raise FieldError("when.too_far")
        raise ValueError("no such year")
    if day.kind in ("offset", "week") and abs(day.day + 7 * day.weeks) > _MAX_DAYS:
        raise FieldError("when.too_far")
    if clock is None:
        clock = clock_now if day.keep_clock else DEFAULT_TIME
    moment = _localise(_resolve_day(day, today), clock, tz)
    if day.kind == "weekday" and moment < this_minute:
        moment = _localise(_resolve_day(day, today) + timedelta(days=7), clock, tz)
    return moment


def parse_when(text: str, *, now: datetime, tz: ZoneInfo, lang: str) -> datetime:
    """What the user typed → an aware UTC datetime, or FieldError (when.*)."""
    value = _normalise(text) if len(text) <= MAX_LENGTH else ""
    try:
        moment = _understand(value, now, tz)
    except (ValueError, OverflowError, KeyError) as exc:
        raise FieldError("when.unknown") from exc
    if moment < now - PAST_GRACE:
        raise FieldError("when.past", shown=format_echo(moment, lang, tz))
    if moment > _limit(now):
        raise FieldError("when.too_far")
    return moment


def format_echo(moment_utc: datetime, lang: str, tz: ZoneInfo) -> str:
    """The understood moment, for the user to check: weekday, local time, the zone in words
    (12月3日（周四）09:30（北京时间）; the year when it is not this one)."""
    return format_time(moment_utc, lang, tz)
