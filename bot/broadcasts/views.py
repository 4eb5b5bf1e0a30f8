"""The admin's side of an announcement: the control message, live progress, the list."""

from __future__ import annotations

from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.broadcasts.service import Progress, segment_label
from bot.settings import Settings
from bot.ui.callbacks import cb
from bot.ui.i18n import format_time, t
from bot.ui.screens import Screen, button
from bot.ui.text import Part, Plain, clip_text, fit_lines, tr
from storage.models import Broadcast, BroadcastStatus

PREVIEW_CHARS = 40  # of an announcement's text (as typed, HTML and all) in the list


def control(lang: str, broadcast: Broadcast, recipients: int) -> Screen:
    audience = Plain(segment_label(lang, broadcast.segment))
    text = tr(lang, "bc.control", n=recipients, audience=audience).fit()
    keyboard = InlineKeyboardMarkup(
        [
            [button(lang, "bc.send_now", cb("bc", "go", broadcast.id))],
            [
                button(lang, "bc.schedule", cb("bc", "sched", broadcast.id)),
                button(lang, "bc.cancel", cb("bc", "cancel", broadcast.id)),
            ],
        ]
    )
    return Screen(text, keyboard)


def progress(lang: str, report: Progress, settings: Settings, now: datetime) -> Screen:
    b = report.broadcast
    key = {
        BroadcastStatus.DONE: "bc.report_done",
        BroadcastStatus.CANCELLED: "bc.report_cancelled",
        BroadcastStatus.PAUSED: "bc.report_paused",
    }.get(b.status, "bc.report_sending")
    left = ""
    if report.rate > 0 and report.remaining and b.status is BroadcastStatus.SENDING:
        left = t(lang, "bc.time_left", s=int(report.remaining / report.rate) + 1)
    text = t(
        lang, key, id=b.id, total=b.total, sent=report.sent, failed=report.failed,
        blocked=report.blocked, remaining=report.remaining, cancelled=report.cancelled,
        rate=f"{report.rate:.1f}", left=left,
    )  # fmt: skip
    rows = []
    if b.status is BroadcastStatus.SENDING:
        rows.append(
            [
                button(lang, "bc.pause", cb("bc", "pause", b.id)),
                button(lang, "bc.cancel", cb("bc", "cancel", b.id)),
            ]
        )
    elif b.status is BroadcastStatus.PAUSED:
        rows.append(
            [
                button(lang, "bc.resume", cb("bc", "resume", b.id)),
                button(lang, "bc.cancel", cb("bc", "cancel", b.id)),
            ]
        )
    elif report.failed or report.blocked:
        rows.append([button(lang, "bc.failed_btn", cb("bc", "failed", b.id))])
    del settings, now
    return Screen(text, InlineKeyboardMarkup(rows) if rows else None)


def scheduled(lang: str, broadcast: Broadcast, settings: Settings) -> Screen:
    """Where a scheduled announcement stands, with what can still be done to it."""
    assert broadcast.scheduled_at is not None
    text = t(
        lang,
        "bc.scheduled",
        id=broadcast.id,
        time=format_time(broadcast.scheduled_at, lang, settings.tz),
    )
    b = broadcast.id
    keyboard = InlineKeyboardMarkup(
        [
            [button(lang, "bc.send_now", cb("bc", "go", b))],
            [
                button(lang, "bc.reschedule", cb("bc", "sched", b)),
                button(lang, "bc.cancel", cb("bc", "cancel", b)),
            ],
        ]
    )
    return Screen(text, keyboard)


def _numbered(lang: str, key: str, action: str, b: Broadcast) -> InlineKeyboardButton:
    """A list button: the list holds several announcements, so each says whose it is."""
    return InlineKeyboardButton(t(lang, key, id=b.id), callback_data=cb("bc", action, b.id))


def _manage_rows(lang: str, b: Broadcast) -> list[list[InlineKeyboardButton]]:
    """A scheduled one in the list: open, send now, reschedule, cancel."""
    return [
        [_numbered(lang, "bc.list_open", "open", b), _numbered(lang, "bc.list_send_now", "go", b)],
        [
            _numbered(lang, "bc.list_reschedule", "sched", b),
            _numbered(lang, "bc.list_cancel", "cancel", b),
        ],
    ]


def listing(lang: str, rows: list[tuple[Broadcast, dict[str, int]]], settings: Settings) -> Screen:
    if not rows:
        return Screen(t(lang, "bc.none"))
    lines: list[Part] = []
    buttons = []
    for b, counts in rows:
        when = format_time(b.started_at or b.scheduled_at or b.created_at, lang, settings.tz)
        status = t(lang, f"bcstatus.{b.status.value}")
        failed = counts.get("failed", 0) + counts.get("blocked", 0)
        lines.append(
            tr(lang, "bc.list_line", id=b.id, when=when, status=status, sent=counts.get("sent", 0),
               total=b.total, failed=failed, text=Plain(clip_text(b.text, PREVIEW_CHARS)))
        )  # fmt: skip
        if b.status is BroadcastStatus.SCHEDULED:
            buttons.extend(_manage_rows(lang, b))
            continue
        row = [_numbered(lang, "bc.list_open", "open", b)]
        if failed:
            row.append(InlineKeyboardButton(f"⬇️ #{b.id}", callback_data=cb("bc", "failed", b.id)))
        buttons.append(row)
    text = fit_lines(t(lang, "bc.list_head"), lines, more=lambda n: t(lang, "list.more", n=n))
    return Screen(text, InlineKeyboardMarkup(buttons))
