"""Next steps as an iCalendar (.ics) file that any calendar app can import.

One VEVENT per open step: it starts at the step's due moment (written in UTC, so no
VTIMEZONE is needed), lasts 30 minutes and carries a display alarm an hour before. The
UID is stable (`next-step-<uid>@partnerbot`), so importing a newer file updates the
events instead of duplicating them. Done steps are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event

PRODID: Final = "-//partnerbot//next steps//EN"
DURATION: Final = timedelta(minutes=30)
ALARM_BEFORE: Final = timedelta(hours=1)


@dataclass(frozen=True)
class CalendarItem:
    uid: str  # stable per step, e.g. the step's id
    title: str
    description: str
    due_utc: datetime  # aware (a naive value is taken as UTC)
    url: str | None = None
    done: bool = False


def event_uid(uid: str) -> str:
    return f"next-step-{uid}@partnerbot"


def _utc(moment: datetime) -> datetime:
    """Aware moments are converted; a naive one (SQLite gives those back) is taken as UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def _event(item: CalendarItem, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", event_uid(item.uid))
    event.add("dtstamp", stamp)
    event.add("dtstart", _utc(item.due_utc))
    event.add("duration", DURATION)
    event.add("summary", item.title)
    if item.description:
        event.add("description", item.description)
    if item.url:
        event.add("url", item.url)
    event.add("status", "CONFIRMED")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", item.title)
    alarm.add("trigger", -ALARM_BEFORE)
    event.add_component(alarm)
    return event


def steps_to_ics(
    steps: Sequence[CalendarItem], *, calendar_name: str, tz: ZoneInfo,
    now: datetime | None = None,
) -> bytes:  # fmt: skip
    """The open steps (soonest first) as the bytes of an .ics file (UTF-8, CRLF lines).

    `now` is the DTSTAMP of every event (when the file was made); it defaults to now.
    """
    stamp = _utc(now or datetime.now(UTC))
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", calendar_name)
    calendar.add("x-wr-timezone", tz.key)
    open_steps = sorted((s for s in steps if not s.done), key=lambda s: (s.due_utc, s.uid))
    for item in open_steps:
        calendar.add_component(_event(item, stamp))
    data: bytes = calendar.to_ical()
    return data
