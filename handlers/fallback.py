"""Registered last: everything no feature claimed gets a deliberate answer. And what a
contact sends outside any flow is not lost:

- Text outside a form is searched in the catalogue (the likeliest wish), and the answer
  offers, with one tap, to send the same text to the college as a question instead.
- A photo or a document (a spec sheet, a brochure) is offered to go to the college with
  a question; the question form starts with it attached (its caption as the question).
  One refused (too big, a kind we do not take) is refused with the reason.

Both offers are sent as a reply to the person's message, and the buttons read it back
from there (`reply_to_message`, which Telegram puts in the pressed message): nothing of
it is stored until they choose, and a forged button finds no text of theirs.
"""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.catalog import service as catalog
from bot.catalog import views as catalog_views
from bot.context import BotContext
from bot.inquiries import attachments
from bot.inquiries import forms as inquiry_forms
from bot.inquiries import service as inquiries
from bot.people.roles import Refused
from bot.ui import screens as views
from bot.ui.callbacks import Callback, cb
from bot.ui.errors import FieldError
from bot.ui.i18n import t
from handlers import catalog_files, guard
from handlers.forms import begin_form
from handlers.render import answer, reply, show


async def cancel_nothing(update: Update, context: BotContext) -> None:
    # Forms own /cancel while they run; reaching this handler means no form is open.
    await reply(update, views.with_menu(context.sender, "cancel.nothing"))


async def unknown_command(update: Update, context: BotContext) -> None:
    await reply(update, views.with_menu(context.sender, "fallback.unknown_command"))


async def stray_text(update: Update, context: BotContext) -> None:
    """Text outside any form (or beside a paused one): a catalogue search, with the
    other choice, sending it to the college as a question, one tap away."""
    person = context.sender
    message = update.effective_message
    words = (message.text or "") if message else ""
    async with context.db(write=True) as session:  # the query is saved: buttons refer to it
        found = await catalog.run_search(session, person, words, context.runtime.search)
    lang = person.language
    if found.page is None or not found.page.items:
        screen = catalog_views.no_results(lang, words[:100], found.kinds)
    else:
        screen = catalog_views.program_list(lang, found.page)
    if not person.is_staff:  # staff are the college: nobody to ask
        ask = InlineKeyboardButton(t(lang, "free.ask"), callback_data=cb("t", "ask"))
        rows = [*(screen.keyboard.inline_keyboard if screen.keyboard else ()), (ask,)]
        screen = views.Screen(screen.text, InlineKeyboardMarkup(rows))
    await _answer_to(message, screen)


async def on_file(update: Update, context: BotContext) -> None:
    """A photo or document in a private chat, outside a form that takes it."""
    person = context.sender
    message = update.effective_message
    if message is None:
        return
    if person.is_staff:  # staff are the college: a document is a catalogue file
        if message.document is not None:
            await catalog_files.on_document(update, context)
        else:
            await unsupported(update, context)
        return
    lang = person.language
    try:
        file = attachments.accept(*_file_of(message))
    except FieldError as refused:
        values = {k: escape(str(v)) for k, v in refused.values.items()}
        await _answer_to(message, views.Screen(t(lang, refused.key, **values)))
        return
    offer = InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(lang, "attach.ask_with"), callback_data=cb("t", "file"))]]
    )
    text = t(lang, "attach.offer", name=escape(file["name"]))
    await _answer_to(message, views.Screen(text, offer))


def _file_of(message: Message) -> tuple[str, str, str | None, int | None]:
    if message.photo:
        photo = message.photo[-1]
        return "photo", photo.file_id, None, photo.file_size
    if message.document is not None:
        doc = message.document
        return "document", doc.file_id, doc.file_name, doc.file_size
    return "", "", None, None


async def _answer_to(message: Message | None, screen: views.Screen) -> None:
    """A reply quoting the person's message: its buttons read the message back."""
    if message is None:
        return
    await message.get_bot().send_message(
        message.chat_id,
        screen.text,
        parse_mode=ParseMode.HTML,
        reply_markup=screen.keyboard,
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        disable_web_page_preview=True,
    )


def _their_message(update: Update, context: BotContext) -> Message:
    """The person's own message the pressed offer quoted; Refused when there is none."""
    query = update.callback_query
    pressed = query.message if query is not None else None
    original = pressed.reply_to_message if isinstance(pressed, Message) else None
    sender = original.from_user if original is not None else None
    if original is None or sender is None or sender.id != context.sender.id:
        raise Refused()
    return original


@guard.button()
async def offer_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    original = _their_message(update, context)
    if data.action == "ask" and original.text:
        async with context.db(write=True) as session:
            # A second tap on the same offer finds the first question, not a new one.
            inquiry = await inquiries.ask_question(
                session, context.settings, person, None, original.text,
                source=f"msg:{original.message_id}",
            )  # fmt: skip
        context.wake_engines()
        await answer(update, context)
        await show(update, views.Screen(t(person.language, "question.sent", id=inquiry.id)))
    elif data.action == "file" and (original.photo or original.document):
        file = attachments.accept(*_file_of(original))
        async with context.db() as session:
            start = await inquiry_forms.question_start(
                session, person, None, [file], original.caption
            )
        await show(update, views.Screen(t(person.language, "attach.will_go")))
        await begin_form(update, context, start)
    else:
        raise Refused()


async def unsupported(update: Update, context: BotContext) -> None:
    await reply(update, views.with_menu(context.sender, "fallback.unsupported"))


async def stale_button(update: Update, context: BotContext) -> None:
    """Forged, stale or unknown callback data: the same polite word as every refusal."""
    await guard.refuse_button(update, context)


def file_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """Ahead of the catalogue's file import: photos and documents of private chats (a
    staff member's document is handed on to the import)."""
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    return [MessageHandler(private & (filters.PHOTO | filters.Document.ALL), on_file)]


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("cancel", cancel_nothing, filters=private),
        MessageHandler(private & filters.COMMAND, unknown_command),
        MessageHandler(private & filters.UpdateType.MESSAGE & filters.TEXT, stray_text),
        MessageHandler(private & filters.UpdateType.MESSAGE, unsupported),
        CallbackQueryHandler(offer_button, pattern=r"^t:"),
        CallbackQueryHandler(stale_button),
    ]
