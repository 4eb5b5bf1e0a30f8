"""Staff side of the pipeline: the buttons on an inquiry card (assign, status, reply) and
answers given by replying to a notification. Staff rights are re-read on every update."""

from __future__ import annotations

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import Forbidden
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler, filters

from bot.context import BotContext
from bot.forms import engine as forms
from bot.forms import views as form_views
from bot.forms.engine import FormSpec
from bot.inquiries import forms as inquiry_forms
from bot.inquiries import service as inquiries
from bot.inquiries import views as iviews
from bot.inquiries.service import InquiryError
from bot.next_steps import forms as step_forms
from bot.people.person import Person
from bot.people.roles import Refused
from bot.ui import screens as views
from bot.ui.callbacks import Callback, parse
from bot.ui.i18n import t
from handlers import catalog, guard
from handlers.forms import begin_form
from handlers.render import answer, reply
from storage import outbox as outbox_repo
from storage.models import InquiryStatus


@guard.button()
async def staff_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    query = update.callback_query
    inquiry_id = data.int_arg(0)
    if inquiry_id is None or query is None:
        raise Refused()
    settings = context.settings
    lang = person.language
    # Every act asks the permission path (bot/access.py) through its service.
    if data.action == "assign":
        async with context.db() as session:
            await inquiries.assign_to(session, settings, person, inquiry_id)
        await answer(update, t(lang, "inquiry.assigned"))
    elif data.action == "status":
        async with context.db() as session:
            view = await inquiries.staff_view(session, settings, person, inquiry_id)
        await answer(update)
        await query.edit_message_reply_markup(iviews.status_menu(lang, view.inquiry))
    elif data.action == "set" and len(data.args) == 2:
        value = data.args[1]
        if value not in InquiryStatus._value2member_map_:
            raise Refused()
        async with context.db() as session:
            await inquiries.change_status(
                session, settings, person, inquiry_id, InquiryStatus(value)
            )
        context.wake_engines()
        await answer(
            update,
            t(
                lang,
                "inquiry.status_set",
                status=iviews.status_name(lang, InquiryStatus(value)),
            ),
        )
        await query.edit_message_reply_markup(iviews.staff_keyboard(lang, inquiry_id))
    elif data.action in ("reply", "step"):
        if data.action == "reply":
            await form_in_private(
                update, context, person, inquiry_forms.STAFF_REPLY, {"inquiry_id": inquiry_id}
            )
        else:
            await form_in_private(
                update, context, person, step_forms.NEW_STEP,
                {"inquiry_id": inquiry_id, "actor_id": person.id},
            )  # fmt: skip
    else:
        raise Refused()


async def form_in_private(
    update: Update, context: BotContext, person: Person, spec: FormSpec, data: dict[str, object]
) -> None:
    """Forms are answered in the staff member's private chat, wherever the button was."""
    chat = update.effective_chat
    if chat is not None and chat.type == ChatType.PRIVATE:
        await begin_form(update, context, person, spec, data)  # Refused: not theirs
        await answer(update)
        return
    async with context.db() as session:
        step = await forms.begin(session, person, spec, data)  # Refused: not theirs
        screen = await form_views.render(session, person.language, step)
    try:
        await context.bot.send_message(person.id, screen.text, reply_markup=screen.keyboard)
    except Forbidden:
        async with context.db() as session:
            await forms.cancel(session, person.id)
        await answer(update, t(person.language, "inquiry.open_private"), alert=True)
        return
    await answer(update, t(person.language, "inquiry.see_private"))


async def replied_message(update: Update, context: BotContext) -> None:
    """A Telegram reply to one of our notifications: staff answering an inquiry, or a
    contact writing back on theirs. Anything else is treated like plain text."""
    message = update.effective_message
    chat = update.effective_chat
    person = context.sender
    target = message.reply_to_message if message else None
    if message is None or chat is None or target is None or not message.text:
        return
    inquiry_id = _inquiry_of_markup(target)
    if inquiry_id is None:
        async with context.db() as session:
            row = await outbox_repo.find_by_message(session, chat.id, target.message_id)
        ref = row.ref if row is not None else None
        if ref is not None and ref.startswith("inquiry:") and ref[8:].isdigit():
            inquiry_id = int(ref[8:])
    if inquiry_id is None:
        if chat.type == ChatType.PRIVATE:
            await catalog.run_search(update, context, message.text)
        return
    settings = context.settings
    try:
        async with context.db() as session:
            # A group gets this far only if it is the staff chat (handlers/people.py); the
            # service decides whether this member may answer this inquiry.
            if person.is_staff or chat.type != ChatType.PRIVATE:
                await inquiries.staff_reply(session, settings, person, inquiry_id, message.text)
                key = "staffreply.sent"
            else:
                await inquiries.follow_up(session, settings, person, inquiry_id, message.text)
                key = "followup.sent"
    except Refused:
        # Not theirs to answer (or gone). In the staff group, a member's ordinary reply to
        # a card is left alone; in a private chat the person is told.
        if chat.type == ChatType.PRIVATE:
            await reply(update, views.Screen(t(person.language, "access.reply_refused")))
        return
    except InquiryError as refusal:
        # (a reply too long to relay whole is refused here, with its length)
        await reply(update, views.Screen(t(person.language, refusal.key, **refusal.values)))
        return
    context.wake_engines()
    await message.reply_text(t(person.language, key, id=inquiry_id))


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
        MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND, replied_message),
    ]
