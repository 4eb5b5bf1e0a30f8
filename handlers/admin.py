"""Admin paths: invites. Every entry asks the permission path (bot/access.py), because
commands can be typed by anyone and buttons can be forged."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from html import escape

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import views
from bot.access import Act, Refused
from bot.callbacks import Callback
from bot.context import BotContext
from bot.deeplinks import link
from bot.i18n import format_time, t
from bot.person import Person
from bot.roles import InviteError, create_invite, redeem_invite
from handlers import guard
from handlers.render import answer, reply
from storage.models import Role

INVITABLE = {"teacher": Role.TEACHER, "admin": Role.ADMIN}


async def _issue_invite(update: Update, context: BotContext, person: Person, role: Role) -> None:
    settings = context.settings
    async with context.db() as session:
        invite = await create_invite(
            session, admin=person, role=role, ttl=timedelta(hours=settings.invite_ttl_hours)
        )
    lang = person.language
    text = t(
        lang,
        "invite.created",
        role=escape(views.role_name(lang, role)),
        expires=format_time(invite.expires_at, lang, settings.tz),
        link=escape(link(context.runtime.bot_username, "inv", invite.token)),
    )
    await reply(update, views.Screen(text))


@guard.command(Act.INVITE)
async def invite_command(update: Update, context: BotContext) -> None:
    person = context.sender
    which = (context.args[0].lower() if context.args else "teacher").strip()
    role = INVITABLE.get(which)
    if role is None:
        await reply(update, views.Screen(t(person.language, "invite.bad_role")))
        return
    await _issue_invite(update, context, person, role)


@guard.button(Act.INVITE)
async def invite_button(update: Update, context: BotContext, data: Callback) -> None:
    role = INVITABLE.get(data.args[0]) if len(data.args) == 1 else None
    if role is None:
        raise Refused()
    await answer(update)
    await _issue_invite(update, context, context.sender, role)


async def open_invite(update: Update, context: BotContext, person: Person, token: str) -> None:
    """Deep link `inv_<token>`: redeem the one-time invite."""
    async with context.db() as session:
        result = await redeem_invite(
            session, token=token, user_id=person.id, admin_ids=context.settings.admin_ids
        )
    lang = person.language
    if result.role is not None:
        person = replace(person, role=result.role)
        context.person = person
    key = {
        None: "invite.welcome",
        InviteError.ALREADY: "invite.already",
        InviteError.EXPIRED: "invite.expired",
        InviteError.USED: "invite.used",
    }.get(result.error, "invite.unknown")
    role_text = escape(views.role_name(lang, result.role)) if result.role else ""
    await reply(update, views.with_menu(person, key, role=role_text))


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("invite", invite_command),
        CallbackQueryHandler(invite_button, pattern=r"^adm:invite(:|$)"),
    ]
