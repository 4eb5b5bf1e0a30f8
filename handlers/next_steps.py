"""Next steps in chat: the reminder buttons (done, snooze, open the inquiry), /tasks,
/overdue, /calendar, and moving or cancelling a step. Callback prefix `ns:`."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.forms.engine import Start
from bot.inquiries import pipeline
from bot.inquiries import service as inquiries
from bot.inquiries import views as iviews
from bot.next_steps import forms as step_forms
from bot.next_steps import service as next_steps
from bot.next_steps import views as render
from bot.people.person import Person
from bot.people.roles import Act, Refused
from bot.ui import screens as views
from bot.ui.callbacks import Callback
from bot.ui.i18n import format_time, t
from handlers import guard
from handlers.forms import begin_form
from handlers.render import answer, reply, send_file, show


async def tasks_command(update: Update, context: BotContext) -> None:
    person = context.sender
    async with context.db() as session:
        steps = await next_steps.own_open_steps(session, person)
    screen = render.tasks(
        person.language, steps, context.settings, context.now(), key="step.tasks_head"
    )
    await reply(update, screen)


@guard.command(Act.SEE_OVERDUE)
async def overdue_command(update: Update, context: BotContext) -> None:
    person, now = context.sender, context.now()
    async with context.db() as session:
        steps = await next_steps.overdue(session, person, now)
    await reply(
        update, render.tasks(person.language, steps, context.settings, now, key="step.overdue_head")
    )


async def calendar_command(update: Update, context: BotContext) -> None:
    person = context.sender
    async with context.db() as session:
        made = await next_steps.calendar_file(session, person, person.language, context.settings.tz)
    await send_file(update, made, t(person.language, "step.calendar_caption", n=made.count))


@guard.button()
async def step_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    if data.action == "list":  # the digest's button: the person's own list, no id
        await answer(update, context)
        await tasks_command(update, context)
        return
    target = data.int_arg(0)
    if target is None:
        raise Refused()
    lang, settings = person.language, context.settings
    # Each act asks the permission path (bot/people/roles.py) through its service.
    if data.action == "done":
        async with context.db(write=True) as session:
            await next_steps.complete(session, settings, person, target)
        await answer(update, context, t(lang, "step.done_note"))
        when = format_time(context.now(), lang, settings.tz)
        await _stamp(update, t(lang, "step.done_stamp", time=when))
    elif data.action == "sn" and len(data.args) == 2:
        async with context.db(write=True) as session:
            _, due = await next_steps.snooze(session, settings, person, target, data.args[1])
        shown = t(lang, "step.snoozed", time=format_time(due, lang, settings.tz))
        await answer(update, context, shown)
        await _stamp(update, shown)
    elif data.action == "cancel":
        async with context.db(write=True) as session:
            await next_steps.cancel(session, settings, person, target)
        await answer(update, context, t(lang, "step.cancelled"))
        await _stamp(update, t(lang, "step.cancelled"))
    elif data.action == "move":
        async with context.db() as session:
            moving = await next_steps.view(session, person, target)
        shown = format_time(moving.due_at, lang, settings.tz)
        start = Start(step_forms.MOVE_STEP, {"step_id": target, "_current": shown})
        await begin_form(update, context, start)
    elif data.action == "view":
        async with context.db() as session:
            viewed = await next_steps.view(session, person, target)
        await answer(update, context)
        await show(update, render.step_screen(lang, viewed, settings, context.now()))
    elif data.action == "inq":
        await _open_inquiry(update, context, person, target)
    else:
        raise Refused()


async def _stamp(update: Update, note: str) -> None:
    """Mark the reminder (or step) message with what was done, and drop its buttons."""
    query = update.callback_query
    message = query.message if query else None
    if query is None or message is None or not message.is_accessible:
        return
    text = getattr(message, "text_html", None) or ""
    await query.edit_message_text(render.stamped(text, note), reply_markup=None)


async def _open_inquiry(
    update: Update, context: BotContext, person: Person, inquiry_id: int
) -> None:
    """From a step: the inquiry it belongs to, as the staff card with its steps, or for a
    contact who owns the step, their own inquiry's timeline."""
    settings, lang = context.settings, person.language
    async with context.db() as session:
        if person.is_staff:
            card = await pipeline.staff_card(session, settings, person, inquiry_id)
        else:
            found = await inquiries.timeline(session, person, inquiry_id)
    if person.is_staff:
        shown = iviews.staff_card_text(
            lang, card.inquiry, card.program, card.profile, card.contact, settings.tz
        )
        text = render.with_steps(lang, shown, card.steps, settings, context.now())
        screen = views.Screen(text, iviews.staff_keyboard(lang, inquiry_id))
    else:
        screen = iviews.timeline(lang, found.inquiry, found.program, found.events, settings)
    await answer(update, context)
    await reply(update, screen)


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("tasks", tasks_command),
        CommandHandler("overdue", overdue_command),
        CommandHandler("calendar", calendar_command),
        CallbackQueryHandler(step_button, pattern=r"^ns:"),
    ]
