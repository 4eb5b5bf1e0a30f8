"""/language and the language buttons."""

from __future__ import annotations

from dataclasses import replace

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.people.identity import choose_language
from bot.people.roles import Refused
from bot.ui import commands
from bot.ui import screens as views
from bot.ui.callbacks import Callback
from bot.ui.i18n import t
from handlers import guard
from handlers.render import answer, reply, show


async def language_command(update: Update, context: BotContext) -> None:
    await reply(update, views.language_picker(context.sender.language))


@guard.button()
async def language_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    if data.ns == "m":
        await answer(update, context)
        await show(update, views.language_picker(person.language))
        return
    chosen = data.args[0] if data.args else ""
    async with context.db(write=True) as session:
        ok = await choose_language(session, person.id, chosen)
    if not ok:
        raise Refused()
    person = replace(person, language=chosen)
    context.person = person
    if person.is_staff:  # their command menu follows them into the new language
        await commands.set_role_menu(context.bot, person.id, chosen, person.role)
    await answer(update, context, t(chosen, "language.set"))
    await show(update, views.with_menu(person, "language.set"))


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("language", language_command),
        CallbackQueryHandler(language_button, pattern=r"^(m:lang|lang:set:.*)$"),
    ]
