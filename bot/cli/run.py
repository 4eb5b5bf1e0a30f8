"""`partnerbot run`: apply migrations, then poll (or serve the webhook if WEBHOOK_URL is set)."""

from __future__ import annotations

import argparse
import asyncio
import logging

from bot.cli.common import EXIT_OK, Commands, StopRequests, command, prepare
from bot.settings import Settings

log = logging.getLogger("partnerbot")


def add_command(commands: Commands) -> None:
    help_ = "apply migrations and run the bot (polling, or webhook if WEBHOOK_URL is set)"
    command(commands, "run", help_, cmd_run)


def cmd_run(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import ALLOWED_UPDATES, build_application

    early = StopRequests()
    asyncio.run(prepare(settings))
    app = build_application(settings, migrate=False)
    if early.requested:  # stopped while migrating: python-telegram-bot's handlers come later
        log.info("stopped")
        return EXIT_OK
    if settings.webhook_url:
        from bot.web import webhook

        asyncio.run(webhook.serve(app, settings, ALLOWED_UPDATES))
    else:
        log.info("polling for updates")
        app.run_polling(allowed_updates=ALLOWED_UPDATES)
    log.info("stopped")
    return EXIT_OK
