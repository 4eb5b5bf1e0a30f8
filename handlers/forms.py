"""Form input: typed answers (group 0, ahead of every feature), the form buttons, and the
one way to begin a form.

A person with an open draft has their next plain message taken as the answer; the
handler then stops the update so no feature also reacts to it. Leaving the form (any
command but /cancel, a button that is not the form's, so a menu or catalogue button, a
deep link, a button of an earlier message) pauses it: the next text is not its answer,
and the main menu offers to continue it or discard it. Each question's buttons are
taken off the previous question's message when the next is sent. Each update is one unit
of work (the permission path asked, the answer saved, the next step resolved), and the
reply goes out after it is committed: no transaction is held across a Telegram call.
What a feature does after a save is its own hook, registered with the form by the
composition root (bot/app.py); this module knows no feature.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Message, ReplyKeyboardRemove, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from bot.forms import views as form_views
from bot.forms.engine import SKIP, Confirm, Forms, FormSpec, ParseContext, Saved, Start, Step
from bot.people.person import Person
from bot.people.roles import Refused
from bot.ui import screens as views
from bot.ui.callbacks import Callback
from bot.ui.errors import FieldError
from bot.ui.i18n import t
from handlers import guard
from handlers.render import answer, reply, show


def _forms(context: BotContext) -> Forms:
    return context.runtime.forms


def _parse_context(context: BotContext, person: Person) -> ParseContext:
    return ParseContext.now_in(context.settings.tz, person.language)


async def _form_gone(update: Update, context: BotContext, person: Person) -> None:
    """The person may not finish this form any more (the draft is already dropped)."""
    context.person = person.in_form(None)
    await answer(update, context, t(person.language, "access.form_gone"), alert=True)
    await reply(update, views.with_menu(person.in_form(None), "access.form_gone"))


async def form_input(update: Update, context: BotContext) -> None:
    person = context.sender
    if person.form is None:
        return  # not in a form: let the features (group 1) have it
    message = update.effective_message
    text = message.text if message is not None else None
    shared = message is not None and message.contact is not None
    if message is not None and message.contact is not None:
        text = message.contact.phone_number
    choice = SKIP if text is not None and text.strip() == t(person.language, "form.skip") else None
    # A paused form takes only its own buttons (the share-phone keyboard stays on screen
    # while it waits): they take it up again, like its inline buttons do.
    if person.paused and not (shared or choice == SKIP):
        return
    media = _media_of(message)
    forms = _forms(context)
    async with context.db(write=True) as session:
        before = await forms.last_prompt(session, person.id)
        if not await forms.allowed(session, person):
            await forms.cancel(session, person.id)
            step: Step | None = None
            gone = True
        else:
            gone = False
            if media is not None:
                step = await forms.give(
                    session, person.id, _parse_context(context, person), media=media
                )
            elif text is None:  # a sticker, a voice note… where an answer is expected
                step = await forms.current(session, person.id, person.language)
                if step is not None:
                    step = _with_error(step, "form.text_please")
            else:  # typed, or the Skip button of a reply keyboard (its label comes back)
                step = await forms.give(
                    session, person.id, _parse_context(context, person), text=text,
                    choice=choice,
                )  # fmt: skip
    if gone:
        await _form_gone(update, context, person)
    elif step is not None:
        await send_prompt(update, context, form_views.render(person.language, step), before)
    raise ApplicationHandlerStop


async def send_prompt(
    update: Update, context: BotContext, screen: views.Screen,
    before: tuple[int, int] | None, *, edit: bool = False, chat_id: int | None = None,
) -> Message | None:  # fmt: skip
    """Send a form's question (editing the pressed message with `edit`), take the buttons
    off the previous question (`before`), and remember where this one is."""
    person = context.sender
    query = update.callback_query
    pressed = query.message if edit and query is not None else None
    here = (pressed.chat.id, pressed.message_id) if pressed is not None else None
    if before is not None and before != here:  # first, so no moment shows two
        await _drop_buttons(context, *before)
    if screen.keyboard is not None and isinstance(screen.reply_keyboard, ReplyKeyboardRemove):
        # A message carries one keyboard: the share-contact keyboard goes with a short
        # word, and the question keeps its inline buttons (Skip, Cancel).
        target = chat_id or (update.effective_chat.id if update.effective_chat else person.id)
        await context.bot.send_message(
            target, t(person.language, "form.got_it"), reply_markup=screen.reply_keyboard
        )
        screen = views.Screen(screen.text, screen.keyboard)
    if chat_id is not None:
        sent: Message | None = await context.bot.send_message(
            chat_id, screen.text, parse_mode=ParseMode.HTML,
            reply_markup=screen.reply_keyboard or screen.keyboard,
        )  # fmt: skip
    else:
        sent = await (show(update, screen) if edit else reply(update, screen))
    if sent is None:
        return None
    async with context.db(write=True) as session:
        await _forms(context).prompted(session, person.id, sent.chat_id, sent.message_id)
    return sent


async def _drop_buttons(context: BotContext, chat_id: int, message_id: int) -> None:
    """No stale Skip or Cancel stays on an earlier question."""
    # BadRequest: it had none (a share-contact question), or it is gone.
    with contextlib.suppress(BadRequest):
        await context.bot.edit_message_reply_markup(
            chat_id, message_id, reply_markup=InlineKeyboardMarkup([])
        )


async def leave_form(update: Update, context: BotContext) -> None:
    """Group 0, for commands and buttons that are not the form's: the person left the
    form, so it is paused (the update goes on to its feature)."""
    person = context.sender
    if not person.answering or person.form is None:
        return
    async with context.db(write=True) as session:
        await _forms(context).pause(session, person.id)
    context.person = person.in_form(person.form, paused=True)


def _media_of(message: Message | None) -> dict[str, Any] | None:
    """A photo or document as a form answer or attachment (name and size for the
    checks of bot/inquiries/attachments.py)."""
    if message is None:
        return None
    if message.photo:
        photo = message.photo[-1]
        return {"kind": "photo", "file_id": photo.file_id, "size": photo.file_size}
    if message.document is not None:
        doc = message.document
        return {"kind": "document", "file_id": doc.file_id, "name": doc.file_name,
                "size": doc.file_size}  # fmt: skip
    return None


def _with_error(step: Step, key: str) -> Step:
    if isinstance(step, Confirm):
        return Confirm(step.spec, step.data, FieldError(key))
    return type(step)(step.spec, step.field, step.data, FieldError(key), step.options)


async def cancel_command(update: Update, context: BotContext) -> None:
    person = context.sender
    if person.form is None:
        return  # nothing open: the fallback says so
    async with context.db(write=True) as session:
        before = await _forms(context).last_prompt(session, person.id)
        await _forms(context).cancel(session, person.id)
    context.person = person.in_form(None)
    if before is not None:
        await _drop_buttons(context, *before)
    await reply(update, views.with_menu(person.in_form(None), "cancel.done"))
    raise ApplicationHandlerStop


@guard.button()
async def form_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    forms = _forms(context)
    spec = forms.get(person.form)
    if spec is None:
        raise Refused()
    if data.action == "save":
        await _save(update, context, person)
        return
    screen: views.Screen | None = None
    async with context.db(write=True) as session:
        before = await forms.last_prompt(session, person.id)
        if not await forms.allowed(session, person):
            await forms.cancel(session, person.id)
            gone = True
        else:
            gone = False
            screen = await _press(
                session, forms, person, spec, data, _parse_context(context, person)
            )
    if gone:
        await _form_gone(update, context, person)
        return
    if screen is None:
        raise Refused()
    # A button refused at its step (Skip where an answer is needed) says why at once:
    # the screen may not change at all.
    await answer(update, context, _refusal(person.language, screen))
    if data.action in ("cancel", "discard"):
        context.person = person.in_form(None)
        if before is not None:
            await _drop_buttons(context, *before)
        await show(update, screen)
        return
    context.person = person.in_form(person.form)  # a button of the form takes it up again
    await send_prompt(update, context, screen, before, edit=True)


def _refusal(lang: str, screen: views.Screen) -> str | None:
    key = screen.extra.get("error")
    return t(lang, key) if key else None


async def _press(
    session: AsyncSession, forms: Forms, person: Person, spec: FormSpec, data: Callback,
    ctx: ParseContext,
) -> views.Screen | None:  # fmt: skip
    """The screen a form button leads to, or None for a button not of this step."""
    lang = person.language
    step: Step | None = None
    if data.action in ("cancel", "discard"):
        await forms.cancel(session, person.id)
        key = "cancel.done" if data.action == "cancel" else "form.discarded"
        return views.with_menu(person.in_form(None), key)
    if data.action == "resume":
        step = await forms.resume(session, person.id, lang)
    elif data.action == "pick" and len(data.args) == 2:
        step = await forms.give(
            session, person.id, ctx, choice=data.args[1], expected_step=data.args[0]
        )
    elif data.action == "skip" and data.args:
        step = await forms.give(session, person.id, ctx, choice=SKIP, expected_step=data.args[0])
    elif data.action == "edit" and data.args:
        step = await forms.reopen(session, person.id, data.args[0], lang)
    elif data.action in ("change", "review"):
        step = await forms.current(session, person.id, lang)
        if data.action == "change" and isinstance(step, Confirm):
            if len(spec.fields) == 1:
                step = await forms.reopen(session, person.id, spec.fields[0].name, lang)
            else:
                return form_views.change_menu(lang, step)
    return form_views.render(lang, step) if step is not None else None


async def _save(update: Update, context: BotContext, person: Person) -> None:
    lang = person.language
    forms = _forms(context)
    outcome: Saved | Confirm | None = None
    try:
        async with context.db(write=True) as session:
            outcome = await forms.finish(session, person, context.settings)
    except Refused:
        async with context.db(write=True) as session:
            await forms.cancel(session, person.id)
        await _form_gone(update, context, person)
        return
    if outcome is None:
        raise Refused()
    if isinstance(outcome, Confirm):
        await answer(update, context)
        await show(update, form_views.render(lang, outcome))
        return
    await answer(update, context, t(lang, "form.saved"))
    form_name = person.form
    person = person.in_form(None)
    context.person = person
    await after_save(update, context, person, outcome, form_name)


async def after_save(
    update: Update, context: BotContext, person: Person, saved: Saved, form_name: str | None
) -> None:
    """Echo what was saved, then what the form's own feature does after (its hook, such
    as the programme's card), then the form that follows, if any."""
    context.wake_engines()  # a save may have queued notifications
    values = {k: escape(str(v)) for k, v in saved.values.items()}
    text = saved.html if saved.html is not None else t(person.language, saved.key, **values)
    await show(update, views.Screen(text))
    hook = context.runtime.after_save.get(form_name or "")
    if hook is not None:
        await hook(update, context, person, saved)
    then = _forms(context).get(saved.then_form)
    if then is not None:
        await begin_form(update, context, Start(then, dict(saved.then_data)))


