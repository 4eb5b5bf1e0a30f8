"""Texts and buttons of next steps: reminders, the digest, the weekly overview, lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.settings import Settings
from bot.ui.callbacks import cb
from bot.ui.i18n import format_clock, format_time, t, zone_note
from bot.ui.screens import Screen, button
from bot.ui.text import (
    KEEP,
    TEXT_LIMIT,
    Html,
    Part,
    Plain,
    bold,
    clip_text,
    fit_lines,
    italic,
    plain_of,
    split_lines,
    tr,
    visible_len,
)
from storage.models import Inquiry, NextStep, Reminder, StepStatus

BUTTON_TITLE_CHARS = 40
TASK_BUTTONS = 30  # a list shows this many steps as buttons (and as many lines as fit)
WEEKLY_MESSAGES = 5  # the weekly overview spreads over at most this many messages


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
    title = Plain(step.title, KEEP)
    if step.due_at > now:
        head = tr(
            lang, "step.remind_before", title=title, left=span(lang, step.due_at - now), due=due
        )
    elif now - step.due_at < timedelta(minutes=5):
        head = tr(lang, "step.remind_due", title=title, due=due)
    else:
        days = max(1, int((now - step.due_at) / timedelta(days=1)))
        head = tr(lang, "step.remind_overdue", title=title, due=due, n=days)
    lines: list[Part] = [head]
    if inquiry is not None:
        who: Part = Plain(inquiry.organization) if inquiry.organization else ""
        lines.append(tr(lang, "step.for_inquiry", id=inquiry.id, who=who))
    if step.note:
        lines.append(tr(lang, "step.note", note=Plain(step.note)))
    if item.late:
        note = t(lang, "step.late", merged=merged) if merged else t(lang, "step.late_alone")
        lines.append(italic(note))
    return Html.join("\n", lines).fit(), reminder_keyboard(lang, step)


def step_line(lang: str, step: NextStep, settings: Settings, now: datetime) -> Html:
    mark = "⚠️" if step.due_at < now and step.status is StepStatus.OPEN else "•"
    when = format_clock(step.due_at, lang, settings.tz)  # the list's head names the zone
    return Html(f"{mark} {when} — ", Plain(step.title), f" (#{step.inquiry_id})")


def _head(lang: str, text: str, settings: Settings) -> str:
    """A list's head, with the zone of its times said once."""
    return f"{text}\n{zone_note(lang, settings.tz)}"


QUIET_IN_DIGEST = 10  # quiet inquiries listed by name; the rest are counted


def digest(
    lang: str, steps: list[NextStep], settings: Settings, now: datetime,
    *, quiet: Sequence[tuple[Inquiry, datetime]] = (), missed_at: datetime | None = None,
) -> tuple[str, InlineKeyboardMarkup]:  # fmt: skip
    """One message: the steps in due order, as many as fit, then how many more (the
    button lists them all); under them the person's quiet inquiries (bot/inquiries/
    stale.py), the first QUIET_IN_DIGEST; a digest sent late says when it was due."""
    head: Part = _head(
        lang,
        t(lang, "step.digest_head", n=len(steps)) if steps else t(lang, "quiet.digest_morning"),
        settings,
    )
    if missed_at is not None:
        clock = missed_at.astimezone(settings.tz).strftime("%H:%M")
        head = Html(head, "\n", italic(t(lang, "quiet.digest_missed", time=clock)))
    text = fit_lines(
        head,
        [step_line(lang, s, settings, now) for s in steps],
        more=lambda n: t(lang, "list.more_tasks", n=n),
        foot=_quiet_section(lang, quiet, settings, now),
    )
    keyboard = InlineKeyboardMarkup([[button(lang, "step.tasks_btn", cb("ns", "list"))]])
    return text, keyboard


