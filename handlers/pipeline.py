"""The staff's side of an inquiry in chat: the buttons of its card (assign, status,
answer, next step) and answers given by replying to one of its messages. Callback prefix
`iq:`. The permission path decides every act (bot/people/roles.py), in the service."""

from __future__ import annotations

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler, filters

from bot.context import BotContext
from bot.forms.engine import Start
from bot.inquiries import forms as inquiry_forms
from bot.inquiries import pipeline
from bot.inquiries import service as inquiries
from bot.inquiries import views as iviews
from bot.inquiries.service import InquiryError
from bot.next_steps import forms as step_forms
from bot.people.roles import Refused
from bot.ui import screens as views
from bot.ui.callbacks import Callback, parse
from bot.ui.i18n import t
from handlers import catalog, guard
from handlers.forms import begin_form
from handlers.render import answer, reply


@guard.button()
async def staff_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    query = update.callback_query
    inquiry_id = data.int_arg(0)
    if inquiry_id is None or query is None:
        raise Refused()
    settings, lang = context.settings, person.language
    if data.action in ("status", "set", "reply", "step"):  # (assigning and answering say it too)
        async with context.db(write=True) as session:
            await pipeline.opened(session, settings, person, inquiry_id)
        context.wake_engines()
    if data.action == "assign":
        async with context.db(write=True) as session:
            await pipeline.assign_to(session, settings, person, inquiry_id)
        context.wake_engines()
        await answer(update, context, t(lang, "inquiry.assigned"))
    elif data.action == "status":
        async with context.db() as session:
            view = await pipeline.staff_view(session, settings, person, inquiry_id)
        await answer(update, context)
        await query.edit_message_reply_markup(iviews.status_menu(lang, view.inquiry))
    elif data.action == "set" and len(data.args) == 2:
        async with context.db(write=True) as session:
            changed = await pipeline.set_status(session, settings, person, inquiry_id, data.args[1])
        context.wake_engines()
        shown = iviews.status_name(lang, changed.status)
        await answer(update, context, t(lang, "inquiry.status_set", status=shown))
        await query.edit_message_reply_markup(iviews.staff_keyboard(lang, inquiry_id))
    elif data.action == "reply":
        await begin_form(
            update, context, Start(inquiry_forms.STAFF_REPLY, {"inquiry_id": inquiry_id})
        )
    elif data.action == "step":
        data_in = {"inquiry_id": inquiry_id, "actor_id": person.id}
        await begin_form(update, context, Start(step_forms.NEW_STEP, data_in))
    else:
        raise Refused()


async def replied_message(update: Update, context: BotContext) -> None:
    """A Telegram reply to one of our messages: staff answering an inquiry, or a contact
    writing back on theirs. Anything else is treated like plain text."""
    message = update.effective_message
    chat = update.effective_chat
    person = context.sender
    target = message.reply_to_message if message else None
    if message is None or chat is None or target is None or not message.text:
        return
    private = chat.type == ChatType.PRIVATE
    try:
        async with context.db(write=True) as session:
            inquiry_id = _inquiry_of_markup(target) or await inquiries.inquiry_of_message(
                session, chat.id, target.message_id
            )
            if inquiry_id is None:
                key = None
            else:  # a group gets here only if it is the staff chat (handlers/people.py)
                key = await pipeline.relay(
                    session, context.settings, person, inquiry_id, message.text,
                    in_staff_chat=not private, message_id=message.message_id,
                )  # fmt: skip
    except Refused:
        # Not theirs to answer (or gone). In the staff group, a member's ordinary reply to
        # a card is left alone; in a private chat the person is told.
        if private:
            await reply(update, views.Screen(t(person.language, "access.reply_refused")))
        return
    except InquiryError as refusal:
        # (a reply too long to relay whole is refused here, with its length)
        await reply(update, views.Screen(t(person.language, refusal.key, **refusal.values)))
        return
    if key is None:
        if private:
            await catalog.run_search(update, context, message.text)
        return
    context.wake_engines()
    await message.reply_text(t(person.language, key, id=inquiry_id))


async def topic_message(update: Update, context: BotContext) -> None:
    """A plain message in an inquiry's forum topic (the staff chat: handlers/people.py
    lets no other group through) answers its contact, as a reply to its card would. A
    message in another topic is left to the replies' handler (a reply to a card)."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or not message.text or message.message_thread_id is None:
        return
    person = context.sender
    try:
        async with context.db(write=True) as session:
            inquiry_id = await pipeline.topic_reply(
                session, context.settings, person, chat.id, message.message_thread_id,
                message.text,
            )  # fmt: skip
    except Refused:
        return  # not theirs to answer: a member talking in the topic is left alone
    except InquiryError as refusal:
        await message.reply_text(t(person.language, refusal.key, **refusal.values))
        return
    if inquiry_id is None:
        await replied_message(update, context)
        return
    context.wake_engines()
    await message.reply_text(t(person.language, "staffreply.sent", id=inquiry_id))


def _inquiry_of_markup(message: Message) -> int | None:
    """Our inquiry messages carry their id in their buttons; Telegram copies the replied-to
    message (buttons included) into the reply, so this needs no lookup and cannot be forged."""
    markup = message.reply_markup
    for row in markup.inline_keyboard if markup else ():
        for key in row:
            data = parse(key.callback_data)
            if data is not None and data.ns in ("iq", "my") and data.int_arg(0) is not None:
                return data.int_arg(0)
    return None


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CallbackQueryHandler(staff_button, pattern=r"^iq:"),
        MessageHandler(
            filters.ChatType.SUPERGROUP
            & filters.IS_TOPIC_MESSAGE
            & filters.TEXT
            & ~filters.COMMAND,
            topic_message,
        ),
        MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND, replied_message),
    ]
