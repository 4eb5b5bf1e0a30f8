"""/staff (admins): the teachers and admins, and changing or removing a role.
Callback prefix `st:`:
  st:l:<page>                   the list
  st:o:<user id>:<page>         one person, Back to that page
  st:set:<user id>:<role>       give them that role (enterprise: remove the staff role)
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.people import identity as roles
from bot.people import staff_views
from bot.people.roles import Act, Refused
from bot.ui import commands
from bot.ui.callbacks import Callback
from bot.ui.i18n import t
from bot.ui.screens import role_name
from handlers import guard
from handlers.render import answer, reply, show


@guard.command(Act.MANAGE_STAFF)
async def staff_command(update: Update, context: BotContext) -> None:
    person = context.sender
    async with context.db() as session:
        members = await roles.staff_members(session, person, context.settings.admin_ids)
    await reply(update, staff_views.listing(person.language, members, 1))


@guard.button(Act.MANAGE_STAFF)
async def staff_button(update: Update, context: BotContext, data: Callback) -> None:
    person, admin_ids = context.sender, context.settings.admin_ids
    lang = person.language
    if data.action == "l" and len(data.args) == 1 and data.int_arg(0):
        async with context.db() as session:
            members = await roles.staff_members(session, person, admin_ids)
        await answer(update, context)
        await show(update, staff_views.listing(lang, members, data.int_arg(0) or 1))
    elif data.action == "o" and len(data.args) == 2 and data.user_arg(0) and data.int_arg(1):
        async with context.db() as session:
            found = await roles.staff_member(session, person, admin_ids, data.user_arg(0) or 0)
        await answer(update, context)
        await show(update, staff_views.member(lang, found, data.int_arg(1) or 1))
    elif data.action == "set" and len(data.args) == 2 and data.user_arg(0):
        async with context.db(write=True) as session:
            changed = await roles.change_role(
                session, person, admin_ids, data.user_arg(0) or 0, data.args[1]
            )
        user = changed.user  # their command menu follows the new role
        await commands.set_role_menu(context.bot, user.id, user.language, changed.role)
        name = user.first_name or str(user.id)
        shown = role_name(lang, changed.role)
        await answer(update, context, t(lang, "staff.changed", name=name, role=shown))
        await show(update, staff_views.member(lang, changed, 1))
    else:
        raise Refused()


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("staff", staff_command, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(staff_button, pattern=r"^st:"),
    ]
