"""`partnerbot programs import|export FILE` and `partnerbot demo`. Output in English.

Each command opens the engine from the settings, applies migrations, does its work in one
transaction and disposes of the engine. A rejected import prints every bad row and exits 1
with nothing saved.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.catalog.files import ACCEPTED, MAX_BYTES, detect_format
from bot.catalog.imports import ImportReport, render
from bot.formats.spreadsheets import FileError, FileFormat
from bot.settings import Settings, SettingsError

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `programs import|export` and `demo` to the partnerbot parser."""
    programs = subparsers.add_parser(
        "programs", help="import or export the programme catalogue (CSV, XLSX, YAML)"
    )
    actions = programs.add_subparsers(dest="programs_command", required=True, metavar="ACTION")
    import_ = actions.add_parser(
        "import",
        help="import programmes from FILE (upsert by code; a file with errors saves nothing)",
    )
    import_.add_argument("file", metavar="FILE", type=Path, help=f"a {ACCEPTED} file")
    import_.set_defaults(handler=cmd_import)
    export = actions.add_parser("export", help="export every programme to FILE")
    export.add_argument(
        "file",
        metavar="FILE",
        type=Path,
        help=f"the file to write; format from its extension ({ACCEPTED})",
    )
    export.set_defaults(handler=cmd_export)
    demo = subparsers.add_parser(
        "demo",
        help="load the demo catalogue (about 15 programmes; loading it again changes nothing)",
    )
    demo.set_defaults(handler=cmd_demo)


def _format_of(path: Path) -> FileFormat:
    fmt = detect_format(path.name)
    if fmt is None:
        raise SettingsError(f"{path}: unknown file type; use one of {ACCEPTED}")
    return fmt


@asynccontextmanager
async def _transaction(settings: Settings) -> AsyncIterator[AsyncSession]:
    from sqlalchemy.exc import DBAPIError, OperationalError

    from storage.engine import create_engine, create_session_factory
    from storage.migrate import upgrade

    engine = create_engine(settings.database_url)
    try:
        try:
            await upgrade(engine)
        except (OperationalError, DBAPIError, OSError) as exc:
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            raise SettingsError(f"DATABASE_URL: cannot open the database: {reason}") from None
        async with create_session_factory(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def main() -> T:
        async with _transaction(settings) as session:
            return await work(session)

    return asyncio.run(main())


def print_report(report: ImportReport, name: str, fmt: FileFormat) -> None:
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
    for error in report.errors:
        print(render(label, {"row": error.row, "reason": error.text("en")}, "en"), file=sys.stderr)
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
        print(f"partnerbot: {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except FileError as exc:
        reason = render(exc.key, exc.values, "en")
        print(
            render("files.file_rejected", {"name": path, "reason": reason}, "en"), file=sys.stderr
        )
        return EXIT_REJECTED

    # import_programs writes nothing unless every row is valid, so committing a rejected
    # import commits nothing.
    report = _run(settings, lambda session: import_programs(session, table.rows, source=path.name))
    print_report(report, path.name, fmt)
    return EXIT_OK if report.ok else EXIT_REJECTED


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.catalog.files import write_rows
    from bot.catalog.imports import export_rows

    path: Path = args.file
    fmt = _format_of(path)
    rows = _run(settings, export_rows)
    try:
        path.write_bytes(write_rows(rows, fmt))
    except OSError as exc:
        print(f"partnerbot: {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Exported {len(rows)} programmes to {path}")
    return EXIT_OK


def cmd_demo(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.catalog.demo import DEMO_FILE, load_demo

    report = _run(settings, load_demo)
    print_report(report, DEMO_FILE.name, FileFormat.YAML)
    return EXIT_OK if report.ok else EXIT_REJECTED
