"""Times typed the way people type them: every accepted form, the refusals, and totality."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.formats.timeparse import format_echo, parse_when
from bot.ui.errors import FieldError
from bot.ui.i18n import t

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # Thu 26 Nov 2026, 10:00 in Shanghai
AFTER_MIDNIGHT = datetime(2026, 11, 26, 16, 30, tzinfo=UTC)  # Fri 27 Nov, 00:30 in Shanghai
BEFORE_MIDNIGHT = datetime(2026, 11, 26, 15, 50, tzinfo=UTC)  # Thu 26 Nov, 23:50 in Shanghai
SPRING = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)  # Sat 28 Mar, 10:00 CET; clocks go on the 29th
AUTUMN = datetime(2026, 10, 24, 8, 0, tzinfo=UTC)  # Sat 24 Oct, 10:00 CEST; clocks go back the 25th


CASES: list[tuple[str, datetime, ZoneInfo, datetime]] = [
    # ISO-ish
    ("2026-12-03 9:30", NOW, SHANGHAI, datetime(2026, 12, 3, 9, 30)),
    ("2026-12-03 09:30", NOW, SHANGHAI, datetime(2026, 12, 3, 9, 30)),
    ("2026/12/3 14:00", NOW, SHANGHAI, datetime(2026, 12, 3, 14, 0)),
    ("12-03 9:30", NOW, SHANGHAI, datetime(2026, 12, 3, 9, 30)),
    ("12/3 9:30", NOW, SHANGHAI, datetime(2026, 12, 3, 9, 30)),
    ("11/01 9:30", NOW, SHANGHAI, datetime(2027, 11, 1, 9, 30)),  # already past: next year
    ("2026-12-03", NOW, SHANGHAI, datetime(2026, 12, 3, 9, 0)),
    ("2026-12-03T09:30", NOW, SHANGHAI, datetime(2026, 12, 3, 9, 30)),
    ("2026-12-03 09:30:00", NOW, SHANGHAI, datetime(2026, 12, 3, 9, 30)),
    ("2026.12.03 18:45", NOW, SHANGHAI, datetime(2026, 12, 3, 18, 45)),
    # English
    ("today 17:00", NOW, SHANGHAI, datetime(2026, 11, 26, 17, 0)),
    ("tomorrow 15:00", NOW, SHANGHAI, datetime(2026, 11, 27, 15, 0)),
    ("tomorrow 3pm", NOW, SHANGHAI, datetime(2026, 11, 27, 15, 0)),
    ("Tomorrow at 3 PM", NOW, SHANGHAI, datetime(2026, 11, 27, 15, 0)),
    ("tomorrow 9:30am", NOW, SHANGHAI, datetime(2026, 11, 27, 9, 30)),
    ("tomorrow 12am", NOW, SHANGHAI, datetime(2026, 11, 27, 0, 0)),
    ("tomorrow 12pm", NOW, SHANGHAI, datetime(2026, 11, 27, 12, 0)),
    ("tomorrow", NOW, SHANGHAI, datetime(2026, 11, 27, 9, 0)),
    ("  TOMORROW   ", NOW, SHANGHAI, datetime(2026, 11, 27, 9, 0)),
    ("3pm tomorrow", NOW, SHANGHAI, datetime(2026, 11, 27, 15, 0)),
    ("day after tomorrow 8:15", NOW, SHANGHAI, datetime(2026, 11, 28, 8, 15)),
    ("in 2 hours", NOW, SHANGHAI, datetime(2026, 11, 26, 12, 0)),
    ("in 30 minutes", NOW, SHANGHAI, datetime(2026, 11, 26, 10, 30)),
    ("in an hour", NOW, SHANGHAI, datetime(2026, 11, 26, 11, 0)),
    ("in half an hour", NOW, SHANGHAI, datetime(2026, 11, 26, 10, 30)),
    ("2 hours from now", NOW, SHANGHAI, datetime(2026, 11, 26, 12, 0)),
    ("in 3 days", NOW, SHANGHAI, datetime(2026, 11, 29, 10, 0)),
    ("in 3 days 15:00", NOW, SHANGHAI, datetime(2026, 11, 29, 15, 0)),
    ("in 2 weeks", NOW, SHANGHAI, datetime(2026, 12, 10, 10, 0)),
    ("next monday 10:00", NOW, SHANGHAI, datetime(2026, 11, 30, 10, 0)),
    ("next friday", NOW, SHANGHAI, datetime(2026, 12, 4, 9, 0)),  # Friday of next week
    ("monday 10:00", NOW, SHANGHAI, datetime(2026, 11, 30, 10, 0)),
    ("mon 10am", NOW, SHANGHAI, datetime(2026, 11, 30, 10, 0)),
    ("10:00 monday", NOW, SHANGHAI, datetime(2026, 11, 30, 10, 0)),
    ("friday", NOW, SHANGHAI, datetime(2026, 11, 27, 9, 0)),
    ("thursday 11:00", NOW, SHANGHAI, datetime(2026, 11, 26, 11, 0)),  # today, still ahead
    ("thursday 9:00", NOW, SHANGHAI, datetime(2026, 12, 3, 9, 0)),  # today's has passed
    ("thu", NOW, SHANGHAI, datetime(2026, 12, 3, 9, 0)),
    ("this saturday 2pm", NOW, SHANGHAI, datetime(2026, 11, 28, 14, 0)),
    ("noon", NOW, SHANGHAI, datetime(2026, 11, 26, 12, 0)),
    ("tomorrow noon", NOW, SHANGHAI, datetime(2026, 11, 27, 12, 0)),
    ("3pm", NOW, SHANGHAI, datetime(2026, 11, 26, 15, 0)),
    ("9am", NOW, SHANGHAI, datetime(2026, 11, 27, 9, 0)),  # passed today: tomorrow
    ("9:30", NOW, SHANGHAI, datetime(2026, 11, 27, 9, 30)),
    ("10:00", NOW, SHANGHAI, datetime(2026, 11, 26, 10, 0)),  # this very minute
    ("3 p.m.", NOW, SHANGHAI, datetime(2026, 11, 26, 15, 0)),
    ("dec 3 9:30", NOW, SHANGHAI, datetime(2026, 12, 3, 9, 30)),
    ("3rd December 2026 2pm", NOW, SHANGHAI, datetime(2026, 12, 3, 14, 0)),
    ("Jan 5", NOW, SHANGHAI, datetime(2027, 1, 5, 9, 0)),
    # Chinese
    ("今天 17:00", NOW, SHANGHAI, datetime(2026, 11, 26, 17, 0)),
    ("明天 15:00", NOW, SHANGHAI, datetime(2026, 11, 27, 15, 0)),
    ("明天下午3点", NOW, SHANGHAI, datetime(2026, 11, 27, 15, 0)),
    ("明天上午9点半", NOW, SHANGHAI, datetime(2026, 11, 27, 9, 30)),
    ("明天", NOW, SHANGHAI, datetime(2026, 11, 27, 9, 0)),
    ("明天下午", NOW, SHANGHAI, datetime(2026, 11, 27, 15, 0)),
    ("后天 9:00", NOW, SHANGHAI, datetime(2026, 11, 28, 9, 0)),
    ("大后天上午10点", NOW, SHANGHAI, datetime(2026, 11, 29, 10, 0)),
    ("下周一 10:00", NOW, SHANGHAI, datetime(2026, 11, 30, 10, 0)),
    ("下周五", NOW, SHANGHAI, datetime(2026, 12, 4, 9, 0)),
    ("下个星期三下午2点", NOW, SHANGHAI, datetime(2026, 12, 2, 14, 0)),
    ("下下周三 15:00", NOW, SHANGHAI, datetime(2026, 12, 9, 15, 0)),
    ("这周六", NOW, SHANGHAI, datetime(2026, 11, 28, 9, 0)),
    ("周五 14:00", NOW, SHANGHAI, datetime(2026, 11, 27, 14, 0)),
    ("星期五下午2点", NOW, SHANGHAI, datetime(2026, 11, 27, 14, 0)),
    ("礼拜天上午10点", NOW, SHANGHAI, datetime(2026, 11, 29, 10, 0)),
    ("周四 9:00", NOW, SHANGHAI, datetime(2026, 12, 3, 9, 0)),
    ("3小时后", NOW, SHANGHAI, datetime(2026, 11, 26, 13, 0)),
    ("30分钟后", NOW, SHANGHAI, datetime(2026, 11, 26, 10, 30)),
    ("半小时后", NOW, SHANGHAI, datetime(2026, 11, 26, 10, 30)),
    ("两个小时以后", NOW, SHANGHAI, datetime(2026, 11, 26, 12, 0)),
    ("2天后", NOW, SHANGHAI, datetime(2026, 11, 28, 10, 0)),
    ("一周后下午3点", NOW, SHANGHAI, datetime(2026, 12, 3, 15, 0)),
    ("12月3日 9:30", NOW, SHANGHAI, datetime(2026, 12, 3, 9, 30)),
    ("12月3号下午3点", NOW, SHANGHAI, datetime(2026, 12, 3, 15, 0)),
    ("2027年1月5日", NOW, SHANGHAI, datetime(2027, 1, 5, 9, 0)),
    ("十二月三日上午十点", NOW, SHANGHAI, datetime(2026, 12, 3, 10, 0)),
    ("明天 １５：００", NOW, SHANGHAI, datetime(2026, 11, 27, 15, 0)),
    ("２０２６－１２－０３　９：３０", NOW, SHANGHAI, datetime(2026, 12, 3, 9, 30)),
    ("明天15点", NOW, SHANGHAI, datetime(2026, 11, 27, 15, 0)),
    ("明天9点", NOW, SHANGHAI, datetime(2026, 11, 27, 9, 0)),
    ("明天3点", NOW, SHANGHAI, datetime(2026, 11, 27, 3, 0)),  # no 下午: the 24-hour clock
    ("明天9点半", NOW, SHANGHAI, datetime(2026, 11, 27, 9, 30)),
    ("明天10点15分", NOW, SHANGHAI, datetime(2026, 11, 27, 10, 15)),
    ("明天下午三点一刻", NOW, SHANGHAI, datetime(2026, 11, 27, 15, 15)),
    ("明天的下午3点", NOW, SHANGHAI, datetime(2026, 11, 27, 15, 0)),
    ("中午12点", NOW, SHANGHAI, datetime(2026, 11, 26, 12, 0)),
    ("明天中午", NOW, SHANGHAI, datetime(2026, 11, 27, 12, 0)),
    ("中午1点", NOW, SHANGHAI, datetime(2026, 11, 26, 13, 0)),
    ("晚上8点", NOW, SHANGHAI, datetime(2026, 11, 26, 20, 0)),
    ("今晚8点半", NOW, SHANGHAI, datetime(2026, 11, 26, 20, 30)),
    ("明天晚上12点", NOW, SHANGHAI, datetime(2026, 11, 28, 0, 0)),
    ("下午 3:30", NOW, SHANGHAI, datetime(2026, 11, 26, 15, 30)),
    ("明天 3pm", NOW, SHANGHAI, datetime(2026, 11, 27, 15, 0)),
    ("明天下午3點", NOW, SHANGHAI, datetime(2026, 11, 27, 15, 0)),  # traditional characters
    # across midnight: in Shanghai it is already Friday 00:30
    ("today 17:00", AFTER_MIDNIGHT, SHANGHAI, datetime(2026, 11, 27, 17, 0)),
    ("tomorrow", AFTER_MIDNIGHT, SHANGHAI, datetime(2026, 11, 28, 9, 0)),
    ("3pm", AFTER_MIDNIGHT, SHANGHAI, datetime(2026, 11, 27, 15, 0)),
    ("in 2 hours", AFTER_MIDNIGHT, SHANGHAI, datetime(2026, 11, 27, 2, 30)),
    ("明天 9:00", AFTER_MIDNIGHT, SHANGHAI, datetime(2026, 11, 28, 9, 0)),
    ("周五 14:00", AFTER_MIDNIGHT, SHANGHAI, datetime(2026, 11, 27, 14, 0)),
    ("in 30 minutes", BEFORE_MIDNIGHT, SHANGHAI, datetime(2026, 11, 27, 0, 20)),
    ("9:00", BEFORE_MIDNIGHT, SHANGHAI, datetime(2026, 11, 27, 9, 0)),
    ("today 23:55", BEFORE_MIDNIGHT, SHANGHAI, datetime(2026, 11, 26, 23, 55)),
    ("明天", BEFORE_MIDNIGHT, SHANGHAI, datetime(2026, 11, 27, 9, 0)),
    # another zone: the same UTC moment is Wednesday evening in New York
    ("tomorrow 9am", NOW, NEW_YORK, datetime(2026, 11, 26, 9, 0)),
    ("today 22:00", NOW, NEW_YORK, datetime(2026, 11, 25, 22, 0)),
]

# Europe/Berlin: 29 March 2026 02:00–03:00 does not exist; 25 October 02:00–03:00 happens twice
DST_CASES: list[tuple[str, datetime, datetime]] = [
    ("tomorrow 10:00", SPRING, datetime(2026, 3, 29, 8, 0, tzinfo=UTC)),  # CEST, +2
    ("tomorrow 2:30", SPRING, datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),  # gap: 03:30 CEST
    ("in 1 day", SPRING, datetime(2026, 3, 29, 8, 0, tzinfo=UTC)),  # same clock time
    ("in 24 hours", SPRING, datetime(2026, 3, 29, 9, 0, tzinfo=UTC)),  # exact: 11:00 CEST
    ("明天上午10点", SPRING, datetime(2026, 3, 29, 8, 0, tzinfo=UTC)),
    ("tomorrow 10:00", AUTUMN, datetime(2026, 10, 25, 9, 0, tzinfo=UTC)),  # CET, +1
    ("tomorrow 2:30", AUTUMN, datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # first (CEST)
    ("in 24 hours", AUTUMN, datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),  # 09:00 CET
    ("2026-10-25 03:00", AUTUMN, datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
]


def is_utc(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("text", "now", "tz", "expected"), CASES)
def test_accepted_forms(text: str, now: datetime, tz: ZoneInfo, expected: datetime) -> None:
    for lang in ("en", "zh"):
        moment = parse_when(text, now=now, tz=tz, lang=lang)
        assert is_utc(moment)
        assert moment.astimezone(tz).replace(tzinfo=None) == expected


@pytest.mark.parametrize(("text", "now", "expected"), DST_CASES)
def test_daylight_saving_in_berlin(text: str, now: datetime, expected: datetime) -> None:
    moment = parse_when(text, now=now, tz=BERLIN, lang="en")
    assert is_utc(moment) and moment == expected


def test_a_minute_late_is_still_accepted() -> None:
    now = NOW + timedelta(seconds=50)  # 10:00:50
    assert parse_when("today 10:00", now=now, tz=SHANGHAI, lang="en") == NOW
    assert parse_when("in 0 minutes", now=now, tz=SHANGHAI, lang="en") == NOW


@pytest.mark.parametrize(
    "text",
    ["", "   ", "junk", "tomorrow tomorrow", "25:00", "13pm", "0am", "tomorrow 9:75",
     "2026-13-01", "2026-02-30", "02/30", "下午25点", "上午15点", "凌晨9点", "in hours",
     "monday friday", "明天 后天", "15", "3", "昨天", "asap", "0999-01-01", "0000-01-01",
     "9" * 200, "tomorrow " * 30, "in -3 days", "凌晨"],
)  # fmt: skip
def test_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(FieldError) as refusal:
        parse_when(text, now=NOW, tz=SHANGHAI, lang="en")
    assert refusal.value.key == "when.unknown"


@pytest.mark.parametrize(
    ("text", "shown_en", "shown_zh"),
    [("today 9:00", "Thu 26 Nov, 09:00 (Beijing time)", "11月26日（周四）09:00（北京时间）"),
     ("2026-11-20 14:00", "Fri 20 Nov, 14:00 (Beijing time)", "11月20日（周五）14:00（北京时间）"),
     ("这周一", "Mon 23 Nov, 09:00 (Beijing time)", "11月23日（周一）09:00（北京时间）"),
     ("今天上午8点", "Thu 26 Nov, 08:00 (Beijing time)", "11月26日（周四）08:00（北京时间）"),
     ("1999-01-01", "Fri 1 Jan 1999, 09:00 (Beijing time)",
      "1999年1月1日（周五）09:00（北京时间）")],
)  # fmt: skip
@time_machine.travel(NOW, tick=False)  # "this year", whose dates are shown without it
def test_refuses_the_past_and_shows_what_it_understood(
    text: str, shown_en: str, shown_zh: str
) -> None:
    for lang, shown in (("en", shown_en), ("zh", shown_zh)):
        with pytest.raises(FieldError) as refusal:
            parse_when(text, now=NOW, tz=SHANGHAI, lang=lang)
        assert refusal.value.key == "when.past"
        assert refusal.value.values == {"shown": shown}
        assert shown in t(lang, "when.past", **refusal.value.values)


@pytest.mark.parametrize(
    "text",
    ["2031-11-27", "2032-01-01 10:00", "9999-12-31", "in 2000 days", "in 99999999 minutes",
     "in 999999999 hours", "3000天后", "400周后", "100000小时后"],
)  # fmt: skip
def test_refuses_too_far(text: str) -> None:
    with pytest.raises(FieldError) as refusal:
        parse_when(text, now=NOW, tz=SHANGHAI, lang="zh")
    assert refusal.value.key == "when.too_far"


def test_five_years_is_fine() -> None:
    moment = parse_when("2031-11-26 9:00", now=NOW, tz=SHANGHAI, lang="en")
    assert moment == datetime(2031, 11, 26, 1, 0, tzinfo=UTC)


@time_machine.travel(NOW, tick=False)
def test_format_echo() -> None:
    """Chinese dates as Chinese write them, the zone in words; the year only when it is
    not this one."""
    moment = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)
    assert format_echo(moment, "en", SHANGHAI) == "Thu 3 Dec, 09:30 (Beijing time)"
    assert format_echo(moment, "zh", SHANGHAI) == "12月3日（周四）09:30（北京时间）"
    assert format_echo(moment, "zh", BERLIN) == "12月3日（周四）02:30（中欧时间）"
    assert format_echo(moment, "en", BERLIN) == "Thu 3 Dec, 02:30 (Central European Time)"
    next_year = datetime(2027, 1, 5, 1, 0, tzinfo=UTC)
    assert format_echo(next_year, "zh", SHANGHAI) == "2027年1月5日（周二）09:00（北京时间）"
    assert format_echo(next_year, "en", SHANGHAI) == "Tue 5 Jan 2027, 09:00 (Beijing time)"
    assert format_echo(moment, "zh", ZoneInfo("UTC")) == "12月3日（周四）01:30（协调世界时）"


def test_messages_exist_in_both_languages() -> None:
    for lang in ("en", "zh"):
        for key in ("when.unknown", "when.past", "when.too_far"):
            assert t(lang, key, shown="x") != key
    assert "{shown}" not in t("zh", "when.past", shown="x")


# ---------------------------------------------------------------- totality

ZONES = st.sampled_from(
    [SHANGHAI, BERLIN, NEW_YORK, ZoneInfo("UTC"), ZoneInfo("Pacific/Kiritimati"),
     ZoneInfo("Pacific/Pago_Pago"), ZoneInfo("Australia/Lord_Howe")]
)  # fmt: skip
NOWS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
)
FRAGMENTS = st.sampled_from(
    ["today", "tomorrow", "in", "2", "30", "999999", "hours", "minutes", "days", "next",
     "monday", "fri", "noon", "3pm", "12am", "9:30", "24:00", "23:59", "2026-12-03", "12/3",
     "02/29", "dec", "3rd", "明天", "后天", "下午", "晚上", "凌晨", "中午", "3点", "12点",
     "半", "15分", "下周一", "下下周日", "这周三", "周五", "星期天", "小时后", "天后", "分钟后",
     "12月3日", "２月２９号", "１５：００", "十二", "点", "后", " ", "T", ":", "-", "/"]
)  # fmt: skip


def check_total(text: str, now: datetime, tz: ZoneInfo) -> None:
    try:
        moment = parse_when(text, now=now, tz=tz, lang="zh")
    except FieldError as refusal:
        assert refusal.key in {"when.unknown", "when.past", "when.too_far"}
        if refusal.key == "when.past":
            assert isinstance(refusal.values["shown"], str)
    else:
        assert is_utc(moment)
        assert now - timedelta(minutes=1) <= moment <= now + timedelta(days=366 * 5)


@given(st.text(max_size=60), NOWS, ZONES)
def test_any_text_gives_a_moment_or_a_refusal(text: str, now: datetime, tz: ZoneInfo) -> None:
    check_total(text, now, tz)


@settings(max_examples=300)
@given(st.lists(FRAGMENTS, max_size=5).map("".join), NOWS, ZONES)
def test_near_misses_give_a_moment_or_a_refusal(text: str, now: datetime, tz: ZoneInfo) -> None:
    check_total(text, now, tz)


@settings(max_examples=300)
@given(st.lists(FRAGMENTS, max_size=5).map(" ".join), NOWS, ZONES)
def test_spaced_fragments_give_a_moment_or_a_refusal(
    text: str, now: datetime, tz: ZoneInfo
) -> None:
    check_total(text, now, tz)
