"""Announcements in chat: /broadcast (compose, preview, send or schedule), steering a
running one, /broadcasts, the failed recipients, and /unsubscribe for everyone.
Callback prefix `bc:`."""

from __future__ import annotations

from html import escape

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.broadcasts import forms as broadcast_forms
from bot.broadcasts import service as broadcasts
from bot.broadcasts import views as render
from bot.context import BotContext
from bot.forms.engine import Saved
from bot.people import roles as access
from bot.people.person import Person
from bot.people.roles import Act, Refused
from bot.ui import screens as views
from bot.ui.callbacks import Callback
from bot.ui.i18n import t
from handlers import guard
from handlers.forms import begin_form
from handlers.render import answer, reply, send_file, show


@guard.command(Act.BROADCAST)
async def broadcast_command(update: Update, context: BotContext) -> None:
    await begin_form(update, context, broadcast_forms.compose_start(context.settings.admin_ids))


async def preview_after_save(
    update: Update, context: BotContext, person: Person, saved: Saved
) -> None:
    """After the compose form: the announcement exactly as recipients get it, then Send
    now / Schedule / Cancel."""
    if saved.made is None:
        return
    async with context.db() as session:
        found = await broadcasts.preview(
            session, context.settings, person, saved.made, context.runtime.bot_username
        )
    if await _send_preview(update, context, person, found):
        await reply(update, render.control(person.language, found.broadcast, found.recipients))


async def _send_preview(
    update: Update, context: BotContext, person: Person, found: broadcasts.Preview
) -> bool:
    """The announcement exactly as a recipient in the admin's language gets it."""
    chat = update.effective_chat
    if chat is None:
        return False
    try:
        await context.bot.do_api_request(
            found.method, api_kwargs={"chat_id": chat.id, **found.params}
        )
    except TelegramError as exc:  # Telegram refused the HTML or the file: say so, keep it
        error = escape(str(exc)[:200])
        await reply(update, views.Screen(t(person.language, "bc.preview_failed", error=error)))
        return False
    return True


async def _open(update: Update, context: BotContext, person: Person, broadcast_id: int) -> None:
    """Opened from the list: the preview with its buttons, then where it stands and what
    can still be done (the scheduled time and its actions, or the live report)."""
    settings, now = context.settings, context.now()
    async with context.db() as session:
        opened = await broadcasts.open_one(
            session, settings, person, broadcast_id, context.runtime.bot_username, now
        )
    await answer(update, context)
    if not await _send_preview(update, context, person, opened.preview):
        return
    b, lang = opened.preview.broadcast, person.language
    if opened.report is not None:
        screen = render.progress(lang, opened.report, settings, now)
    elif b.scheduled_at is not None:
        screen = render.scheduled(lang, b, settings)
    else:
        screen = render.control(lang, b, opened.preview.recipients)
    await reply(update, screen)


@guard.button()
async def broadcast_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    query = update.callback_query
    if query is None:
        raise Refused()
    if data.action == "stop":  # under every announcement, for everyone
        async with context.db(write=True) as session:
            await broadcasts.unsubscribe(session, person)
        await answer(update, context, t(person.language, "bc.unsubscribed"), alert=True)
        return
    broadcast_id = data.int_arg(0)
    if broadcast_id is None or not access.allowed(person, Act.BROADCAST):
        raise Refused()
    lang, settings = person.language, context.settings
    if data.action == "go":
        message = query.message
        target = (message.chat.id, message.message_id) if message else None
        async with context.db(write=True) as session:
            report = await broadcasts.send_now_reported(
                session, settings, person, broadcast_id, context.runtime.bot_username, target,
                context.now(),
            )  # fmt: skip
        context.wake_engines()
        await answer(update, context)
        await show(update, render.progress(lang, report, settings, context.now()))
    elif data.action == "sched":  # schedule a draft, or reschedule: the same form
        async with context.db() as session:
            chosen = await broadcasts.reschedulable(session, person, broadcast_id)
        await begin_form(update, context, broadcast_forms.schedule_start(chosen.id, chosen.text))
    elif data.action == "open":
        await _open(update, context, person, broadcast_id)
    elif data.action in ("pause", "resume", "cancel"):
        async with context.db(write=True) as session:
            report = await broadcasts.steer_reported(
                session, settings, person, broadcast_id, data.action, context.now()
            )
        context.wake_engines()
        await answer(update, context, t(lang, f"bc.now_{data.action}"))
        await show(update, render.progress(lang, report, settings, context.now()))
    elif data.action == "failed":
        async with context.db() as session:
            made = await broadcasts.failed_file(session, person, broadcast_id)
        await answer(update, context)
        await send_file(update, made, t(lang, "bc.failed_caption", n=made.count))
    else:
        raise Refused()


@guard.command(Act.BROADCAST)
async def broadcasts_command(update: Update, context: BotContext) -> None:
    person = context.sender
    async with context.db() as session:
        rows = await broadcasts.recent(session, person)
    await reply(update, render.listing(person.language, rows, context.settings))


async def unsubscribe_command(update: Update, context: BotContext) -> None:
    async with context.db(write=True) as session:
        await broadcasts.unsubscribe(session, context.sender)
    await reply(update, views.Screen(t(context.lang, "bc.unsubscribed")))


async def subscribe_command(update: Update, context: BotContext) -> None:
    async with context.db(write=True) as session:
        await broadcasts.unsubscribe(session, context.sender, value=False)
    await reply(update, views.Screen(t(context.lang, "bc.subscribed")))


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("broadcast", broadcast_command),
        CommandHandler("broadcasts", broadcasts_command),
        CommandHandler("unsubscribe", unsubscribe_command),
        CommandHandler("subscribe", subscribe_command),
        CallbackQueryHandler(broadcast_button, pattern=r"^bc:"),
    ]
