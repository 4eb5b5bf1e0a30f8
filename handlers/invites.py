"""Admin paths: invites. Every entry asks the permission path (bot/access.py), because
commands can be typed by anyone and buttons can be forged.

Invites are made and managed in private chats only: a link posted in the staff group
could be opened by anyone in it, so there the bot says so politely and posts none.
"""

from __future__ import annotations

from datetime import timedelta
from html import escape

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.people import invite_views
from bot.people.identity import (
    INVITABLE,
    InviteError,
    invite_for,
    open_invites,
    redeem_invite,
    revoke_invite,
)
from bot.people.person import Person
from bot.people.roles import Act, Refused
from bot.ui import commands
from bot.ui import screens as views
from bot.ui.callbacks import Callback
from bot.ui.deeplinks import link
from bot.ui.i18n import t
from handlers import guard
from handlers.render import answer, reply, show


def in_private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


async def not_here(update: Update, context: BotContext, person: Person) -> None:
    """Outside a private chat: a note, and no link or list posted."""
    if update.callback_query is not None:
        await answer(update, context, t(person.language, "invite.private_only"), alert=True)
    else:
        await reply(update, views.Screen(t(person.language, "invite.private_only")))


async def _issue_invite(update: Update, context: BotContext, person: Person, kind: str) -> None:
    settings = context.settings
    async with context.db(write=True) as session:
        invite = await invite_for(
            session, admin=person, kind=kind, ttl=timedelta(hours=settings.invite_ttl_hours)
        )
    url = link(context.runtime.bot_username, "inv", invite.token)
    await reply(update, invite_views.created(person.language, invite, url, settings.tz))


@guard.command(Act.INVITE)
async def invite_command(update: Update, context: BotContext) -> None:
    person = context.sender
    if not in_private(update):
        await not_here(update, context, person)
        return
    await _issue_invite(update, context, person, context.args[0] if context.args else "teacher")


@guard.button(Act.INVITE)
async def invite_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    if not in_private(update):  # no link in a group; and no menu edited there either
        await not_here(update, context, person)
        return
    if len(data.args) != 1 or data.args[0] not in INVITABLE:
        raise Refused()
    await answer(update, context)
    await _issue_invite(update, context, person, data.args[0])


@guard.command(Act.INVITE)
async def invites_command(update: Update, context: BotContext) -> None:
    """/invites: the open invites, each with a Revoke button."""
    person = context.sender
    if not in_private(update):
        await not_here(update, context, person)
        return
    await _show_invites(update, context, person, 0)


@guard.button(Act.INVITE)
async def invites_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    if not in_private(update):
        await not_here(update, context, person)
        return
    if data.action == "invs" and len(data.args) == 1 and data.int_arg(0) is not None:
        await answer(update, context)
        await _show_invites(update, context, person, data.int_arg(0) or 0)
        return
    page = data.int_arg(1) if data.action == "invrev" and len(data.args) == 2 else None
    if page is None:  # not a button we make
        raise Refused()
    async with context.db(write=True) as session:
        revoked = await revoke_invite(session, admin=person, key=data.args[0])
    lang = person.language
    if isinstance(revoked, InviteError):  # used, expired or revoked meanwhile; or forged
        await answer(update, context, t(lang, "invites.gone"), alert=True)
        notice = t(lang, "invites.gone")
    else:
        await answer(update, context, t(lang, "invites.revoked_short"))
        notice = t(
            lang,
            "invites.revoked",
            hint=escape(revoked.hint),
            role=escape(views.role_name(lang, revoked.role)),
        )
    await _show_invites(update, context, person, page, notice)


async def _show_invites(
    update: Update, context: BotContext, person: Person, page: int, notice: str = ""
) -> None:
    async with context.db() as session:
        found = await open_invites(session, admin=person, page=page)
    screen = invite_views.invites_screen(person.language, found, context.settings.tz, notice)
    await show(update, screen)


async def open_invite(update: Update, context: BotContext, person: Person, token: str) -> None:
    """Deep link `inv_<token>`: redeem the one-time invite."""
    async with context.db(write=True) as session:
        result = await redeem_invite(
            session, token=token, user_id=person.id, admin_ids=context.settings.admin_ids
        )
    lang = person.language
    if result.role is not None:
        person = person.with_role(result.role)
        context.person = person
        await commands.set_role_menu(context.bot, person.id, person.language, result.role)
    key = {
        None: "invite.welcome",
        InviteError.ALREADY: "invite.already",
        InviteError.EXPIRED: "invite.expired",
        InviteError.USED: "invite.used",
        InviteError.REVOKED: "invite.revoked",
    }.get(result.error, "invite.unknown")
    role_text = escape(views.role_name(lang, result.role)) if result.role else ""
    await reply(update, views.with_menu(person, key, role=role_text))


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("invite", invite_command),
        CommandHandler("invites", invites_command),
        CallbackQueryHandler(invite_button, pattern=r"^adm:invite(:|$)"),
        CallbackQueryHandler(invites_button, pattern=r"^adm:inv(s|rev)(:|$)"),
    ]
