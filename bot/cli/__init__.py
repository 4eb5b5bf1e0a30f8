"""The `partnerbot` command line: main() and the parser. Each command is a module of its
own (run, worker, db, copy, check, programs, inquiries, demo) that adds its parser and
handles it; bot/cli/common.py holds what they share."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from telegram.error import InvalidToken, NetworkError

from bot import logs
from bot.cli import check, copy, db, demo, inquiries, programs, run, worker
from bot.cli.common import EXIT_FAILED, EXIT_USAGE, Handler, error
from bot.settings import SettingsError, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        settings = load_settings()
    except SettingsError as exc:
        error(str(exc))
        return EXIT_USAGE
    # Every secret is registered before any command can log or print a line.
    logs.configure(settings.log_level, settings.secret_values())
    try:
        return handler(args, settings)
    except KeyboardInterrupt:
        return 130
    except InvalidToken:
        error("BOT_TOKEN was rejected by Telegram (check it with @BotFather)")
        return EXIT_USAGE
    except NetworkError as exc:
        error(f"cannot reach the Bot API at TELEGRAM_API_URL: {exc}")
        return EXIT_FAILED
    except SettingsError as exc:
        error(str(exc))
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="partnerbot",
        description="College–enterprise cooperation bot. Settings come from the environment "
        "and .env (see config.example.env).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run.add_command(commands)
    worker.add_command(commands)
    copy.add_command(db.add_command(commands))
    programs.add_command(commands)
    demo.add_command(commands)
    inquiries.add_command(commands)
    check.add_command(commands)
    return parser
