"""Form input: typed answers (group 0, ahead of every feature) and the form buttons.

A person with an open draft has their next plain message taken as the answer; the
handler then stops the update so no feature also reacts to it."""

from __future__ import annotations

from dataclasses import replace
from html import escape

from telegram import Message, Update
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from bot.forms import engine as forms
from bot.forms import views as form_views
from bot.forms.engine import Confirm, FormSpec, Saved, Step
from bot.people.person import Person
from bot.people.roles import Refused
from bot.ui import screens as views
from bot.ui.callbacks import Callback
from bot.ui.errors import FieldError
from bot.ui.i18n import t
from handlers import catalog, guard
from handlers.render import answer, reply, show
from storage.models import utcnow


async def _allowed(context: BotContext, person: Person) -> bool:
    """Every step asks the permission path: a role lost or an inquiry reassigned since
    the form began ends the form."""
    async with context.db(readonly=True) as session:
        step = await forms.current(session, person.id)
        if step is None:
            return True
        try:
            await forms.check_access(session, person, step.spec, step.data)
        except Refused:
            return False
    return True


async def _refuse_and_drop(update: Update, context: BotContext, person: Person) -> None:
    async with context.db() as session:
        await forms.cancel(session, person.id)
    await answer(update, t(person.language, "access.form_gone"), alert=True)
    await reply(update, views.with_menu(person.in_form(None), "access.form_gone"))


async def _render(context: BotContext, lang: str, step: Step) -> views.Screen:
    async with context.db() as session:
        return await form_views.render(session, lang, step)


async def form_input(update: Update, context: BotContext) -> None:
    person = context.sender
    if person.form is None:
        return  # not in a form: let the features (group 1) have it
    if not await _allowed(context, person):
        await _refuse_and_drop(update, context, person)
        raise ApplicationHandlerStop
    message = update.effective_message
    text = message.text if message is not None else None
    if message is not None and message.contact is not None:
        text = message.contact.phone_number
    media = _media_of(message)
    async with context.db() as session:
        if media is not None:
            step = await forms.give(session, person.id, media=media)
        elif text is None:  # a sticker, a voice note… where an answer is expected
            step = await forms.current(session, person.id)
            if step is not None:
                step = _with_error(step, "form.text_please")
        else:
            ctx = forms.ParseContext(utcnow(), context.settings.tz, person.language)
            step = await forms.give(session, person.id, text=text, ctx=ctx)
        screen = await form_views.render(session, person.language, step) if step else None
    if screen is not None:
        await reply(update, screen)
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
    return replace(step, error=FieldError(key))


async def cancel_command(update: Update, context: BotContext) -> None:
    person = context.sender
    if person.form is None:
        return  # nothing open: the fallback says so
    async with context.db() as session:
        await forms.cancel(session, person.id)
    await reply(update, views.with_menu(person.in_form(None), "cancel.done"))
    raise ApplicationHandlerStop


@guard.button()
async def form_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    spec = forms.FORMS.get(person.form) if person.form else None
    if spec is None:
        raise Refused()
    if not await _allowed(context, person):
        await _refuse_and_drop(update, context, person)
        return
    lang = person.language
    if data.action == "cancel":
        async with context.db() as session:
            await forms.cancel(session, person.id)
        await answer(update)
        await show(update, views.with_menu(person.in_form(None), "cancel.done"))
        return
    if data.action == "save":
        await _save(update, context, person)
        return
    step: Step | None
    async with context.db() as session:
        if data.action == "pick" and len(data.args) == 2:
            ctx = forms.ParseContext(utcnow(), context.settings.tz, lang)
            step = await forms.give(
                session, person.id, choice=data.args[1], expected_step=data.args[0], ctx=ctx
            )
        elif data.action == "skip" and data.args:
            step = await forms.give(
                session, person.id, choice=forms.SKIP, expected_step=data.args[0]
            )
        elif data.action == "edit" and data.args:
            step = await forms.reopen(session, person.id, data.args[0])
        elif data.action in ("change", "review"):
            step = await forms.current(session, person.id)
            if data.action == "change" and isinstance(step, Confirm) and len(spec.fields) == 1:
                step = await forms.reopen(session, person.id, spec.fields[0].name)
            elif data.action == "change" and isinstance(step, Confirm):
                await answer(update)
                await show(update, form_views.change_menu(lang, step))
                return
        else:
            step = None
        screen = await form_views.render(session, lang, step) if step else None
    if screen is None:
        raise Refused()
    await answer(update)
    await show(update, screen)


async def _save(update: Update, context: BotContext, person: Person) -> None:
    lang = person.language
    try:
        async with context.db() as session:
            outcome = await forms.finish(session, person, context.settings)
            screen = (
                await form_views.render(session, lang, outcome)
                if isinstance(outcome, Confirm)
                else None
            )
    except Refused:
        await _refuse_and_drop(update, context, person)
        return
    if outcome is None:
        raise Refused()
    if screen is not None:
        await answer(update)
        await show(update, screen)
        return
    assert isinstance(outcome, Saved)
    await answer(update, t(lang, "form.saved"))
    await after_save(update, context, person.in_form(None), outcome)


async def after_save(update: Update, context: BotContext, person: Person, saved: Saved) -> None:
    """Echo what was saved; features that own the form may show more (the catalog shows
    the programme's card)."""
    context.wake_engines()  # a save may have queued notifications
    values = {k: escape(str(v)) for k, v in saved.values.items()}
    text = saved.html if saved.html is not None else t(person.language, saved.key, **values)
    await show(update, views.Screen(text))
    if saved.program_id is not None:
        await catalog.send_card(update, context, person, saved.program_id)
    if saved.broadcast_id is not None:
        from handlers import broadcast  # it starts forms through this module, so import late

        await broadcast.show_preview(update, context, person, saved.broadcast_id)
    spec = forms.FORMS.get(saved.then_form) if saved.then_form else None
    if spec is not None:
        await begin_form(update, context, person, spec, saved.then_data)


async def begin_form(
    update: Update, context: BotContext, person: Person, spec: FormSpec,
    data: dict[str, object] | None = None, *, start_at: str | None = None,
) -> None:  # fmt: skip
    """Start (or restart) a form for this person and ask its first question."""
    async with context.db() as session:
        step = await forms.begin(session, person, spec, dict(data or {}), start_at=start_at)
        screen = await form_views.render(session, person.language, step)
    context.person = person.in_form(spec.name)
    await reply(update, screen)


def input_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """Group 0: ahead of every feature."""
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("cancel", cancel_command, filters=private),
        MessageHandler(private & filters.UpdateType.MESSAGE & ~filters.COMMAND, form_input),
    ]


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [CallbackQueryHandler(form_button, pattern=r"^f:")]
