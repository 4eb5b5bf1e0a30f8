"""The composition root: builds the Application and registers every handler, in order."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, Defaults

from bot import logs
from bot.broadcasts import forms as broadcast_forms
from bot.broadcasts import service as broadcasts
from bot.broadcasts import views as broadcast_views
from bot.catalog import forms as catalog_forms
from bot.context import CONTEXT_TYPES, AfterSave, BotContext, Runtime
from bot.engines import delivery_report
from bot.engines.housekeeping import purge
from bot.engines.outbox import OutboxSender
from bot.engines.scheduler import Ticker
from bot.engines.send_share import HEARTBEAT, SendShare
from bot.engines.staff_chat import StaffChat
from bot.forms.engine import FormSpec
from bot.inquiries import forms as inquiry_forms
from bot.inquiries import service as inquiries
from bot.next_steps import forms as step_forms
from bot.next_steps import service as next_steps
from bot.settings import Settings
from bot.traffic.order import PerUserOrderedProcessor
from bot.traffic.ratelimit import PACED, SendLimiter
from bot.ui.i18n import LANGUAGES, t
from storage import broadcasts as broadcast_repo
from storage import users as users_repo
from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import utcnow

log = logging.getLogger(__name__)

PartnerApp = Application[Any, BotContext, Any, Any, Runtime, Any]

USER_COMMANDS = (
    "start", "catalog", "search", "my", "ask", "profile", "tasks", "calendar", "help",
    "language", "cancel", "forget", "unsubscribe",
)  # fmt: skip
ADMIN_COMMANDS = (
    *USER_COMMANDS,
    "overdue",
    "broadcast",
    "broadcasts",
    "newprogram",
    "invite",
    "invites",
    "export",
    "inquiries",
    "stats",
    "export_inquiries",
    "audit",
    "staff",
)
# Updates we act on; others (polls, chat boosts…) are not requested at all.
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
]


def build_application(
    settings: Settings, *, migrate: bool = True, engines: bool = True
) -> PartnerApp:
    """The bot. `engines` runs the outbox sender (and scheduler) in this process too."""
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
        if engines:
            # Every sending process beats: its heartbeat renews its outbox leases, and
            # (with our limiter) takes its share of SEND_RATE before any send.
            limiter = app.bot.rate_limiter
            share = SendShare(
                runtime.sessions,
                limiter if isinstance(limiter, SendLimiter) else None,
                runtime_settings.send_rate,
                lease=timedelta(seconds=runtime_settings.outbox_lease_seconds),
            )
            await share.beat()
            runtime.send_share = share
            start_engines(app)

    async def post_stop(app: PartnerApp) -> None:
        # Engines stop while the bot can still send: in-flight sends finish cleanly.
        await stop_engines(app)

    async def post_shutdown(app: PartnerApp) -> None:
        await stop_engines(app)
        if app.bot_data.engine is not None:
            await app.bot_data.engine.dispose()

    app: PartnerApp = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.telegram_api_url)
        .base_file_url(settings.telegram_file_url)
        .context_types(CONTEXT_TYPES)
        .defaults(Defaults(parse_mode="HTML"))
        .concurrent_updates(PerUserOrderedProcessor(32))
        .rate_limiter(SendLimiter(settings.send_rate))
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
        .build()
    )
    # Before post_init runs, handlers could in principle see an update; make settings
    # available from the start.
    app.bot_data.settings = settings
    register_handlers(app)
    return app


def runtime_settings_of(app: PartnerApp) -> Settings:
    settings = app.bot_data.settings
    if settings is None:
        raise RuntimeError("settings are not loaded")
    return settings


def start_engines(app: PartnerApp) -> None:
    """The parts that outlive one update: the outbox sender and the tickers."""
    runtime = app.bot_data
    if runtime.sessions is None or runtime.send_share is None:
        raise RuntimeError("database is not open, or the process has no heartbeat")
    settings = runtime_settings_of(app)
    # About two seconds of sending per claim: a paused or cancelled broadcast stops
    # within that, and a crash repeats at most that many sends.
    batch = max(1, min(50, int(settings.send_rate * 2)))
    share = runtime.send_share
    runtime.outbox = OutboxSender(
        app.bot,
        runtime.sessions,
        batch=batch,
        lease=share.lease,
        owner=share.instance_id,  # the heartbeat that renews the leases is ours
        chats=runtime.staff_chat,
    )
    share.leases = runtime.outbox
    runtime.outbox.start()
    runtime.outbox.wake()  # whatever was queued while we were down goes out now
    sessions, outbox = runtime.sessions, runtime.outbox

    async def first_response() -> datetime | None:
        async with sessions() as session, session.begin():
            queued = await inquiries.escalate_due(session, settings, utcnow())
            next_due = await inquiries.next_escalation_at(session, settings)
        if queued:
            outbox.wake()
        return next_due

    async def reminders() -> datetime | None:
        while True:  # drain everything due, a batch per transaction
            async with sessions() as session, session.begin():
                queued = await next_steps.dispatch_due(session, settings, utcnow())
            if queued:
                outbox.wake()
            if queued < next_steps.DISPATCH_BATCH:
                break
        async with sessions() as session:
            return await next_steps.next_due_at(session)

    async def digests() -> datetime | None:
        now = utcnow()
        async with sessions() as session, session.begin():
            queued = await next_steps.send_digests(session, settings, now)
        if queued:
            outbox.wake()
        return await next_steps.next_digest_at(settings, now)

    bot = app.bot
    last_edit: dict[int, datetime] = {}

    async def announcements() -> datetime | None:
        now = utcnow()
        async with sessions() as session, session.begin():
            reports = await broadcasts.tick(session, settings, runtime.bot_username, now)
            chats = {r.broadcast.id: await _progress_chat(session, r.broadcast) for r in reports}
        if reports:
            outbox.wake()
        for report in reports:
            target = chats.get(report.broadcast.id)
            last = last_edit.get(report.broadcast.id)
            if target is None or (
                not report.finished and last is not None and now - last < PROGRESS_EVERY
            ):
                continue
            last_edit[report.broadcast.id] = now
            # Read again right before editing: an admin may have paused it meanwhile.
            async with sessions() as session:
                fresh = await broadcast_repo.get(session, report.broadcast.id)
                if fresh is None:
                    continue
                latest = await broadcasts.progress(session, fresh, utcnow())
            await _edit_progress(bot, target, latest, settings, now)
        if any(not r.finished for r in reports):
            return now + PROGRESS_EVERY
        async with sessions() as session:
            return await broadcast_repo.next_scheduled_at(session)

    async def housekeeping() -> datetime | None:
        async with sessions() as session, session.begin():
            return await purge(session, utcnow())

    async def failure_reports() -> datetime | None:
        async with sessions() as session:  # a read first: most ticks have nothing to report
            await session.connection(execution_options={"sqlite_readonly": True})
            due = await delivery_report.next_report_at(session)
        if due is None or due > utcnow():
            return due
        async with sessions() as session, session.begin():
            queued = await delivery_report.report_due(session, settings, utcnow())
        if queued:
            outbox.wake()
        return utcnow()  # once more: a later minute may be over too

    # The heartbeat keeps its own pace (a safety tick adds nothing to it); the others
    # also look on the safety tick for what other processes planned.
    for name, work, tick in (
        ("send-share", share.beat, HEARTBEAT.total_seconds()),
        ("first-response", first_response, settings.safety_tick_seconds),
        ("reminders", reminders, settings.safety_tick_seconds),
        ("digests", digests, settings.safety_tick_seconds),
        ("broadcasts", announcements, settings.safety_tick_seconds),
        ("delivery-reports", failure_reports, settings.safety_tick_seconds),
        ("housekeeping", housekeeping, settings.safety_tick_seconds),
    ):
        ticker = Ticker(name, work, tick=tick)
        ticker.start()
        runtime.tickers.append(ticker)
        if name == "delivery-reports":
            outbox.on_failed = ticker.wake  # a new failure: plan its report


PROGRESS_EVERY = timedelta(seconds=3)  # live progress edits, at most this often


async def _progress_chat(session: Any, broadcast: Any) -> tuple[int, int, str] | None:
    if broadcast.progress_chat_id is None or broadcast.progress_message_id is None:
        return None
    author = (
        await users_repo.get_user(session, broadcast.author_id) if broadcast.author_id else None
    )
    lang = author.language if author else "en"
    return broadcast.progress_chat_id, broadcast.progress_message_id, lang


async def _edit_progress(
    bot: Any, target: tuple[int, int, str], report: Any, settings: Settings, now: datetime
) -> None:
    chat_id, message_id, lang = target
    screen = broadcast_views.progress(lang, report, settings, now)
    try:
        await bot.edit_message_text(
            screen.text,
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=screen.keyboard,
            rate_limit_args=PACED,  # the admin's chat also gets the announcement itself
        )
    except TelegramError as exc:  # "not modified" and the like: the next tick tries again
        log.debug("progress edit skipped: %s", exc)


async def stop_engines(app: PartnerApp) -> None:
    # The sender first, while the heartbeat still renews its leases; it hands back what
    # it did not send. Then the tickers, the heartbeat among them, and the share.
    if app.bot_data.outbox is not None:
        await app.bot_data.outbox.stop()
        app.bot_data.outbox = None
    for ticker in app.bot_data.tickers:
        await ticker.stop()
    app.bot_data.tickers.clear()
    share, app.bot_data.send_share = app.bot_data.send_share, None
    if share is not None:
        try:
            await share.leave()
        except Exception:  # the database may be gone already; the heartbeat just ages out
            log.warning("could not sign off from the send share", exc_info=True)


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
            *catalog_files.handlers(),
            *board.handlers(),
            *audit.handlers(),
            *staff.handlers(),
            *fallback.handlers(),
        ],
        group=1,
    )
    app.add_error_handler(errors.on_error)


def register_forms(app: PartnerApp, *forms: tuple[FormSpec, AfterSave | None]) -> None:
    """The form engine knows no feature: each form is registered here, by name, with the
    after-save hook of the feature that owns it."""
    runtime = app.bot_data
    for spec, hook in forms:
        runtime.forms.add(spec)
        if hook is not None:
            runtime.after_save[spec.name] = hook


async def register_commands(app: PartnerApp, settings: Settings) -> None:
    """The command menu in each language; admins get their own list in their chat."""
    for lang in LANGUAGES:
        commands = [BotCommand(c, t(lang, f"cmd.{c}")) for c in USER_COMMANDS]
        code = None if lang == "en" else lang  # English is the default for other languages
        await app.bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=code)
    for admin_id in settings.admin_ids:
        lang = settings.default_language
        commands = [BotCommand(c, t(lang, f"cmd.{c}")) for c in ADMIN_COMMANDS]
        try:
            await app.bot.set_my_commands(commands, scope=BotCommandScopeChat(admin_id))
        except TelegramError as exc:  # an admin who never opened the bot: not fatal
            log.warning("could not set the admin commands for %s: %s", admin_id, exc)
