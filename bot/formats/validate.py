"""Parsers for what people type: phone numbers and email addresses.

Each returns the normalised value or raises FieldError with a message key; they never
raise anything else, whatever the input (tests/test_validate.py checks with hypothesis).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.ui.errors import FieldError

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_PHONE_CHARS = re.compile(r"^\+?[0-9\s\-().]+$")


def phone(text: str) -> str:
    """+86 138-0000-0000, (022) 1234 5678, 13800000000 … → digits with an optional +."""
    value = text.strip().replace("\u3000", " ").replace("－", "-").replace("＋", "+")
    if not value or len(value) > 40 or not _PHONE_CHARS.match(value):
        raise FieldError("profile.bad_phone")
    digits = re.sub(r"\D", "", value)
    if not 6 <= len(digits) <= 15:
        raise FieldError("profile.bad_phone")
    return ("+" if value.startswith("+") else "") + digits


def email(text: str) -> str:
    value = text.strip()
    if len(value) > 200 or not _EMAIL.match(value):
        raise FieldError("profile.bad_email")
    local, _, domain = value.rpartition("@")
    if ".." in value or domain.startswith("-") or local.startswith("."):
        raise FieldError("profile.bad_email")
    return f"{local}@{domain.lower()}"


def short_text(limit: int) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = " ".join(text.split())
        if len(value) > limit:
            raise FieldError("form.too_long", limit=limit, length=len(value))
        return value

    return parse


def long_text(limit: int | Callable[[], int], key: str = "form.too_long") -> Callable[[str], str]:
    """A long text, line breaks kept, refused (with its length and the limit) when over
    `limit` characters: it must reach its reader whole, so it is never cut. The limit
    may be computed on first use (bot/inquiry_limits.py)."""

    def parse(text: str) -> str:
        value = text.strip()
        most = limit() if callable(limit) else limit
        if len(value) > most:
            raise FieldError(key, limit=most, length=len(value))
        return value

    return parse
