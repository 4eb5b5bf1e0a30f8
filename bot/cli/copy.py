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
import sys
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from bot import logs
from bot.formats import url_secrets
from bot.settings import SYNC_TO_ASYNC, Settings, SettingsError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_command(db_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    copy = db_commands.add_parser(
        "copy",
        help="copy every table of another database (e.g. the old SQLite file) into the "
        "empty database of DATABASE_URL",
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
    copy.set_defaults(handler=cmd_copy)


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
    from bot.cli import _prepare_database
    from storage.copy import CopiedTable, CopyError, copy_database
    from storage.engine import create_engine
    from storage.migrate import revision_status

    src = create_engine(source)
    try:
        try:
            current, heads = await revision_status(src)
        except (OperationalError, DBAPIError, OSError) as exc:
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            raise SettingsError(f"--from: cannot open {shown(source)}: {reason}") from None
        if current != heads:
            at = ", ".join(sorted(current)) or "none"
            print(
                f"partnerbot: the source is at migration {at}, this partnerbot expects "
                f"{', '.join(sorted(heads))}; upgrade it first: "
                f"DATABASE_URL={shown(source)} partnerbot db upgrade",
                file=sys.stderr,
            )
            return EXIT_FAILED
        await _prepare_database(settings)  # the target, to head: same schema both sides
        print(f"Copying {shown(source)} → {shown(settings.database_url)}", flush=True)
        target = create_engine(settings.database_url)

        def report(table: CopiedTable) -> None:
            print(f"  {table.name:<24} {table.rows:>9} rows", flush=True)

        try:
            copied = await copy_database(src, target, batch=batch, on_table=report)
        except CopyError as exc:
            print(
                f"partnerbot: copy refused or failed, nothing was written: {exc}", file=sys.stderr
            )
            return EXIT_FAILED
        finally:
            await target.dispose()
    finally:
        await src.dispose()
    total = sum(t.rows for t in copied)
    print(f"Done: {total} rows in {len(copied)} tables; sequences reset where there are any.")
    return EXIT_OK
