"""/audit: the trail of admin actions, newest first, ten a page, and its export.
Callback prefix `au:` (see bot/people/audit_views.py). Admins only (the permission path,
on every command and button: buttons can be forged); private chats only: the trail names
people."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.people import audit
from bot.people import audit_views as render
from bot.people.person import Person
from bot.people.roles import Act, Refused
from bot.ui.callbacks import Callback
from bot.ui.i18n import format_time, t
from handlers import guard
from handlers.render import answer, reply, send_file, show


@guard.command(Act.AUDIT)
async def audit_command(update: Update, context: BotContext) -> None:
    person = context.sender
    async with context.db() as session:
        found = await audit.page(session)
    await reply(update, render.page_screen(person.language, found, context.settings.tz))


@guard.button(Act.AUDIT)
async def on_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    if data.action == "x" and not data.args:
        await answer(update, context)
        await _export(update, context, person)
        return
    if data.action != "p" or len(data.args) > 1:
        raise Refused()  # not a button we make
    async with context.db() as session:
        found = await audit.page(session, data.int_arg(0))
    await answer(update, context)
    await show(update, render.page_screen(person.language, found, context.settings.tz))


async def _export(update: Update, context: BotContext, person: Person) -> None:
    lang, tz, now = person.language, context.settings.tz, context.now()
    async with context.db() as session:
        made = await audit.export_files(session, person, lang, tz, now)
    for file in made:
        caption = t(lang, "audit.export_caption", count=file.count, time=format_time(now, lang, tz))
        await send_file(update, file, caption)


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("audit", audit_command, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(on_button, pattern=r"^au:"),
    ]
