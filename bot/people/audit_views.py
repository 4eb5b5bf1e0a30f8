"""The audit trail's screens (/audit): pages of entries, newest first.

Callback data:
  au:p[:<top id>]   the page whose newest entry is the newest with id <= top (keyset)
  au:x              export everything as a CSV and an XLSX document
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup

from bot.people import audit
from bot.people.audit import AuditPage
from bot.ui import screens as views
from bot.ui.callbacks import cb
from bot.ui.i18n import format_clock, t, zone_name
from bot.ui.text import KEEP, Html, Plain, bold, italic
from storage.models import AuditEntry

NAME_CHARS = 48  # of an actor's name; the export has names and details whole


def entry_text(lang: str, entry: AuditEntry, page: AuditPage, tz: ZoneInfo) -> Html:
    """One entry; its detail (the longest first) gives way when the page is too long."""
    when = format_clock(entry.at, lang, tz)  # the page head names the zone
    who = Plain(audit.actor_label(lang, entry.actor_id, page.actors, name_chars=NAME_CHARS))
    what = bold(Plain(audit.action_name(lang, entry.action), KEEP))
    if entry.subject:
        what += Html(" · ", Plain(entry.subject, KEEP))
    lines = [Html(f"<code>{when}</code> · ", who), what]
    if entry.detail:
        lines.append(italic(Plain(audit.shown_detail(lang, entry.detail, tz))))
    return Html.join("\n", lines)


def page_screen(lang: str, page: AuditPage, tz: ZoneInfo) -> views.Screen:
    parts = [t(lang, "audit.title")]
    if not page.entries:
        parts.append(t(lang, "audit.empty"))
        return views.Screen("\n".join(parts))
    zone = zone_name(lang, tz)
    parts[0] += "\n" + t(
        lang, "audit.page", page=page.page, pages=page.pages, total=page.total, zone=zone
    )
    text = Html.join("\n\n", [*parts, *(entry_text(lang, e, page, tz) for e in page.entries)])
    rows = views.pager(
        lang,
        cb("au", "p", page.newer_top) if page.newer_top is not None else None,
        cb("au", "p", page.older_top) if page.older_top is not None else None,
    )
    rows.append([views.button(lang, "audit.export_btn", cb("au", "x"))])
    return views.Screen(text.fit(), InlineKeyboardMarkup(rows))
