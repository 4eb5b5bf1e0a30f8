"""Logging set-up that can never print a secret: the bot token, the webhook secret, the
database password.

httpx logs request URLs (which carry the token after /bot), PTB logs setWebhook's
parameters (the secret among them) at DEBUG, and exceptions may quote any of them, so
redaction happens when a record is created, before any handler or formatter sees it:
pytest's capture, a file handler or a third-party one all get the clean text. The CLI
passes its error lines through `redact` too.

Registered secrets are replaced wherever they appear, if they are at least 8 characters
long: a shorter one would blank out ordinary words. Shorter secrets are still hidden
where they have a place of their own: the password of any URL (`user:***@host`, any
length, however it is written) and the value of a `secret_token` parameter or header.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from bot.formats import url_secrets

MASK = "[REDACTED]"
MIN_SECRET = 8  # shorter values are hidden only in their own places (see above)
# `secret_token': 'abc'` (PTB's DEBUG line of setWebhook), `secret_token=abc`, and the
# `X-Telegram-Bot-Api-Secret-Token: abc` header.
_SECRET_PARAM = re.compile(r"""(secret[_-]token['"]?\s*[:=]\s*['"]?)[^'"\s,;&}\]]+""", re.I)
_secrets: set[str] = set()
_installed = False


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = url_secrets.mask_in_text(text)
    return _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, text)


def add_secrets(values: Iterable[str]) -> None:
    """Register secrets to hide (the token, and its numeric-id-less tail too)."""
    for value in values:
        if value and len(value) >= MIN_SECRET:
            _secrets.add(value)
            _, _, tail = value.partition(":")
            if len(tail) >= MIN_SECRET:
                _secrets.add(tail)
    _install()


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    base_factory = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base_factory(*args, **kwargs)
        if not _secrets:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format must not hide the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(
                "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            )
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
    previous_hook: Callable[..., Any] = sys.excepthook

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))

    if previous_hook is sys.__excepthook__:
        sys.excepthook = excepthook


def configure(level: str, secrets: Iterable[str] = ()) -> None:
    add_secrets(secrets)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # Per-request lines add nothing useful at INFO; failures still surface as WARNING.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
