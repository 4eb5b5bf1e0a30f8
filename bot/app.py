"""The composition root: builds the Application and registers every handler, in order."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, Defaults

from bot import logs
from bot.broadcasts import forms as broadcast_forms
from bot.catalog import forms as catalog_forms
from bot.context import CONTEXT_TYPES, AfterSave, BotContext, Runtime
from bot.engines import lifecycle
from bot.engines.staff_chat import StaffChat
from bot.forms.engine import FormSpec
from bot.inquiries import forms as inquiry_forms
from bot.next_steps import forms as step_forms
from bot.people import identity
from bot.settings import Settings
from bot.traffic.aiohttp_request import AiohttpRequest, UpdatesRequest
from bot.traffic.order import PerUserOrderedProcessor
from bot.traffic.ratelimit import SendLimiter
from bot.ui import commands
from storage.engine import create_engine, create_session_factory, unit_of_work
from storage.migrate import upgrade

log = logging.getLogger(__name__)

PartnerApp = Application[Any, BotContext, Any, Any, Runtime, Any]

# Updates we act on; others (polls, chat boosts…) are not requested at all.
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
    Update.INLINE_QUERY,
]


def build_application(
    settings: Settings, *, migrate: bool = True, engines: bool = True, web: bool = True
) -> PartnerApp:
    """The bot. `engines` runs the outbox sender and the jobs in this process too; `web`
    serves the Mini App when WEBAPP_URL is set (workers serve nothing)."""
    # Whoever embeds us, no secret (token, webhook secret, DB password) reaches a log.
    logs.add_secrets(settings.secret_values())
    runtime_settings = settings

    async def post_init(app: PartnerApp) -> None:
        runtime = app.bot_data
        runtime.settings = runtime_settings
        runtime.engine = create_engine(runtime_settings.database_url)
        if migrate:
            await upgrade(runtime.engine)
        runtime.sessions = create_session_factory(runtime.engine)
        runtime.staff_chat = StaffChat(runtime_settings, runtime.sessions)
        runtime.bot_username = app.bot.username
        await register_commands(app, runtime_settings)
        await commands.set_descriptions(app.bot)
        if engines:
            await lifecycle.start(app)  # their jobs run once the Application starts
        if web and runtime_settings.webapp_url:
            await start_mini_app(app)

    # The engines stop in Application.stop() (lifecycle.EngineQueue), while the bot can
    # still send; here only if it never ran.
    async def post_shutdown(app: PartnerApp) -> None:
        server = app.bot_data.extras.pop("miniapp", None)
        if server is not None:
            await server.stop()
        await lifecycle.stop(app.bot_data)
        if app.bot_data.engine is not None:
            await app.bot_data.engine.dispose()

    builder = ApplicationBuilder()
    if settings.http_client == "aiohttp":
        # The pool sizes PTB's builder gives httpx: many for sends, one for getUpdates.
        builder = builder.request(AiohttpRequest(256)).get_updates_request(UpdatesRequest(1))
    app: PartnerApp = (
        builder.token(settings.token)
        .base_url(settings.telegram_api_url)
        .base_file_url(settings.telegram_file_url)
        .context_types(CONTEXT_TYPES)
        .defaults(Defaults(parse_mode="HTML"))
        .concurrent_updates(PerUserOrderedProcessor(32))
        .rate_limiter(SendLimiter(settings.send_rate))
        .job_queue(lifecycle.EngineQueue())
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    # Before post_init runs, handlers could in principle see an update; make settings
    # available from the start.
    app.bot_data.settings = settings
    register_handlers(app)
    return app


def register_handlers(app: PartnerApp) -> None:
    from handlers import (
        audit,
        board,
        broadcasts,
        catalog,
        catalog_admin,
        catalog_files,
        errors,
        fallback,
        flood,
        forms,
        inline,
        inquiries,
        invites,
        language,
        next_steps,
        people,
        pipeline,
        privacy,
        staff,
        start,
    )

    register_forms(
        app,
        # Every form, with what its feature does after a save (None: the echo is enough).
        (catalog_forms.NEW_PROGRAM, catalog.card_after_save),
        (catalog_forms.EDIT_FIELD, catalog.card_after_save),
        (inquiry_forms.PROFILE, None),
        (inquiry_forms.INTEREST, None),
        (inquiry_forms.QUESTION, None),
        (inquiry_forms.FOLLOW_UP, None),
        (inquiry_forms.STAFF_REPLY, None),
        (step_forms.NEW_STEP, None),
        (step_forms.MOVE_STEP, None),
        (broadcast_forms.COMPOSE, broadcasts.preview_after_save),
        (broadcast_forms.SCHEDULE, None),
    )
    # Group -2: flood protection, before anything touches the database; drops a user's
    # updates beyond FLOOD_BURST/FLOOD_RATE (others are unaffected).
    app.add_handlers(flood.handlers(), group=-2)
    # Group -1: who is this, and is this a chat we talk in? Stops foreign updates.
    app.add_handlers(people.handlers(), group=-1)
    # Group 0: the answer to an open form's question (and /cancel); stops the update
    # when it was one, so no feature reacts to it too.
    app.add_handlers(forms.input_handlers(), group=0)
    # Group 1: features first, then the fallbacks that answer whatever nobody claimed.
    # Within a group the first matching handler wins, so order matters: replies to our
    # messages (pipeline) and documents (catalog files) before the fallbacks' plain text
    # and "unsupported".
    app.add_handlers(
        [
            *start.handlers(),
            *language.handlers(),
            *catalog.handlers(),
            *catalog_admin.handlers(),
            *forms.handlers(),
            *inquiries.handlers(),
            *privacy.handlers(),
            *next_steps.handlers(),
            *broadcasts.handlers(),
            *pipeline.handlers(),
            *invites.handlers(),
            *fallback.file_handlers(),  # a contact's file goes with a question
            *catalog_files.handlers(),
            *board.handlers(),
            *audit.handlers(),
            *staff.handlers(),
            *inline.handlers(),
            *fallback.handlers(),
        ],
        group=1,
    )
    app.add_error_handler(errors.on_error)


async def start_mini_app(app: PartnerApp) -> None:
    """The Mini App's server (bot/web/miniapp.py) with the API of handlers/webapp.py."""
    from bot.web.miniapp import MiniApp, MiniAppServer
    from handlers import webapp

    server = MiniAppServer(MiniApp(app.bot_data, app.bot, webapp.ROUTES))
    await server.start()
    app.bot_data.extras["miniapp"] = server


def register_forms(app: PartnerApp, *forms: tuple[FormSpec, AfterSave | None]) -> None:
    """The form engine knows no feature: each form is registered here, by name, with the
    after-save hook of the feature that owns it."""
    runtime = app.bot_data
    for spec, hook in forms:
        runtime.forms.add(spec)
        if hook is not None:
            runtime.after_save[spec.name] = hook


async def register_commands(app: PartnerApp, settings: Settings) -> None:
    """The command menu in each language; every teacher and admin gets their role's list
    in their own chat, in their own language."""
    await commands.set_default_menus(app.bot)
    async with unit_of_work(app.bot_data.sessions, write=False) as session:
        staff = await identity.staff_menus(session, settings.admin_ids, settings.default_language)
    for chat_id, lang, role in staff:
        await commands.set_role_menu(app.bot, chat_id, lang, role)
