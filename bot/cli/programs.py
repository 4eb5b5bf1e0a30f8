"""`partnerbot programs import|export FILE`. Output in English.

Each works in one transaction on the migrated database (bot/cli/common.py). A rejected
import prints every bad row and exits 1 with nothing saved.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.catalog.files import ACCEPTED, MAX_BYTES, detect_format
from bot.catalog.imports import ImportReport, render
from bot.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Commands,
    actions,
    command,
    error,
    file_to_write,
    in_transaction,
    write_file,
)
from bot.formats.spreadsheets import FileError, FileFormat
from bot.settings import Settings, SettingsError


def add_command(commands: Commands) -> None:
    """Add `programs import|export` to the partnerbot parser."""
    programs = actions(
        commands, "programs", "import or export the programme catalogue (CSV, XLSX, YAML)"
    )
    import_help = "import programmes from FILE (upsert by code; a file with errors saves nothing)"
    import_ = command(programs, "import", import_help, cmd_import)
    import_.add_argument("file", metavar="FILE", type=Path, help=f"a {ACCEPTED} file")
    export = command(programs, "export", "export every programme to FILE", cmd_export)
    file_to_write(export, ACCEPTED)


def _format_of(path: Path) -> FileFormat:
    fmt = detect_format(path.name)
    if fmt is None:
        raise SettingsError(f"{path}: unknown file type; use one of {ACCEPTED}")
    return fmt


def print_report(report: ImportReport, name: str, fmt: FileFormat) -> None:
    """The import's outcome in English: counts on stdout, or every bad row on stderr."""
    if report.ok:
        print(
            render(
                "files.report_ok",
                {
                    "name": name,
                    "created": report.created,
                    "updated": report.updated,
                    "unchanged": report.unchanged,
                    "departments": report.departments_created,
                },
                "en",
            )
        )
        return
    label = "files.item" if fmt is FileFormat.YAML else "files.row"
    for bad in report.errors:
        print(render(label, {"row": bad.row, "reason": bad.text("en")}, "en"), file=sys.stderr)
    values = {"name": name, "bad": report.bad_rows, "total": report.rows}
    print(render("files.report_rejected", values, "en"), file=sys.stderr)


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.catalog.imports import import_programs
    from bot.catalog.safe_reader import read_rows_safely

    path: Path = args.file
    fmt = _format_of(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise FileError("files.too_big", limit=MAX_BYTES // (1024 * 1024))
        # The same limited reader as the bot's: a file given to the CLI may come from
        # anywhere too.
        table = asyncio.run(read_rows_safely(path.read_bytes(), fmt))
    except OSError as exc:
        error(f"{path}: {exc.strerror or exc}")
        return EXIT_USAGE
    except FileError as exc:
        reason = render(exc.key, exc.values, "en")
        print(
            render("files.file_rejected", {"name": path, "reason": reason}, "en"), file=sys.stderr
        )
        return EXIT_FAILED

    # import_programs writes nothing unless every row is valid, so committing a rejected
    # import commits nothing.
    report = in_transaction(
        settings, lambda session: import_programs(session, table.rows, source=path.name)
    )
    print_report(report, path.name, fmt)
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.catalog.files import write_rows
    from bot.catalog.imports import export_rows

    path: Path = args.file
    fmt = _format_of(path)
    rows = in_transaction(settings, export_rows)
    if not write_file(path, write_rows(rows, fmt)):
        return EXIT_USAGE
    print(f"Exported {len(rows)} programmes to {path}")
    return EXIT_OK
