"""`partnerbot db copy --from SOURCE`: move house from SQLite to PostgreSQL.

Copies every table of SOURCE (a SQLite file, or any database URL partnerbot supports)
into the database of DATABASE_URL. The target is migrated to head first and must be
empty; the copy is one transaction on it, so a failed copy leaves it empty. SOURCE must
already be at this partnerbot's migration head (it is only read, never migrated here).
Stop the bot before copying, so nothing is written to SOURCE meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot import logs
from bot.cli.common import EXIT_FAILED, EXIT_OK, Commands, command, database, error
from bot.formats import url_secrets
from bot.settings import SYNC_TO_ASYNC, Settings, SettingsError


def add_command(db_actions: Commands) -> None:
    """Add `db copy` to the `db` actions (bot/cli/db.py)."""
    copy = command(
        db_actions,
        "copy",
        "copy every table of another database (e.g. the old SQLite file) into the "
        "empty database of DATABASE_URL",
        cmd_copy,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    copy.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="SOURCE",
        help="a SQLite file (data/partnerbot.sqlite3) or a URL (sqlite:///data/partnerbot.sqlite3)",
    )
    copy.add_argument(
        "--batch", type=int, default=1000, metavar="ROWS", help="rows per insert (1000)"
    )


def source_url(text: str) -> str:
    """A path or a URL → the async SQLAlchemy URL to read it with."""
    if "://" not in text:
        return f"sqlite+aiosqlite:///{Path(text).expanduser().resolve()}"
    try:
        url = make_url(url_secrets.repair(text))
    except (ArgumentError, ValueError):
        raise SettingsError(
            f"--from: not a file path or database URL: {url_secrets.mask(text)}"
        ) from None
    return url.set(drivername=SYNC_TO_ASYNC.get(url.drivername, url.drivername)).render_as_string(
        hide_password=False
    )


def shown(url: str) -> str:
    return url_secrets.mask(url)


def _same_database(a: str, b: str) -> bool:
    ua, ub = make_url(a), make_url(b)
    if ua.get_backend_name() == ub.get_backend_name() == "sqlite":
        return Path(ua.database or "").resolve() == Path(ub.database or "").resolve()
    return ua == ub


def cmd_copy(args: argparse.Namespace, settings: Settings) -> int:
    source = source_url(args.source)
    parsed = make_url(source)
    logs.add_secrets(url_secrets.password_forms(parsed))  # like DATABASE_URL's
    if parsed.drivername not in SYNC_TO_ASYNC.values():
        raise SettingsError(f"--from: unsupported database driver {parsed.drivername}")
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        raise SettingsError(f"--from: no such SQLite file: {parsed.database}")
    if _same_database(source, settings.database_url):
        raise SettingsError("--from names the database of DATABASE_URL itself; nothing to copy")
    if args.batch < 1:
        raise SettingsError("--batch must be at least 1")
    return asyncio.run(_copy(source, settings, args.batch))


async def _copy(source: str, settings: Settings, batch: int) -> int:
    from storage.copy import CopiedTable, CopyError, copy_database

    # The source is only read, never migrated; the target goes to head first, so both
    # sides have the same schema.
    async with database(source, label="--from", migrate=False) as src:
        current, heads = await src.revisions()
        if current != heads:
            at = ", ".join(sorted(current)) or "none"
            error(
                f"the source is at migration {at}, this partnerbot expects "
                f"{', '.join(sorted(heads))}; upgrade it first: "
                f"DATABASE_URL={shown(source)} partnerbot db upgrade"
            )
            return EXIT_FAILED
        async with database(settings.database_url) as target:
            print(f"Copying {shown(source)} → {shown(settings.database_url)}", flush=True)

            def report(table: CopiedTable) -> None:
                print(f"  {table.name:<24} {table.rows:>9} rows", flush=True)

            try:
                copied = await copy_database(
                    src.engine, target.engine, batch=batch, on_table=report
                )
            except CopyError as exc:
                error(f"copy refused or failed, nothing was written: {exc}")
                return EXIT_FAILED
    total = sum(t.rows for t in copied)
    print(f"Done: {total} rows in {len(copied)} tables; sequences reset where there are any.")
    return EXIT_OK
