"""Announcements in chat: /broadcast (compose, preview, send or schedule), steering a
running one, /broadcasts, the failed recipients, and /unsubscribe for everyone."""

from __future__ import annotations

import csv
import io
from html import escape

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.broadcasts import forms as broadcast_forms
from bot.broadcasts import service as broadcasts
from bot.broadcasts import views as render
from bot.context import BotContext
from bot.people import roles as access
from bot.people.person import Person
from bot.people.roles import Act, Refused
from bot.ui import screens as views
from bot.ui.callbacks import Callback
from bot.ui.i18n import t
from handlers import guard
from handlers.forms import begin_form
from handlers.render import answer, reply, show
from storage import broadcasts as repo
from storage.models import utcnow


@guard.command(Act.BROADCAST)
async def broadcast_command(update: Update, context: BotContext) -> None:
    person = context.sender
    await begin_form(update, context, person, broadcast_forms.COMPOSE)


async def show_preview(
    update: Update, context: BotContext, person: Person, broadcast_id: int
) -> None:
    """The announcement exactly as recipients get it, then Send now / Schedule / Cancel."""
    async with context.db() as session:
        draft = await repo.get(session, broadcast_id)
        count = await repo.count_audience(session, draft.segment) if draft else 0
    chat = update.effective_chat
    if draft is None or chat is None:
        return
    method, params = broadcasts.payload_for(draft, person.language, context.runtime.bot_username)
    try:
        await context.bot.do_api_request(method, api_kwargs={"chat_id": chat.id, **params})
    except Exception as exc:  # Telegram refused the HTML or the file: say so, keep the draft
        await reply(
            update,
            views.Screen(t(person.language, "bc.preview_failed", error=escape(str(exc)[:200]))),
        )
        return
    await reply(update, render.control(person.language, draft, count))


@guard.button()
async def broadcast_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    query = update.callback_query
    if query is None:
        raise Refused()
    if data.action == "stop":  # under every announcement, for everyone
        async with context.db() as session:
            await broadcasts.unsubscribe(session, person)
        await answer(update, t(person.language, "bc.unsubscribed"), alert=True)
        return
    broadcast_id = data.int_arg(0)
    if broadcast_id is None or not access.allowed(person, Act.BROADCAST):
        raise Refused()
    lang, settings = person.language, context.settings
    if data.action == "go":
        message = query.message
        target = (message.chat.id, message.message_id) if message else None
        async with context.db() as session:
            sent = await broadcasts.send_now(
                session, settings, person, broadcast_id, context.runtime.bot_username, target
            )
            report = await broadcasts.progress(session, sent, utcnow())
        context.wake_engines()
        await answer(update)
        await show(update, render.progress(lang, report, settings, utcnow()))
    elif data.action == "sched":
        await answer(update)
        await begin_form(
            update, context, person, broadcast_forms.SCHEDULE, {"broadcast_id": broadcast_id}
        )
    elif data.action in ("pause", "resume", "cancel"):
        async with context.db() as session:
            steered = await broadcasts.steer(session, settings, person, broadcast_id, data.action)
            report = await broadcasts.progress(session, steered, utcnow())
        context.wake_engines()
        await answer(update, t(lang, f"bc.now_{data.action}"))
        await show(update, render.progress(lang, report, settings, utcnow()))
    elif data.action == "failed":
        await answer(update)
        await _send_failed(update, context, broadcast_id)
    else:
        raise Refused()


async def _send_failed(update: Update, context: BotContext, broadcast_id: int) -> None:
    async with context.db() as session:
        rows = await repo.failed_recipients(session, broadcast_id)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["chat_id", "state", "error"])
    writer.writerows(rows)
    chat = update.effective_chat
    if chat is not None:
        await chat.send_document(
            document=out.getvalue().encode("utf-8-sig"),
            filename=f"broadcast-{broadcast_id}-failed.csv",
            caption=t(context.sender.language, "bc.failed_caption", n=len(rows)),
        )


@guard.command(Act.BROADCAST)
async def broadcasts_command(update: Update, context: BotContext) -> None:
    person = context.sender
    async with context.db() as session:
        items = await repo.recent(session)
        rows = [(b, await repo.delivery_counts(session, b.id)) for b in items]
    await reply(update, render.listing(person.language, rows, context.settings))


async def unsubscribe_command(update: Update, context: BotContext) -> None:
    async with context.db() as session:
        await broadcasts.unsubscribe(session, context.sender)
    await reply(update, views.Screen(t(context.lang, "bc.unsubscribed")))


async def subscribe_command(update: Update, context: BotContext) -> None:
    async with context.db() as session:
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
