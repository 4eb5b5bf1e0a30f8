"""`partnerbot db upgrade`: apply pending migrations only. (`db copy` is bot/cli/copy.py.)"""

from __future__ import annotations

import argparse
import asyncio
import logging

from bot.cli.common import EXIT_OK, Commands, actions, command, prepare
from bot.settings import Settings

log = logging.getLogger("partnerbot")


def add_command(commands: Commands) -> Commands:
    """Add `db upgrade`; returns the `db` actions, for the others to join."""
    db = actions(commands, "db", "database maintenance")
    command(db, "upgrade", "apply all pending migrations", cmd_upgrade)
    return db


def cmd_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(prepare(settings))
    log.info("database is up to date")
    return EXIT_OK
