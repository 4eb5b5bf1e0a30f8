"""`partnerbot db upgrade`: apply pending migrations only. (`db copy` is bot/cli/copy.py.)"""

from __future__ import annotations

import argparse
import asyncio
import logging

from bot.cli.common import EXIT_OK, Commands, prepare
from bot.settings import Settings

log = logging.getLogger("partnerbot")


def add_command(commands: Commands) -> Commands:
    """Add `db upgrade`; returns the `db` actions, for the others to join."""
    db = commands.add_parser("db", help="database maintenance")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    actions.add_parser("upgrade", help="apply all pending migrations").set_defaults(
        handler=cmd_upgrade
    )
    return actions


def cmd_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(prepare(settings))
    log.info("database is up to date")
    return EXIT_OK
