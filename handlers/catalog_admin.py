"""Catalogue management in chat (admins): /newprogram, and the admin buttons on a card:
edit a field (a one-field form), open/close, owner. The permission path decides every
press (bot/access.py): these buttons can be forged."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.catalog import admin as catalog_admin
from bot.catalog.admin import TEXT_FIELDS
from bot.context import BotContext
from bot.forms import views as form_views
from bot.people.person import Person
from bot.people.roles import Act, Refused
from bot.ui.callbacks import Callback, cb
from bot.ui.i18n import t
from bot.ui.screens import Screen, button
from handlers import catalog, guard
from handlers.forms import begin_form
from handlers.render import answer, reply, show
from storage.models import ProgramStatus


@guard.command(Act.MANAGE_CATALOG)
async def new_program_command(update: Update, context: BotContext) -> None:
    await begin_form(update, context, context.sender, catalog_admin.NEW_PROGRAM)


@guard.button(Act.MANAGE_CATALOG)
async def admin_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    lang = person.language
    program_id = data.int_arg(0)
    if data.action == "new":
        await answer(update)
        await begin_form(update, context, person, catalog_admin.NEW_PROGRAM)
    elif data.action == "edit" and program_id is not None:
        await answer(update)
        await show(update, _field_menu(lang, program_id))
    elif data.action == "field" and program_id is not None and len(data.args) == 2:
        async with context.db() as session:
            step = await catalog_admin.start_edit(session, person, program_id, data.args[1])
            screen = await form_views.render(session, lang, step)
        context.person = person.in_form(catalog_admin.EDIT_FIELD.name)
        await answer(update)
        await reply(update, screen)
    elif data.action == "status" and program_id is not None and len(data.args) == 2:
        await _set_status(update, context, person, program_id, data.args[1])
    elif data.action == "owners" and program_id is not None:
        await _owner_menu(update, context, person, program_id, data.int_arg(1) or 1)
    elif data.action == "owner" and program_id is not None and data.user_arg(1) is not None:
        async with context.db() as session:
            await catalog_admin.set_owner(session, person, program_id, data.user_arg(1) or 0)
        await answer(update, t(lang, "program.owner_set"))
        await catalog.show_card(update, context, person, program_id)
    else:
        raise Refused()


def _field_menu(lang: str, program_id: int) -> Screen:
    rows = [
        [
            InlineKeyboardButton(
                t(lang, f"field.{name}"), callback_data=cb("ca", "field", program_id, name)
            )
        ]
        for name in TEXT_FIELDS
    ]
    rows.append([button(lang, "btn.back", cb("c", "p", program_id))])
    return Screen(t(lang, "program.which_field"), InlineKeyboardMarkup(rows))


async def _set_status(
    update: Update, context: BotContext, person: Person, program_id: int, value: str
) -> None:
    if value not in (ProgramStatus.OPEN.value, ProgramStatus.CLOSED.value):
        raise Refused()
    async with context.db() as session:
        await catalog_admin.set_status(session, person, program_id, ProgramStatus(value))
    await answer(update, t(person.language, f"program.now_{value}"))
    await catalog.show_card(update, context, person, program_id)


async def _owner_menu(
    update: Update, context: BotContext, person: Person, program_id: int, page_no: int
) -> None:
    lang = person.language
    async with context.db() as session:
        people, pages = await catalog_admin.owner_choices(session, person, page_no)
    rows = [
        [
            InlineKeyboardButton(
                u.first_name or str(u.id), callback_data=cb("ca", "owner", program_id, u.id)
            )
        ]
        for u in people
    ]
    nav = []
    if page_no > 1:
        nav.append(button(lang, "btn.prev", cb("ca", "owners", program_id, page_no - 1)))
    if page_no < pages:
        nav.append(button(lang, "btn.next", cb("ca", "owners", program_id, page_no + 1)))
    if nav:
        rows.append(nav)
    rows.append([button(lang, "btn.back", cb("c", "p", program_id))])
    key = "program.pick_owner" if people else "program.no_teachers"
    await answer(update)
    await show(update, Screen(t(lang, key), InlineKeyboardMarkup(rows)))


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("newprogram", new_program_command),
        CallbackQueryHandler(admin_button, pattern=r"^ca:"),
    ]
