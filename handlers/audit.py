"""/audit: the trail of admin actions, newest first, ten a page, and its export.
Callback prefix `au:`.

Admins only, re-checked on every command and button (buttons can be forged). Private
chats only: the trail names people.

Callback data:
  au:p[:<top id>]   the page whose newest entry is the newest with id <= top (keyset)
  au:x              export everything as a CSV and an XLSX document
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.catalog.files import FileFormat
from bot.context import BotContext
from bot.people import audit
from bot.people.audit import AuditPage
from bot.people.person import Person
from bot.people.roles import Act, Refused
from bot.ui import screens as views
from bot.ui.callbacks import Callback, cb
from bot.ui.i18n import format_time, t
from bot.ui.text import KEEP, Html, Plain, bold, italic
from handlers import guard
from handlers.render import answer, reply, show
from storage.models import AuditEntry

NAME_CHARS = 48  # of an actor's name; the export has names and details whole


def entry_text(lang: str, entry: AuditEntry, page: AuditPage, tz: ZoneInfo) -> Html:
    """One entry; its detail (the longest first) gives way when the page is too long."""
    when = entry.at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    who = Plain(audit.actor_label(lang, entry.actor_id, page.actors, name_chars=NAME_CHARS))
    what = bold(Plain(audit.action_name(lang, entry.action), KEEP))
    if entry.subject:
        what += Html(" · ", Plain(entry.subject, KEEP))
    lines = [Html(f"<code>{when}</code> · ", who), what]
    if entry.detail:
        lines.append(italic(Plain(entry.detail)))
    return Html.join("\n", lines)


def page_screen(lang: str, page: AuditPage, tz: ZoneInfo) -> views.Screen:
    parts = [t(lang, "audit.title")]
    if not page.entries:
        parts.append(t(lang, "audit.empty"))
        return views.Screen("\n".join(parts))
    parts[0] += "\n" + t(
        lang, "audit.page", page=page.page, pages=page.pages, total=page.total, zone=tz.key
    )
    text = Html.join("\n\n", [*parts, *(entry_text(lang, e, page, tz) for e in page.entries)])
    nav = []
    if page.newer_top is not None:
        nav.append(views.button(lang, "btn.prev", cb("au", "p", page.newer_top)))
    if page.older_top is not None:
        nav.append(views.button(lang, "btn.next", cb("au", "p", page.older_top)))
    rows = [nav] if nav else []
    rows.append([views.button(lang, "audit.export_btn", cb("au", "x"))])
    return views.Screen(text.fit(), InlineKeyboardMarkup(rows))


@guard.command(Act.AUDIT)
async def audit_command(update: Update, context: BotContext) -> None:
    person = context.sender
    async with context.db(readonly=True) as session:
        found = await audit.page(session)
    await reply(update, page_screen(person.language, found, context.settings.tz))


@guard.button(Act.AUDIT)
async def on_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    if data.action == "x" and not data.args:
        await answer(update)
        await _export(update, context, person)
        return
    if data.action != "p" or len(data.args) > 1:
        raise Refused()  # not a button we make
    async with context.db(readonly=True) as session:
        found = await audit.page(session, data.int_arg(0))
    await answer(update)
    await show(update, page_screen(person.language, found, context.settings.tz))


async def _export(update: Update, context: BotContext, person: Person) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    lang, tz = person.language, context.settings.tz
    async with context.db() as session:
        rows = await audit.export_rows(session, lang, tz)
    now = datetime.now(UTC)
    caption = t(lang, "audit.export_caption", count=len(rows), time=format_time(now, lang, tz))
    for fmt in (FileFormat.CSV, FileFormat.XLSX):
        data = await asyncio.to_thread(audit.write_rows, rows, fmt)  # XLSX takes a moment
        await chat.send_document(
            document=data,
            filename=f"audit-{now.astimezone(tz):%Y%m%d-%H%M}.{fmt.value}",
            caption=caption,
        )


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("audit", audit_command, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(on_button, pattern=r"^au:"),
    ]
