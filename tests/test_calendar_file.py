"""Next steps as an .ics file: read the bytes back with icalendar and check every event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component

from bot.next_steps.calendar import CalendarItem, steps_to_ics

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)

ITEMS = [
    CalendarItem(
        uid="12", title="发送合作协议草案",
        description="请在周四前把协议草案发给企业；附件见链接, 谢谢\n第二行",
        due_utc=datetime(2026, 12, 3, 1, 30, tzinfo=UTC), url="https://example.org/steps/12",
        done=False,
    ),
    CalendarItem(
        uid="7", title="Visit the lab", description="Bring the NDA.",
        due_utc=datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI), url=None, done=False,
    ),
    CalendarItem(
        uid="9", title="Already done", description="", due_utc=datetime(2026, 11, 27, tzinfo=UTC),
        url=None, done=True,
    ),
]  # fmt: skip


def parse(data: bytes) -> Calendar:
    return Calendar.from_ical(data)


def events(calendar: Calendar) -> dict[str, Component]:
    return {str(e["uid"]): e for e in calendar.walk("VEVENT")}


def test_calendar_properties() -> None:
    data = steps_to_ics(ITEMS, calendar_name="校企合作 · 后续事项", tz=SHANGHAI, now=NOW)
    assert data.startswith(b"BEGIN:VCALENDAR\r\n") and data.endswith(b"END:VCALENDAR\r\n")
    calendar = parse(data)
    assert str(calendar["prodid"]) == "-//partnerbot//next steps//EN"
    assert str(calendar["version"]) == "2.0"
    assert str(calendar["x-wr-calname"]) == "校企合作 · 后续事项"
    assert str(calendar["x-wr-timezone"]) == "Asia/Shanghai"


def test_one_event_per_open_step_and_done_ones_left_out() -> None:
    calendar = parse(steps_to_ics(ITEMS, calendar_name="Next steps", tz=SHANGHAI, now=NOW))
    found = events(calendar)
    assert set(found) == {"next-step-12@partnerbot", "next-step-7@partnerbot"}
    assert [str(e["uid"]) for e in calendar.walk("VEVENT")] == [
        "next-step-7@partnerbot", "next-step-12@partnerbot",
    ]  # fmt: skip  # soonest first
    assert b"Already done" not in steps_to_ics(ITEMS, calendar_name="x", tz=SHANGHAI, now=NOW)


def test_event_times_are_utc() -> None:
    found = events(parse(steps_to_ics(ITEMS, calendar_name="x", tz=SHANGHAI, now=NOW)))
    first, second = found["next-step-12@partnerbot"], found["next-step-7@partnerbot"]
    start = first.decoded("dtstart")
    assert start == datetime(2026, 12, 3, 1, 30, tzinfo=UTC)
    assert start.utcoffset() == timedelta(0)
    assert second.decoded("dtstart") == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    assert second.decoded("dtstart").utcoffset() == timedelta(0)
    assert first.decoded("duration") == timedelta(minutes=30)
    assert first.decoded("dtstamp") == NOW
    assert str(first["status"]) == "CONFIRMED"
    raw = steps_to_ics(ITEMS, calendar_name="x", tz=SHANGHAI, now=NOW)
    assert b"DTSTART:20261203T013000Z" in raw and b"DTSTART:20261130T020000Z" in raw


def test_alarm_an_hour_before() -> None:
    found = events(parse(steps_to_ics(ITEMS, calendar_name="x", tz=SHANGHAI, now=NOW)))
    for event in found.values():
        alarms = event.walk("VALARM")
        assert len(alarms) == 1
        alarm = alarms[0]
        assert str(alarm["action"]) == "DISPLAY"
        assert alarm.decoded("trigger") == timedelta(hours=-1)
        assert str(alarm["description"]) == str(event["summary"])


def test_text_roundtrips_including_chinese() -> None:
    found = events(parse(steps_to_ics(ITEMS, calendar_name="x", tz=SHANGHAI, now=NOW)))
    event = found["next-step-12@partnerbot"]
    assert str(event["summary"]) == "发送合作协议草案"
    assert str(event["description"]) == "请在周四前把协议草案发给企业；附件见链接, 谢谢\n第二行"
    assert str(event["url"]) == "https://example.org/steps/12"
    other = found["next-step-7@partnerbot"]
    assert str(other["summary"]) == "Visit the lab" and "url" not in other


def test_long_lines_are_folded_but_read_back_whole() -> None:
    long = "很长的说明。" * 40
    item = CalendarItem("1", "标题", long, datetime(2026, 12, 1, tzinfo=UTC), None, False)
    data = steps_to_ics([item], calendar_name="x", tz=SHANGHAI, now=NOW)
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))
    assert str(events(parse(data))["next-step-1@partnerbot"]["description"]) == long


def test_no_open_steps_is_an_empty_calendar() -> None:
    done = [i for i in ITEMS if i.done]
    calendar = parse(steps_to_ics(done, calendar_name="x", tz=SHANGHAI, now=NOW))
    assert calendar.walk("VEVENT") == []
    assert str(calendar["prodid"]) == "-//partnerbot//next steps//EN"


def test_other_offsets_are_written_in_utc() -> None:
    due = datetime(2026, 12, 1, 9, 0, tzinfo=timezone(timedelta(hours=-5)))
    item = CalendarItem("2", "Call", "", due, None, False)
    data = steps_to_ics([item], calendar_name="x", tz=ZoneInfo("America/New_York"), now=NOW)
    assert b"DTSTART:20261201T140000Z" in data


def test_naive_due_is_taken_as_utc() -> None:  # SQLite hands DateTime columns back naive
    item = CalendarItem("3", "Call", "", datetime(2026, 12, 1, 9, 0), None, False)
    data = steps_to_ics([item], calendar_name="x", tz=SHANGHAI, now=NOW)
    assert b"DTSTART:20261201T090000Z" in data


def test_default_stamp_is_now() -> None:
    item = CalendarItem("4", "Call", "", datetime(2026, 12, 1, tzinfo=UTC), None, False)
    before = datetime.now(UTC).replace(microsecond=0)
    event = events(parse(steps_to_ics([item], calendar_name="x", tz=SHANGHAI)))
    stamp = event["next-step-4@partnerbot"].decoded("dtstamp")
    assert before <= stamp <= datetime.now(UTC)
