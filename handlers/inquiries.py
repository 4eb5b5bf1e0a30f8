"""The contact's side of the inquiries: register interest (in one programme, or in a
collected list), ask a question, the profile, and /my with timelines and follow-ups.
Callback prefixes `i:` (interest, list, question) and `my:`."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.inquiries import forms as inquiry_forms
from bot.inquiries import service as inquiries
from bot.inquiries import views as iviews
from bot.people.roles import Refused
from bot.ui import screens as views
from bot.ui.callbacks import Callback
from bot.ui.i18n import t
from handlers import guard
from handlers.forms import begin_form
from handlers.render import answer, reply, show


@guard.button()
async def interest_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    program_id = data.int_arg(0)
    if data.action == "one" and program_id is not None:
        await begin_form(
            update, context, lambda s: inquiry_forms.interest_start(s, person, [program_id])
        )
    elif data.action == "add" and program_id is not None:
        async with context.db(write=True) as session:
            programs = await inquiries.basket_add(session, person, program_id)
        await answer(update, context, t(person.language, "basket.added", n=len(programs)))
        await reply(update, iviews.basket(person.language, programs))
    elif data.action == "send":
        async with context.db() as session:
            found = await inquiry_forms.basket_start(session, person)
        if found is None:
            await answer(update, context)
            await show(update, views.with_menu(person, "basket.empty"))
        else:
            await begin_form(update, context, found)
            await answer(update, context)
    elif data.action == "clear":
        async with context.db(write=True) as session:
            await inquiries.basket_clear(session, person)
        await answer(update, context)
        await show(update, views.with_menu(person, "basket.cleared"))
    elif data.action == "ask" and program_id is not None:
        await begin_form(
            update, context, lambda s: inquiry_forms.question_start(s, person, program_id)
        )
    else:
        raise Refused()


async def ask_command(update: Update, context: BotContext) -> None:
    person = context.sender
    await begin_form(update, context, lambda s: inquiry_forms.question_start(s, person, None))


async def profile_command(update: Update, context: BotContext) -> None:
    person = context.sender
    await begin_form(update, context, lambda s: inquiry_forms.profile_start(s, person))


async def my_command(update: Update, context: BotContext) -> None:
    person = context.sender
    async with context.db() as session:
        rows = await inquiries.my_inquiries(session, person)
    await reply(update, iviews.my_list(person.language, rows))


@guard.button()
async def my_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    inquiry_id = data.int_arg(0)
    if data.action == "list":
        async with context.db() as session:
            rows = await inquiries.my_inquiries(session, person)
        await answer(update, context)
        await show(update, iviews.my_list(person.language, rows))
    elif data.action == "open" and inquiry_id is not None:
        async with context.db() as session:
            found = await inquiries.timeline(session, person, inquiry_id)  # Refused: not theirs
        await answer(update, context)
        await show(
            update,
            iviews.timeline(
                person.language, found.inquiry, found.program, found.events, context.settings
            ),
        )
    elif data.action == "reply" and inquiry_id is not None:
        await begin_form(
            update, context, lambda s: inquiry_forms.follow_up_start(s, person, inquiry_id)
        )
    else:
        raise Refused()


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("ask", ask_command),
        CommandHandler("profile", profile_command),
        CommandHandler("my", my_command),
        CallbackQueryHandler(interest_button, pattern=r"^i:"),
        CallbackQueryHandler(my_button, pattern=r"^my:"),
    ]
