"""`partnerbot demo`: load the demo catalogue (15 bilingual programmes). Loading it again
changes nothing: it is an import like any other, upserted by code."""

from __future__ import annotations

import argparse

from bot.cli.common import EXIT_FAILED, EXIT_OK, Commands, command, in_transaction
from bot.cli.programs import print_report
from bot.formats.spreadsheets import FileFormat
from bot.settings import Settings


def add_command(commands: Commands) -> None:
    help_ = "load the demo catalogue (about 15 programmes; loading it again changes nothing)"
    command(commands, "demo", help_, cmd_demo)


def cmd_demo(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.catalog.demo import DEMO_FILE, load_demo

    report = in_transaction(settings, load_demo)
    print_report(report, DEMO_FILE.name, FileFormat.YAML)
    return EXIT_OK if report.ok else EXIT_FAILED
