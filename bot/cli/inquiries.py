"""`partnerbot inquiries export FILE`: every inquiry as CSV or XLSX. Output in English."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    Commands,
    actions,
    command,
    file_to_write,
    in_transaction,
    write_file,
)
from bot.settings import Settings, SettingsError

ACCEPTED = ".csv, .xlsx"


def add_command(commands: Commands) -> None:
    """Add `inquiries export` to the partnerbot parser."""
    inquiries = actions(commands, "inquiries", "export the inquiry pipeline (CSV, XLSX)")
    export_help = "export every inquiry to FILE (only the fields staff need; no Telegram ids)"
    file_to_write(command(inquiries, "export", export_help, cmd_export), ACCEPTED)


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.inquiries.export import detect_format, export_rows, write_rows

    path: Path = args.file
    fmt = detect_format(path.name)
    if fmt is None:
        raise SettingsError(f"{path}: unknown file type; use one of {ACCEPTED}")
    rows = in_transaction(settings, lambda session: export_rows(session, settings.tz))
    if not write_file(path, write_rows(rows, fmt)):
        return EXIT_USAGE
    print(f"Exported {len(rows)} inquiries to {path}")
    return EXIT_OK