# A form whose start needs a read first (the person's profile, the programme, the step):
# given the read-only session, it returns the Start (or refuses).
Prepare = Callable[[AsyncSession], Awaitable[Start]]


async def begin_form(
    update: Update, context: BotContext, form: FormSpec | Start | Prepare,
    data: dict[str, object] | None = None, *, start_at: str | None = None,
) -> None:  # fmt: skip
    """The one way a form begins: (re)start it for the sender and ask its first question.
    Forms are answered in the person's private chat: a button pressed in the staff group
    begins the form there, and the group sees nothing but a note on the button. A button
    press is answered. Raises Refused when the person may not fill it in."""
    if isinstance(form, FormSpec):
        start = Start(form, dict(data or {}), start_at)
    elif isinstance(form, Start):
        start = form
    else:
        async with context.db() as session:
            start = await form(session)
    person = context.sender
    forms = _forms(context)
    async with context.db(write=True) as session:
        before = await forms.last_prompt(session, person.id)
        step = await forms.begin(session, person, start.spec, start.data, start_at=start.start_at)
    context.person = person.in_form(start.spec.name)
    screen = form_views.render(person.language, step)
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        await send_prompt(update, context, screen, before)
        await answer(update, context)
        return
    try:
        await send_prompt(update, context, screen, before, chat_id=person.id)
    except Forbidden:  # they never opened a private chat with the bot
        async with context.db(write=True) as session:
            await forms.cancel(session, person.id)
        await answer(update, context, t(person.language, "inquiry.open_private"), alert=True)
        return
    await answer(update, context, t(person.language, "inquiry.see_private"))


def input_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """Group 0: ahead of every feature. /cancel and answers stop the update; leaving
    the form (another command, a button not of the form) pauses it and lets it go on."""
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("cancel", cancel_command, filters=private),
        MessageHandler(private & filters.UpdateType.MESSAGE & ~filters.COMMAND, form_input),
        MessageHandler(private & filters.UpdateType.MESSAGE & filters.COMMAND, leave_form),
        CallbackQueryHandler(leave_form, pattern=r"^(?!f:)"),
    ]


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [CallbackQueryHandler(form_button, pattern=r"^f:")]
