"""Catalogue files in the chat: an admin sends a .csv/.xlsx/.yaml to import, /export to
get one. The permission path decides (a document can be sent by anyone)."""

from __future__ import annotations

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.catalog import transfer
from bot.catalog import views as catalog_views
from bot.context import BotContext
from bot.formats.spreadsheets import FileError
from bot.people import roles as access
from bot.people.roles import Act
from bot.ui import screens as views
from bot.ui.i18n import t
from handlers import guard
from handlers.render import reply, send_file


async def on_document(update: Update, context: BotContext) -> None:
    person = context.sender
    message = update.effective_message
    document = message.document if message is not None else None
    if document is None:
        return
    lang = person.language
    name = document.file_name or "file"
    try:
        fmt = transfer.accept_upload(person, name, document.file_size)
        try:
            data = bytes(await (await document.get_file()).download_as_bytearray())
        except TelegramError:
            await reply(update, views.Screen(t(lang, "files.download_failed")))
            return
        table = await transfer.read_upload(data, fmt)
    except access.Refused:
        await reply(update, views.with_menu(person, access.refusal_key(Act.MANAGE_CATALOG)))
        return
    except FileError as refused:
        await reply(update, catalog_views.upload_refused(lang, name, refused))
        return
    async with context.db(write=True) as session:
        report = await transfer.import_table(session, person, table, name)
    await reply(update, catalog_views.import_report(report, name, fmt, lang))


@guard.command(Act.MANAGE_CATALOG)
async def export_command(update: Update, context: BotContext) -> None:
    person = context.sender
    async with context.db() as session:
        made = await transfer.export(
            session, person, context.args[0] if context.args else "xlsx", context.settings.tz,
            context.now(),
        )  # fmt: skip
    await send_file(update, made, t(person.language, "files.export_caption", count=made.count))


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("export", export_command, filters=private),
        MessageHandler(private & filters.UpdateType.MESSAGE & filters.Document.ALL, on_document),
    ]
