"""Catalogue files in the chat: an admin sends a .csv/.xlsx/.yaml to import, /export to get one.

The admin check is read from the database on every update (see handlers/admin.py): a
document can be sent by anyone.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from html import escape

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.catalog.files import (
    ACCEPTED,
    MAX_BYTES,
    FileError,
    FileFormat,
    detect_format,
    write_rows,
)
from bot.catalog.imports import ImportReport, export_rows, import_programs, render
from bot.catalog.safe_reader import read_rows_safely
from bot.context import BotContext
from bot.people import roles as access
from bot.people.roles import Act
from bot.ui import screens as views
from bot.ui.i18n import t
from bot.ui.text import Plain, fit_lines, tr
from handlers import guard
from handlers.render import reply

MAX_ERROR_LINES = 30  # a report lists at most this many problems (as many as fit)
EXPORT_FORMATS = {f.value: f for f in FileFormat} | {"yml": FileFormat.YAML}


def report_text(report: ImportReport, name: str, fmt: FileFormat, lang: str) -> str:
    if report.ok:
        return tr(
            lang,
            "files.report_ok",
            name=Plain(name),
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            departments=report.departments_created,
        ).fit()
    label = "files.item" if fmt is FileFormat.YAML else "files.row"
    head = tr(
        lang, "files.report_rejected", name=Plain(name), bad=report.bad_rows, total=report.rows
    )
    lines = [
        t(lang, label, row=error.row, reason=error.text(lang, html=True))
        for error in report.errors[:MAX_ERROR_LINES]
    ]
    return fit_lines(
        head + "\n",
        lines,
        more=lambda n: t(lang, "files.more", count=n),
        hidden=len(report.errors) - len(lines),
    )


async def on_document(update: Update, context: BotContext) -> None:
    person = context.sender
    message = update.effective_message
    document = message.document if message is not None else None
    if document is None:
        return
    if not access.allowed(person, Act.MANAGE_CATALOG):
        await reply(update, views.with_menu(person, access.refusal_key(Act.MANAGE_CATALOG)))
        return
    lang = person.language
    name = document.file_name or "file"
    fmt = detect_format(name)
    if fmt is None:
        await reply(update, views.Screen(t(lang, "files.wrong_type", formats=escape(ACCEPTED))))
        return
    if document.file_size is not None and document.file_size > MAX_BYTES:
        reason = render("files.too_big", {"limit": MAX_BYTES // (1024 * 1024)}, lang)
        await reply(
            update, views.Screen(t(lang, "files.file_rejected", name=escape(name), reason=reason))
        )
        return
    try:
        data = bytes(await (await document.get_file()).download_as_bytearray())
    except TelegramError:
        await reply(update, views.Screen(t(lang, "files.download_failed")))
        return
    try:
        # In a separate process with time and memory limits: other chats keep getting
        # answers meanwhile, and a hostile file costs only that process.
        table = await read_rows_safely(data, fmt)
    except FileError as exc:
        reason = render(exc.key, exc.values, lang, html=True)
        await reply(
            update, views.Screen(t(lang, "files.file_rejected", name=escape(name), reason=reason))
        )
        return
    async with context.db() as session:
        # Nothing is written when any row is rejected, so the commit at the end of the
        # unit of work commits nothing in that case.
        report = await import_programs(session, table.rows, actor_id=person.id, source=name)
    await reply(update, views.Screen(report_text(report, name, fmt, lang)))


@guard.command(Act.MANAGE_CATALOG)
async def export_command(update: Update, context: BotContext) -> None:
    person = context.sender
    lang = person.language
    choice = context.args[0].lower().lstrip(".") if context.args else "xlsx"
    fmt = EXPORT_FORMATS.get(choice)
    chat = update.effective_chat
    if fmt is None or chat is None:
        await reply(update, views.Screen(t(lang, "files.export_usage")))
        return
    async with context.db() as session:
        rows = await export_rows(session)
    data = await asyncio.to_thread(write_rows, rows, fmt)
    stamp = datetime.now(context.settings.tz).strftime("%Y%m%d-%H%M")
    await chat.send_document(
        document=data,
        filename=f"programs-{stamp}.{fmt.value}",
        caption=t(lang, "files.export_caption", count=len(rows)),
    )


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("export", export_command, filters=private),
        MessageHandler(private & filters.UpdateType.MESSAGE & filters.Document.ALL, on_document),
    ]
