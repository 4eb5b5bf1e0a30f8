"""Catalogue management in chat (admins): /newprogram, and the admin buttons on a card:
edit a field (a one-field form), open/close, owner. Callback prefix `ca:`. The permission
path decides every press (bot/people/roles.py): these buttons can be forged."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.catalog import forms as catalog_forms
from bot.catalog import service as catalog
from bot.catalog import views as catalog_views
from bot.context import BotContext
from bot.people.roles import Act, Refused
from bot.ui.callbacks import Callback
from bot.ui.i18n import t
from handlers import guard
from handlers.catalog import show_card
from handlers.forms import begin_form
from handlers.render import answer, show


@guard.command(Act.MANAGE_CATALOG)
async def new_program_command(update: Update, context: BotContext) -> None:
    await begin_form(update, context, catalog_forms.NEW_PROGRAM)


@guard.button(Act.MANAGE_CATALOG)
async def admin_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    lang = person.language
    program_id = data.int_arg(0)
    if data.action == "new":
        await begin_form(update, context, catalog_forms.NEW_PROGRAM)
        await answer(update, context)
    elif program_id is None:
        raise Refused()
    elif data.action == "edit":
        await answer(update, context)
        await show(update, catalog_views.field_menu(lang, program_id))
    elif data.action == "field" and len(data.args) == 2:
        async with context.db() as session:
            start = await catalog_forms.edit_data(session, person, program_id, data.args[1])
        await begin_form(update, context, catalog_forms.EDIT_FIELD, start)
        await answer(update, context)
    elif data.action == "status" and len(data.args) == 2:
        async with context.db(write=True) as session:
            await catalog.set_status(session, person, program_id, data.args[1])
        await answer(update, context, t(lang, f"program.now_{data.args[1]}"))
        await show_card(update, context, person, program_id)
    elif data.action == "owners":
        page_no = data.int_arg(1) or 1
        async with context.db() as session:
            people, pages = await catalog.owner_choices(session, person, page_no)
        await answer(update, context)
        await show(update, catalog_views.owner_menu(lang, program_id, people, page_no, pages))
    elif data.action == "owner" and data.user_arg(1) is not None:
        async with context.db(write=True) as session:
            await catalog.set_owner(session, person, program_id, data.user_arg(1) or 0)
        await answer(update, context, t(lang, "program.owner_set"))
        await show_card(update, context, person, program_id)
    else:
        raise Refused()


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("newprogram", new_program_command),
        CallbackQueryHandler(admin_button, pattern=r"^ca:"),
    ]
