"""Form input: typed answers (group 0, ahead of every feature), the form buttons, and the
one way to begin a form.

A person with an open draft has their next plain message taken as the answer; the
handler then stops the update so no feature also reacts to it. Each update is one unit
of work (the permission path asked, the answer saved, the next step resolved), and the
reply goes out after it is committed: no transaction is held across a Telegram call.
What a feature does after a save is its own hook, registered with the form by the
composition root (bot/app.py); this module knows no feature.
"""

from __future__ import annotations

from html import escape

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import Forbidden
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
    if message is not None and message.contact is not None:
        text = message.contact.phone_number
    media = _media_of(message)
    forms = _forms(context)
    async with context.db(write=True) as session:
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
            else:
                step = await forms.give(
                    session, person.id, _parse_context(context, person), text=text
                )
    if gone:
        await _form_gone(update, context, person)
    elif step is not None:
        await reply(update, form_views.render(person.language, step))
    raise ApplicationHandlerStop


def _media_of(message: Message | None) -> dict[str, str] | None:
    if message is None:
        return None
    if message.photo:
        return {"kind": "photo", "file_id": message.photo[-1].file_id}
    if message.document is not None:
        return {"kind": "document", "file_id": message.document.file_id}
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
        await _forms(context).cancel(session, person.id)
    context.person = person.in_form(None)
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
    await answer(update, context)
    await show(update, screen)
    if data.action == "cancel":
        context.person = person.in_form(None)


async def _press(
    session: AsyncSession, forms: Forms, person: Person, spec: FormSpec, data: Callback,
    ctx: ParseContext,
) -> views.Screen | None:  # fmt: skip
    """The screen a form button leads to, or None for a button not of this step."""
    lang = person.language
    step: Step | None = None
    if data.action == "cancel":
        await forms.cancel(session, person.id)
        return views.with_menu(person.in_form(None), "cancel.done")
    if data.action == "pick" and len(data.args) == 2:
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


async def begin_form(
    update: Update, context: BotContext, form: FormSpec | Start,
    data: dict[str, object] | None = None, *, start_at: str | None = None,
) -> None:  # fmt: skip
    """The one way a form begins: (re)start it for the sender and ask its first question.
    Forms are answered in the person's private chat: a button pressed in the staff group
    begins the form there, and the group sees nothing but a note on the button. A button
    press is answered. Raises Refused when the person may not fill it in."""
    start = form if isinstance(form, Start) else Start(form, dict(data or {}), start_at)
    person = context.sender
    forms = _forms(context)
    async with context.db(write=True) as session:
        step = await forms.begin(session, person, start.spec, start.data, start_at=start.start_at)
    context.person = person.in_form(start.spec.name)
    screen = form_views.render(person.language, step)
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        await reply(update, screen)
        await answer(update, context)
        return
    try:
        await context.bot.send_message(
            person.id, screen.text, reply_markup=screen.reply_keyboard or screen.keyboard
        )
    except Forbidden:  # they never opened a private chat with the bot
        async with context.db(write=True) as session:
            await forms.cancel(session, person.id)
        await answer(update, context, t(person.language, "inquiry.open_private"), alert=True)
        return
    await answer(update, context, t(person.language, "inquiry.see_private"))


def input_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """Group 0: ahead of every feature."""
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("cancel", cancel_command, filters=private),
        MessageHandler(private & filters.UpdateType.MESSAGE & ~filters.COMMAND, form_input),
    ]


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [CallbackQueryHandler(form_button, pattern=r"^f:")]
