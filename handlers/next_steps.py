"""Next steps in chat: the reminder buttons (done, snooze, open the inquiry), /tasks,
/overdue, /calendar, and moving or cancelling a step."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.inquiries import service as inquiries
from bot.inquiries import views as iviews
from bot.next_steps import forms as step_forms
from bot.next_steps import service as next_steps
from bot.next_steps import views as render
from bot.next_steps.calendar import CalendarItem, steps_to_ics
from bot.people.person import Person
from bot.people.roles import Act, Refused
from bot.ui import screens as views
from bot.ui.callbacks import Callback
from bot.ui.i18n import format_time, t
from handlers import guard
from handlers.forms import begin_form
from handlers.render import answer, reply, show
from storage import inquiries as inquiries_repo
from storage import next_steps as repo
from storage import users as users_repo
from storage.models import utcnow


async def tasks_command(update: Update, context: BotContext) -> None:
    person = context.sender
    async with context.db(readonly=True) as session:
        steps = await next_steps.own_open_steps(session, person)
    await reply(
        update,
        render.tasks(person.language, steps, context.settings, utcnow(), key="step.tasks_head"),
    )


@guard.command(Act.SEE_OVERDUE)
async def overdue_command(update: Update, context: BotContext) -> None:
    person = context.sender
    async with context.db(readonly=True) as session:
        steps = await next_steps.overdue(session, person, utcnow())
    await reply(
        update,
        render.tasks(person.language, steps, context.settings, utcnow(), key="step.overdue_head"),
    )


async def calendar_command(update: Update, context: BotContext) -> None:
    person = context.sender
    settings = context.settings
    async with context.db(readonly=True) as session:
        steps = await next_steps.own_open_steps(session, person, limit=500)
    items = [
        CalendarItem(
            uid=str(s.id), title=s.title, description=f"#{s.inquiry_id} {s.note}".strip(),
            due_utc=s.due_at, url=None, done=False,
        )
        for s in steps
    ]  # fmt: skip
    data = steps_to_ics(
        items, calendar_name=t(person.language, "step.calendar_name"), tz=settings.tz
    )
    chat = update.effective_chat
    if chat is not None:
        await chat.send_document(
            document=data, filename="partnerbot-next-steps.ics",
            caption=t(person.language, "step.calendar_caption", n=len(items)),
        )  # fmt: skip


@guard.button()
async def step_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    target = data.int_arg(0)
    if target is None:
        raise Refused()
    lang, settings = person.language, context.settings
    # Each act asks the permission path (bot/access.py) through its service.
    if data.action == "done":
        async with context.db() as session:
            step = await next_steps.complete(session, settings, person, target)
        await answer(update, t(lang, "step.done_note"))
        await _stamp(
            update, t(lang, "step.done_stamp", time=format_time(utcnow(), lang, settings.tz))
        )
        del step
    elif data.action == "sn" and len(data.args) == 2:
        async with context.db() as session:
            _, when = await next_steps.snooze(session, settings, person, target, data.args[1])
        shown = format_time(when, lang, settings.tz)
        await answer(update, t(lang, "step.snoozed", time=shown))
        await _stamp(update, t(lang, "step.snoozed", time=shown))
    elif data.action == "cancel":
        async with context.db() as session:
            await next_steps.cancel(session, settings, person, target)
        await answer(update, t(lang, "step.cancelled"))
        await _stamp(update, t(lang, "step.cancelled"))
    elif data.action == "move":
        async with context.db(readonly=True) as session:
            moving = await next_steps.view(session, person, target)
        await answer(update)
        shown = format_time(moving.due_at, lang, settings.tz)
        await begin_form(
            update,
            context,
            person,
            step_forms.MOVE_STEP,
            {"step_id": target, "_current": shown},
        )
    elif data.action == "view":
        async with context.db(readonly=True) as session:
            viewed = await next_steps.view(session, person, target)
        await answer(update)
        await show(update, render.step_screen(lang, viewed, settings, utcnow()))
    elif data.action == "inq":
        await _open_inquiry(update, context, person, target)
    elif data.action == "list":
        await answer(update)
        await tasks_command(update, context)
    else:
        raise Refused()


async def _stamp(update: Update, note: str) -> None:
    """Mark the reminder (or step) message with what was done, and drop its buttons."""
    query = update.callback_query
    message = query.message if query else None
    if query is None or message is None or not message.is_accessible:
        return
    text = getattr(message, "text_html", None) or ""
    await query.edit_message_text(f"{text}\n\n{note}", reply_markup=None)


async def _open_inquiry(
    update: Update, context: BotContext, person: Person, inquiry_id: int
) -> None:
    settings = context.settings
    lang = person.language
    async with context.db(readonly=True) as session:
        if not person.is_staff:  # a contact who owns a step: their own inquiry's timeline
            found = await inquiries.timeline(session, person, inquiry_id)
            screen = iviews.timeline(lang, found.inquiry, found.program, found.events, settings)
        else:
            view = await inquiries.staff_view(session, settings, person, inquiry_id)
            inquiry = view.inquiry
            profile = (
                await inquiries_repo.get_profile(session, inquiry.user_id)
                if inquiry.user_id
                else None
            )
            contact = (
                await users_repo.get_user(session, inquiry.user_id) if inquiry.user_id else None
            )
            card = iviews.staff_card_text(
                lang, view.inquiry, view.program, profile, contact, settings.tz
            )
            steps = await repo.steps_of_inquiry(session, inquiry_id)
            text = render.with_steps(lang, card, steps, settings, utcnow())
            screen = views.Screen(text, iviews.staff_keyboard(lang, inquiry_id))
    await answer(update)
    await reply(update, screen)


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("tasks", tasks_command),
        CommandHandler("overdue", overdue_command),
        CommandHandler("calendar", calendar_command),
        CallbackQueryHandler(step_button, pattern=r"^ns:"),
    ]
