"""Enterprise side of the pipeline: register interest (one or a collected list), ask a
question, the profile, /my with timelines and follow-ups, and /forget."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import forget_views, inquiries, inquiry_forms, views
from bot import inquiry_views as iviews
from bot.callbacks import cb, parse
from bot.catalog import localized
from bot.context import BotContext
from bot.i18n import t
from bot.inquiries import InquiryError
from bot.roles import Person
from bot.views import Screen, button
from handlers.forms import begin_form
from handlers.render import answer, reply, show
from storage import inquiries as repo


async def _start_interest(
    update: Update, context: BotContext, person: Person, program_ids: list[int]
) -> None:
    async with context.db() as session:
        has_profile = await repo.get_profile(session, person.id) is not None
    if has_profile:
        await begin_form(
            update, context, person, inquiry_forms.INTEREST, {"program_ids": program_ids}
        )
    else:
        then = "interest:" + ",".join(str(i) for i in program_ids)
        await begin_form(update, context, person, inquiry_forms.PROFILE, {"_then": then})


async def interest_button(update: Update, context: BotContext) -> None:
    person = context.sender
    data = parse(update.callback_query.data if update.callback_query else None)
    if data is None:
        await _stale(update, person)
        return
    program_id = data.int_arg(0)
    if data.action == "one" and program_id is not None:
        await answer(update)
        await _start_interest(update, context, person, [program_id])
    elif data.action == "add" and program_id is not None:
        await _add_to_list(update, context, person, program_id)
    elif data.action == "send":
        async with context.db() as session:
            ids = await repo.basket(session, person.id)
        await answer(update)
        if ids:
            await _start_interest(update, context, person, ids)
        else:
            await show(update, views.with_menu(person, "basket.empty"))
    elif data.action == "clear":
        async with context.db() as session:
            await repo.clear_basket(session, person.id, await repo.basket(session, person.id))
        await answer(update)
        await show(update, views.with_menu(person, "basket.cleared"))
    elif data.action == "ask":
        await answer(update)
        await begin_form(
            update, context, person, inquiry_forms.QUESTION, {"program_id": program_id or None}
        )
    else:
        await _stale(update, person)


async def _add_to_list(
    update: Update, context: BotContext, person: Person, program_id: int
) -> None:
    lang = person.language
    async with context.db() as session:
        programs = await repo.programs_by_ids(session, [program_id])
        if program_id not in programs:
            ids: list[int] = []
        else:
            await repo.add_to_basket(session, person.id, program_id)
            ids = await repo.basket(session, person.id)
        titles = await repo.programs_by_ids(session, ids)
    if not ids:
        await _stale(update, person)
        return
    await answer(update, t(lang, "basket.added", n=len(ids)))
    lines = [t(lang, "basket.title", n=len(ids))]
    lines += [f"• {escape(localized(lang, p.title_zh, p.title_en))}" for p in titles.values()]
    keyboard = InlineKeyboardMarkup(
        [
            [button(lang, "basket.send", cb("i", "send"))],
            [
                button(lang, "basket.clear", cb("i", "clear")),
                button(lang, "btn.catalog", cb("c", "home")),
            ],
        ]
    )
    await reply(update, Screen("\n".join(lines), keyboard))


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


async def my_button(update: Update, context: BotContext) -> None:
    person = context.sender
    data = parse(update.callback_query.data if update.callback_query else None)
    if data is None:
        await _stale(update, person)
        return
    if data.action == "list":
        async with context.db() as session:
            rows = await inquiries.my_inquiries(session, person)
        await answer(update)
        await show(update, iviews.my_list(person.language, rows))
        return
    inquiry_id = data.int_arg(0)
    if inquiry_id is None:
        await _stale(update, person)
        return
    try:
        async with context.db() as session:
            found = await inquiries.timeline(session, person, inquiry_id)
    except InquiryError:
        await _stale(update, person)
        return
    await answer(update)
    if data.action == "open":
        screen = iviews.timeline(
            person.language, found.inquiry, found.program, found.events, context.settings
        )
        await show(update, screen)
    elif data.action == "reply":
        await begin_form(
            update, context, person, inquiry_forms.FOLLOW_UP, {"inquiry_id": inquiry_id}
        )
    else:
        await _stale(update, person)


async def forget_command(update: Update, context: BotContext) -> None:
    person = context.sender
    try:
        async with context.db(readonly=True) as session:
            footprint = await inquiries.forget_preview(session, context.settings, person)
    except InquiryError as refusal:
        await reply(update, views.with_menu(person, refusal.key))
        return
    await reply(update, forget_views.confirm(person.language, footprint))


async def forget_button(update: Update, context: BotContext) -> None:
    person = context.sender
    data = parse(update.callback_query.data if update.callback_query else None)
    if data is None or data.action not in ("yes", "no"):
        await _stale(update, person)
        return
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


async def _stale(update: Update, person: Person) -> None:
    await answer(update, t(person.language, "button.stale"))
    await show(update, views.main_menu(person))


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