def _quiet_section(
    lang: str, quiet: Sequence[tuple[Inquiry, datetime]], settings: Settings, now: datetime
) -> Part:
    if not quiet:
        return ""
    lines: list[Part] = [
        "",
        t(lang, "quiet.digest_section", n=len(quiet), days=settings.stale_days),
    ]
    for inquiry, last_at in quiet[:QUIET_IN_DIGEST]:
        org = clip_text(inquiry.organization, BUTTON_TITLE_CHARS)
        who: Part = Plain(org, KEEP) if org else t(lang, "quiet.no_org")
        days = max(settings.stale_days, int((now - last_at) / timedelta(days=1)))
        lines.append(tr(lang, "quiet.digest_line", id=inquiry.id, who=who, n=days))
    if len(quiet) > QUIET_IN_DIGEST:
        lines.append(t(lang, "list.more", n=len(quiet) - QUIET_IN_DIGEST))
    return Html.join("\n", lines)


def weekly(
    lang: str, overdue: list[NextStep], names: dict[int, str], settings: Settings, now: datetime
) -> list[str]:
    """The admins' overview, per owner: several messages when it is long (at most
    WEEKLY_MESSAGES, the last saying how many more)."""
    if not overdue:
        return [t(lang, "step.weekly_none")]
    lines: list[Part] = []
    current = None
    for step in overdue:
        line = step_line(lang, step, settings, now)
        if step.owner_id != current:  # the owner's name travels with their first step
            current = step.owner_id
            name = Plain(names.get(step.owner_id, str(step.owner_id)), KEEP)
            line = Html("\n", bold(name), "\n", line)
        lines.append(line)
    return split_lines(
        _head(lang, t(lang, "step.weekly_head", n=len(overdue)), settings), lines,
        more=lambda n: t(lang, "list.more", n=n), max_messages=WEEKLY_MESSAGES,
    )  # fmt: skip


def tasks(
    lang: str, steps: list[NextStep], settings: Settings, now: datetime, *, key: str
) -> Screen:
    if not steps:
        return Screen(t(lang, "step.none"))
    rows = [
        [
            InlineKeyboardButton(
                f"{'⚠️ ' if s.due_at < now else ''}{clip_text(s.title, BUTTON_TITLE_CHARS)}",
                callback_data=cb("ns", "view", s.id),
            )
        ]
        for s in steps[:TASK_BUTTONS]
    ]
    text = fit_lines(
        _head(lang, t(lang, key, n=len(steps)), settings),
        [step_line(lang, s, settings, now) for s in steps],
        more=lambda n: t(lang, "list.more", n=n),
    )
    return Screen(text, InlineKeyboardMarkup(rows))


def with_steps(
    lang: str, card: Html, steps: list[NextStep], settings: Settings, now: datetime
) -> str:
    """An inquiry's card followed by its next steps (as many as fit, then how many more)."""
    if not steps:
        return card.fit()
    return fit_lines(
        Html(card, "\n\n", _head(lang, t(lang, "step.of_inquiry"), settings)),
        [step_line(lang, s, settings, now) for s in steps],
        more=lambda n: t(lang, "list.more", n=n),
    )


def step_screen(lang: str, step: NextStep, settings: Settings, now: datetime) -> Screen:
    lines: list[Part] = [
        bold(Plain(step.title, KEEP)),
        t(lang, "step.due_line", due=format_time(step.due_at, lang, settings.tz)),
        t(lang, "step.status_line", status=t(lang, f"sstatus.{step.status.value}")),
        t(lang, "step.for_inquiry", id=step.inquiry_id, who=""),
    ]
    if step.note:
        lines.append(tr(lang, "step.note", note=Plain(step.note)))
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
    return Screen(Html.join("\n", lines).fit(), InlineKeyboardMarkup(rows))


def stamped(text_html: str, note: str) -> str:
    """A reminder (or step) message with what was done written under it; the note is
    ours and short, so the text above gives way should the two not fit together."""
    room = TEXT_LIMIT - visible_len(note) - 2
    kept = (
        text_html if visible_len(text_html) <= room else Html(Plain(plain_of(text_html))).fit(room)
    )
    return f"{kept}\n\n{note}"
