"""The `partnerbot` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence

from telegram.error import InvalidToken, NetworkError

from bot import logs
from bot.cli import check as cli_check
from bot.cli import copy as cli_copy
from bot.cli import inquiries as cli_inquiries
from bot.cli import programs as cli_programs
from bot.formats import url_secrets
from bot.settings import Settings, SettingsError, load_settings

log = logging.getLogger("partnerbot")
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    try:
        settings = load_settings()
    except SettingsError as exc:
        _error(str(exc))
        return EXIT_USAGE
    # Every secret is registered before any command can log or print a line.
    logs.configure(settings.log_level, settings.secret_values())
    try:
        return handler(args, settings)
    except KeyboardInterrupt:
        return 130
    except InvalidToken:
        _error("BOT_TOKEN was rejected by Telegram (check it with @BotFather)")
        return EXIT_USAGE
    except NetworkError as exc:
        _error(f"cannot reach the Bot API at TELEGRAM_API_URL: {exc}")
        return 1
    except SettingsError as exc:
        _error(str(exc))
        return EXIT_USAGE


def _error(message: str) -> None:
    """One line on stderr, with every secret and URL password masked."""
    print(f"partnerbot: {logs.redact(message)}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="partnerbot",
        description="College–enterprise cooperation bot. Settings come from the environment "
        "and .env (see config.example.env).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="apply migrations and run the bot (polling, or webhook if WEBHOOK_URL is set)"
    )
    run.set_defaults(handler=cmd_run)

    worker = commands.add_parser(
        "worker", help="run only the delivery engines (outbox sender), for scale-out"
    )
    worker.set_defaults(handler=cmd_worker)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply all pending migrations").set_defaults(
        handler=cmd_db_upgrade
    )
    cli_copy.add_command(db_commands)
    cli_programs.add_commands(commands)
    cli_inquiries.add_commands(commands)
    cli_check.add_command(commands)
    return parser


async def _prepare_database(settings: Settings) -> None:
    """Migrate before the bot starts, so a bad database fails start-up with one clear line."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from storage.engine import create_engine
    from storage.migrate import upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    except (OperationalError, DBAPIError, OSError) as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        shown = url_secrets.mask(settings.database_url)
        raise SettingsError(f"DATABASE_URL: cannot open {shown}: {reason}") from None
    finally:
        await engine.dispose()


def cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(_prepare_database(settings))
    log.info("database is up to date")
    return 0


def cmd_run(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import ALLOWED_UPDATES, build_application

    asyncio.run(_prepare_database(settings))
    app = build_application(settings, migrate=False)
    if settings.webhook_url:
        from bot.web import webhook

        asyncio.run(webhook.serve(app, settings, ALLOWED_UPDATES))
    else:
        log.info("polling for updates")
        app.run_polling(allowed_updates=ALLOWED_UPDATES)
    log.info("stopped")
    return 0


async def _worker(settings: Settings) -> None:
    import signal

    from bot.app import build_application

    app = build_application(settings, migrate=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with app:  # initialize() … shutdown(); no polling, no webhook
        if app.post_init is not None:
            await app.post_init(app)
        log.info("worker running")
        await stop.wait()
        if app.post_stop is not None:
            await app.post_stop(app)
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


def cmd_worker(_args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(_prepare_database(settings))
    asyncio.run(_worker(settings))
    log.info("stopped")
    return 0
