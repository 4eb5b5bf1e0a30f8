"""Enterprise side of the pipeline: register interest (one or a collected list), ask a
question, the profile, /my with timelines and follow-ups, and /forget."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.catalog.service import localized
from bot.context import BotContext
from bot.inquiries import forms as inquiry_forms
from bot.inquiries import service as inquiries
from bot.inquiries import views as iviews
from bot.inquiries.service import InquiryError
from bot.people import forget_views
from bot.people import roles as access
from bot.people.person import Person
from bot.people.roles import Refused
from bot.ui import screens as views
from bot.ui.callbacks import Callback, cb
from bot.ui.i18n import t
from bot.ui.screens import Screen, button
from bot.ui.text import Html, Plain, fit_lines
from handlers import guard
from handlers.forms import begin_form
from handlers.render import answer, reply, show
from storage import inquiries as repo


async def _start_interest(
    update: Update, context: BotContext, person: Person, program_ids: list[int]
) -> None:
    async with context.db(readonly=True) as session:
        for program_id in program_ids:  # Refused: not open, or not for this person
            await inquiries.open_program(session, person, program_id)
        has_profile = await repo.get_profile(session, person.id) is not None
    if has_profile:
        await begin_form(
            update, context, person, inquiry_forms.INTEREST, {"program_ids": program_ids}
        )
    else:
        then = "interest:" + ",".join(str(i) for i in program_ids)
        await begin_form(update, context, person, inquiry_forms.PROFILE, {"_then": then})


@guard.button()
async def interest_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    program_id = data.int_arg(0)
    if data.action == "one" and program_id is not None:
        await _start_interest(update, context, person, [program_id])
        await answer(update)
    elif data.action == "add" and program_id is not None:
        await _add_to_list(update, context, person, program_id)
    elif data.action == "send":
        async with context.db(readonly=True) as session:
            ids = [p.id for p in await inquiries.basket_programs(session, person)]
        if ids:
            await _start_interest(update, context, person, ids)
            await answer(update)
        else:
            await answer(update)
            await show(update, views.with_menu(person, "basket.empty"))
    elif data.action == "clear":
        async with context.db() as session:
            await inquiries.basket_clear(session, person)
        await answer(update)
        await show(update, views.with_menu(person, "basket.cleared"))
    elif data.action == "ask" and program_id is not None:
        if program_id:  # 0: a general question
            async with context.db(readonly=True) as session:
                await access.program(session, person, program_id)
        await begin_form(
            update, context, person, inquiry_forms.QUESTION, {"program_id": program_id or None}
        )
        await answer(update)
    else:
        raise Refused()


async def _add_to_list(
    update: Update, context: BotContext, person: Person, program_id: int
) -> None:
    lang = person.language
    async with context.db() as session:
        programs = await inquiries.basket_add(session, person, program_id)
    await answer(update, t(lang, "basket.added", n=len(programs)))
    lines = [Html("• ", Plain(localized(lang, p.title_zh, p.title_en))) for p in programs]
    text = fit_lines(
        t(lang, "basket.title", n=len(programs)), lines, more=lambda n: t(lang, "list.more", n=n)
    )
    keyboard = InlineKeyboardMarkup(
        [
            [button(lang, "basket.send", cb("i", "send"))],
            [
                button(lang, "basket.clear", cb("i", "clear")),
                button(lang, "btn.catalog", cb("c", "home")),
            ],
        ]
    )
    await reply(update, Screen(text, keyboard))


async def ask_command(update: Update, context: BotContext) -> None:
    await begin_form(update, context, context.sender, inquiry_forms.QUESTION, {"program_id": None})


async def profile_command(update: Update, context: BotContext) -> None:
    person = context.sender
    async with context.db() as session:
        data = await inquiry_forms.profile_data(session, person.id)
    if data is None:
        await begin_form(update, context, person, inquiry_forms.PROFILE)
    else:  # straight to the check screen, where any answer can be changed
        await begin_form(update, context, person, inquiry_forms.PROFILE, data, start_at="_confirm")


async def my_command(update: Update, context: BotContext) -> None:
    person = context.sender
    async with context.db() as session:
        rows = await inquiries.my_inquiries(session, person)
    await reply(update, iviews.my_list(person.language, rows))


@guard.button()
async def my_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    if data.action == "list":
        async with context.db() as session:
            rows = await inquiries.my_inquiries(session, person)
        await answer(update)
        await show(update, iviews.my_list(person.language, rows))
        return
    inquiry_id = data.int_arg(0)
    if data.action not in ("open", "reply") or inquiry_id is None:
        raise Refused()
    async with context.db(readonly=True) as session:
        found = await inquiries.timeline(session, person, inquiry_id)  # Refused: not theirs
    if data.action == "open":
        await answer(update)
        screen = iviews.timeline(
            person.language, found.inquiry, found.program, found.events, context.settings
        )
        await show(update, screen)
    else:
        await begin_form(
            update, context, person, inquiry_forms.FOLLOW_UP, {"inquiry_id": inquiry_id}
        )
        await answer(update)


async def forget_command(update: Update, context: BotContext) -> None:
    person = context.sender
    try:
        async with context.db(readonly=True) as session:
            footprint = await inquiries.forget_preview(session, context.settings, person)
    except InquiryError as refusal:
        await reply(update, views.with_menu(person, refusal.key))
        return
    await reply(update, forget_views.confirm(person.language, footprint))


@guard.button()
async def forget_button(update: Update, context: BotContext, data: Callback) -> None:
    person = context.sender
    if data.action not in ("yes", "no"):
        raise Refused()
    await answer(update)
    if data.action == "no":
        await show(update, views.with_menu(person, "forget.kept"))
        return
    try:
        async with context.db() as session:
            did = await inquiries.forget(session, context.settings, person)
    except InquiryError as refusal:
        await show(update, views.with_menu(person, refusal.key))
        return
    await show(update, forget_views.done(person.language, did))


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CommandHandler("ask", ask_command),
        CommandHandler("profile", profile_command),
        CommandHandler("my", my_command),
        CommandHandler("forget", forget_command),
        CallbackQueryHandler(interest_button, pattern=r"^i:"),
        CallbackQueryHandler(my_button, pattern=r"^my:"),
        CallbackQueryHandler(forget_button, pattern=r"^fg:"),
    ]
