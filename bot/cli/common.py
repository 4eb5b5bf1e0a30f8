"""What every command shares: exit codes, one error line, and the database of a URL
opened (and migrated) for the length of a block, then disposed of.

A database that cannot be opened ends the command with one line naming the setting or
option it came from, its password masked: `DATABASE_URL: cannot open postgresql+asyncpg
://partnerbot:***@db/partnerbot: connection refused`, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import logs
from bot.formats import url_secrets
from bot.settings import Settings, SettingsError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")
# A parser's sub-commands, as add_subparsers() returns them (a string: argparse's class
# cannot be subscripted at run time).
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
# What a database that is not there, refuses us, or is not a database raises.
UNREACHABLE = (OperationalError, DBAPIError, OSError)


Handler: TypeAlias = Callable[[argparse.Namespace, Settings], int]


def command(
    commands: Commands, name: str, help_: str, handler: Handler, **options: object
) -> argparse.ArgumentParser:
    """A sub-command that runs `handler(args, settings)`; options go to add_parser."""
    parser = commands.add_parser(name, help=help_, **options)  # type: ignore[arg-type]
    parser.set_defaults(handler=handler)
    return parser


def actions(commands: Commands, name: str, help_: str) -> Commands:
    """A command of actions (`db upgrade`, `programs import`): their sub-parsers."""
    parser = commands.add_parser(name, help=help_)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def file_to_write(parser: argparse.ArgumentParser, accepted: str) -> None:
    parser.add_argument(
        "file",
        metavar="FILE",
        type=Path,
        help=f"the file to write; format from its extension ({accepted})",
    )


def error(message: str) -> None:
    """One line on stderr, with every secret and URL password masked."""
    print(f"partnerbot: {logs.redact(message)}", file=sys.stderr)


class CannotOpen(SettingsError):
    def __init__(self, label: str, url: str, exc: BaseException) -> None:
        self.reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        super().__init__(f"{label}: cannot open {url_secrets.mask(url)}: {self.reason}")


@dataclass(frozen=True)
class Database:
    url: str
    label: str  # the setting or option it came from, for the error line
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    async def revisions(self) -> tuple[set[str], set[str]]:
        """(the migrations applied, the heads this code knows); CannotOpen if unreachable."""
        from storage.migrate import revision_status

        try:
            return await revision_status(self.engine)
        except UNREACHABLE as exc:
            raise CannotOpen(self.label, self.url, exc) from None


@asynccontextmanager
async def database(
    url: str, *, label: str = "DATABASE_URL", migrate: bool = True
) -> AsyncIterator[Database]:
    """The database of `url`, migrated to head first unless `migrate` is False."""
    # Imported here: alembic is slow to import, and `--help` need not wait for it.
    from storage.engine import create_engine, create_session_factory
    from storage.migrate import upgrade

    engine = create_engine(url)
    try:
        if migrate:
            try:
                await upgrade(engine)
            except UNREACHABLE as exc:
                raise CannotOpen(label, url, exc) from None
        yield Database(url, label, engine, create_session_factory(engine))
    finally:
        await engine.dispose()


class StopRequests:
    """SIGTERM and SIGINT noted while a long-running command starts (migrating, building
    the app), before its event loop's own handlers exist: without it a supervisor's stop
    during a slow start killed the process there (exit -15, no clean stop). The start-up
    finishes what it is doing and the command asks `requested` before it runs."""

    def __init__(self) -> None:
        self.requested = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._note)

    def _note(self, _signum: int, _frame: object) -> None:
        self.requested = True


async def prepare(settings: Settings) -> None:
    """Migrate before the bot starts, so a bad database fails start-up with one clear line."""
    async with database(settings.database_url):
        pass


def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in one transaction on the migrated database: committed if it returns."""

    async def main() -> T:
        async with (
            database(settings.database_url) as db,
            db.sessions() as session,
            session.begin(),
        ):
            return await work(session)

    return asyncio.run(main())


def write_file(path: Path, data: bytes) -> bool:
    """Write an export; False (and one line said) if the file cannot be written."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        error(f"{path}: {exc.strerror or exc}")
        return False
    return True
