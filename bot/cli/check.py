"""`partnerbot check`: is this installation ready to run? One line per check, OK or FAIL,
and for a FAIL what to do about it. Exit 0 when every check passes, 1 otherwise.

Nothing is changed: the database is not migrated (that is `partnerbot db upgrade`), the
webhook is not set. Every line goes through logs.redact, so no secret (the token, the
webhook secret, the database password) ever shows.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot import logs
from bot.cli.common import EXIT_FAILED, EXIT_OK, CannotOpen, Commands, command, database
from bot.formats import url_secrets
from bot.settings import Settings

# Telegram delivers webhooks to these ports only, and takes secrets of this shape.
WEBHOOK_PORTS = (443, 80, 88, 8443)
SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")
API_TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    detail: str

    def line(self) -> str:
        return logs.redact(f"{'OK  ' if self.ok else 'FAIL'}  {self.what}: {self.detail}")


def add_command(commands: Commands) -> None:
    help_ = "verify settings, database (migrations at head), the Bot API and webhook settings"
    command(commands, "check", help_, cmd_check)


def cmd_check(_args: argparse.Namespace, settings: Settings) -> int:
    if settings.log_level != "DEBUG":  # alembic's set-up chatter would bury the report
        logging.getLogger("alembic").setLevel(logging.WARNING)
    checks = asyncio.run(run_checks(settings))
    for check in checks:
        print(check.line(), flush=True)
    failed = sum(not c.ok for c in checks)
    print("All checks passed." if not failed else f"{failed} of {len(checks)} checks failed.")
    return EXIT_OK if not failed else EXIT_FAILED


async def run_checks(settings: Settings) -> list[Check]:
    # Settings were loaded by main() before we got here: a bad one never reaches this.
    checks = [Check(True, "settings", "loaded from the environment and .env")]
    checks.append(await check_database(settings))
    checks.append(await check_bot_api(settings))
    checks.extend(check_webhook(settings))
    return checks


def _shown_url(url: str) -> str:
    return url_secrets.mask(url)


async def check_database(settings: Settings) -> Check:
    from storage.migrate import known_revision

    what = "database"
    shown = _shown_url(settings.database_url)
    sqlite = settings.sqlite_path()
    if sqlite is not None and not sqlite.exists():
        # Connecting would create an empty file; say what will make it instead.
        return Check(
            False, what, f"{sqlite} does not exist yet: run `partnerbot db upgrade` to create it"
        )
    try:
        async with database(settings.database_url, migrate=False) as db:  # check changes nothing
            current, heads = await db.revisions()
    except CannotOpen as exc:
        return Check(
            False,
            what,
            f"cannot open {shown} ({exc.reason}): check DATABASE_URL, that the server is running "
            "and the user's password",
        )
    head = ", ".join(sorted(heads))
    if current == heads:
        return Check(True, what, f"{shown} is reachable; migrations at head ({head})")
    if not current:
        return Check(False, what, f"{shown} has no migrations applied: run `partnerbot db upgrade`")
    at = ", ".join(sorted(current))
    if not all(known_revision(rev) for rev in current):
        return Check(
            False,
            what,
            f"{shown} is at migration {at}, which this partnerbot does not know (the "
            "database is newer than the code): install the partnerbot version that made it",
        )
    return Check(
        False, what, f"{shown} is at migration {at}, head is {head}: run `partnerbot db upgrade`"
    )


async def check_bot_api(settings: Settings) -> Check:
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError, TelegramError
    from telegram.request import HTTPXRequest

    what = "Bot API"
    api = settings.telegram_api_url
    bot = Bot(
        settings.token,
        base_url=api,
        base_file_url=settings.telegram_file_url,
        request=HTTPXRequest(connect_timeout=API_TIMEOUT, read_timeout=API_TIMEOUT),
    )
    try:
        async with bot:  # initialize() calls getMe
            username = bot.username
    except InvalidToken:
        return Check(
            False,
            what,
            f"{api} rejected BOT_TOKEN: copy the token again from @BotFather (/mybots → API "
            "Token); if you use your own Bot API server, check that TELEGRAM_API_URL ends in /bot",
        )
    except NetworkError as exc:  # also TimedOut
        return Check(
            False,
            what,
            f"cannot reach {api} ({exc.message}): check TELEGRAM_API_URL, the network, "
            "and any proxy or firewall in between",
        )
    except TelegramError as exc:
        return Check(False, what, f"{api} answered getMe with an error: {exc.message}")
    return Check(True, what, f"{api} accepted the token; this bot is @{username}")


def check_webhook(settings: Settings) -> list[Check]:
    what = "webhook"
    if not settings.webhook_url:
        return [Check(True, what, "not used (WEBHOOK_URL is empty), so the bot polls")]
    url = urlsplit(settings.webhook_url)
    problems: list[str] = []
    if url.scheme != "https":
        problems.append(
            "WEBHOOK_URL must start with https:// (Telegram delivers webhooks over HTTPS "
            "only; terminate TLS in a proxy, see deploy/nginx-webhook.conf)"
        )
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError:
        port = -1
    if port not in WEBHOOK_PORTS:
        problems.append(
            f"WEBHOOK_URL uses port {port}; Telegram delivers only to ports "
            f"{', '.join(map(str, WEBHOOK_PORTS))} (the bot itself may listen on any "
            "WEBHOOK_PORT behind the proxy)"
        )
    if settings.webhook_secret is None:
        problems.append(
            "WEBHOOK_SECRET is not set: set one (letters, digits, _ and -, up to 256) and "
            "use the same value on every instance; without it a secret derived from the "
            "token is used, which changes when the token does"
        )
    elif not SECRET_SHAPE.fullmatch(settings.webhook_secret.get_secret_value()):
        problems.append(
            "WEBHOOK_SECRET may contain only letters, digits, _ and -, 1 to 256 characters "
            "(Telegram refuses others)"
        )
    if problems:
        return [Check(False, what, problem) for problem in problems]
    path = url.path or "/"
    return [
        Check(
            True,
            what,
            f"Telegram will POST to {settings.webhook_url}; the bot listens on "
            f"{settings.webhook_listen}:{settings.webhook_port}{path}, secret token set",
        )
    ]
