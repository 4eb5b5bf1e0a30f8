"""Texts and buttons of next steps: reminders, the digest, the weekly overview, lists."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import cb
from bot.i18n import format_time, t
from bot.settings import Settings
from bot.views import Screen, button
from storage.models import Inquiry, NextStep, Reminder, StepStatus


def span(lang: str, delta: timedelta) -> str:
    """About how long: days from 23.5 hours, hours from 59.5 minutes, else minutes."""
    minutes = round(delta.total_seconds() / 60)
    if minutes >= 23.5 * 60:
        n, unit = round(minutes / 1440), "day"
    elif minutes >= 59.5:
        n, unit = round(minutes / 60), "hour"
    else:
        n, unit = max(1, minutes), "minute"
    return t(lang, f"span.{unit}" + ("s" if n != 1 else ""), n=n)


def reminder_keyboard(lang: str, step: NextStep) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                button(lang, "step.done_btn", cb("ns", "done", step.id)),
                button(lang, "step.snooze_h", cb("ns", "sn", step.id, "h")),
                button(lang, "step.snooze_d", cb("ns", "sn", step.id, "d")),
            ],
            [button(lang, "step.open_inquiry", cb("ns", "inq", step.inquiry_id))],
        ]
    )


def reminder(
    lang: str, step: NextStep, item: Reminder, inquiry: Inquiry | None, settings: Settings,
    *, merged: int, now: datetime,
) -> tuple[str, InlineKeyboardMarkup]:  # fmt: skip
    due = format_time(step.due_at, lang, settings.tz)
    title = escape(step.title)
    if step.due_at > now:
        head = t(
            lang, "step.remind_before", title=title, left=span(lang, step.due_at - now), due=due
        )
    elif now - step.due_at < timedelta(minutes=5):
        head = t(lang, "step.remind_due", title=title, due=due)
    else:
        days = max(1, int((now - step.due_at) / timedelta(days=1)))
        head = t(lang, "step.remind_overdue", title=title, due=due, n=days)
    lines = [head]
    if inquiry is not None:
        who = escape(inquiry.organization) if inquiry.organization else ""
        lines.append(t(lang, "step.for_inquiry", id=inquiry.id, who=who))
    if step.note:
        lines.append(t(lang, "step.note", note=escape(step.note)))
    if item.late:
        note = t(lang, "step.late", merged=merged) if merged else t(lang, "step.late_alone")
        lines.append("<i>" + note + "</i>")
    return "\n".join(lines), reminder_keyboard(lang, step)


def step_line(lang: str, step: NextStep, settings: Settings, now: datetime) -> str:
    mark = "⚠️" if step.due_at < now and step.status is StepStatus.OPEN else "•"
    when = format_time(step.due_at, lang, settings.tz)
    return f"{mark} {when} — {escape(step.title)} (#{step.inquiry_id})"


def digest(
    lang: str, steps: list[NextStep], settings: Settings, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    lines = [t(lang, "step.digest_head", n=len(steps))]
    lines += [step_line(lang, s, settings, now) for s in steps[:40]]
    keyboard = InlineKeyboardMarkup([[button(lang, "step.tasks_btn", cb("ns", "list"))]])
    return "\n".join(lines), keyboard


def weekly(
    lang: str, overdue: list[NextStep], names: dict[int, str], settings: Settings, now: datetime
) -> str:
    if not overdue:
        return t(lang, "step.weekly_none")
    lines = [t(lang, "step.weekly_head", n=len(overdue))]
    current = None
    for step in overdue[:80]:
        if step.owner_id != current:
            current = step.owner_id
            lines.append(f"\n<b>{escape(names.get(step.owner_id, str(step.owner_id)))}</b>")
        lines.append(step_line(lang, step, settings, now))
    return "\n".join(lines)[:4000]


def tasks(
    lang: str, steps: list[NextStep], settings: Settings, now: datetime, *, key: str
) -> Screen:
    if not steps:
        return Screen(t(lang, "step.none"))
    rows = [
        [
            InlineKeyboardButton(
                f"{'⚠️ ' if s.due_at < now else ''}{s.title[:40]}",
                callback_data=cb("ns", "view", s.id),
            )
        ]
        for s in steps[:30]
    ]
    text = (
        t(lang, key, n=len(steps))
        + "\n"
        + "\n".join(step_line(lang, s, settings, now) for s in steps[:30])
    )
    return Screen(text[:4000], InlineKeyboardMarkup(rows))


def step_screen(lang: str, step: NextStep, settings: Settings, now: datetime) -> Screen:
    lines = [
        f"<b>{escape(step.title)}</b>",
        t(lang, "step.due_line", due=format_time(step.due_at, lang, settings.tz)),
        t(lang, "step.status_line", status=t(lang, f"sstatus.{step.status.value}")),
        t(lang, "step.for_inquiry", id=step.inquiry_id, who=""),
    ]
    if step.note:
        lines.append(t(lang, "step.note", note=escape(step.note)))
    rows = []
    if step.status is StepStatus.OPEN:
        rows.append(
            [
                button(lang, "step.done_btn", cb("ns", "done", step.id)),
                button(lang, "step.move_btn", cb("ns", "move", step.id)),
                button(lang, "step.cancel_btn", cb("ns", "cancel", step.id)),
            ]
        )
    rows.append([button(lang, "step.open_inquiry", cb("ns", "inq", step.inquiry_id))])
    return Screen("\n".join(lines), InlineKeyboardMarkup(rows))
