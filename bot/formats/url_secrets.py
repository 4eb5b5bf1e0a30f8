"""Passwords inside URLs (DATABASE_URL above all), however the operator wrote them.

Operators paste generated passwords as they are: `postgresql://u:p@ss@db/pb`, with an
unencoded `@`, is common. A strict parser takes `ss@db` for the host, so the connection
error names it and part of the password is printed. Here the reading is lenient: the
password is everything between the first `:` after `//` and the LAST `@` of the URL.
Masking with that reading can only hide more than the password (when a query holds an
`@` too), never less.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

MASK = "***"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# In free text a URL runs to the next white space: a password cannot hold one unencoded.
_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S*")


@dataclass(frozen=True, slots=True)
class Parts:
    head: str  # scheme://
    user: str
    password: str | None  # as written: raw, percent-encoded, or a mix
    rest: str  # host[:port][/database][?query]

    def join(self, password: str | None) -> str:
        if password is None:
            return self.head + (f"{self.user}@" if self.user else "") + self.rest
        return f"{self.head}{self.user}:{password}@{self.rest}"


def split(url: str) -> Parts | None:
    """The lenient reading of a URL with credentials; None when it has no `scheme://`."""
    match = _SCHEME.match(url)
    if match is None:
        return None
    head, tail = url[: match.end()], url[match.end() :]
    userinfo, at, rest = tail.rpartition("@")
    if not at:
        return Parts(head, "", None, tail)
    user, colon, password = userinfo.partition(":")
    return Parts(head, user, password if colon else None, rest)


def mask(url: str) -> str:
    """The URL with its password (any length, however written) replaced by ***."""
    parts = split(url)
    if parts is None or parts.password is None:
        return url
    return parts.join(MASK)


def mask_in_text(text: str) -> str:
    """Every URL in a line of text masked (log lines, error messages)."""
    if "://" not in text:
        return text
    return _IN_TEXT.sub(lambda m: mask(m.group(0)), text)


def repair(url: str) -> str:
    """A URL whose password was written unencoded, percent-encoded so it parses as meant.

    Only a URL the strict parser gets wrong is touched (its host holds an `@`, or it does
    not parse at all); a URL that parses is returned as it is, so an `@` in a query of a
    valid URL is never taken for the end of a password.
    """
    try:
        strict = make_url(url)
    except (ArgumentError, ValueError):
        strict = None
    if strict is not None and "@" not in (strict.host or ""):
        return url
    parts = split(url)
    if parts is None or parts.password is None:
        return url
    # unquote first: a password already (partly) percent-encoded is not encoded twice.
    return parts.join(quote(unquote(parts.password), safe=""))


def password_forms(url: URL) -> list[str]:
    """The password as it may appear in output: plain, and as written in the URL."""
    if not url.password:
        return []
    plain = str(url.password)
    rendered = split(url.render_as_string(hide_password=False))
    written = rendered.password if rendered is not None else None
    return sorted({plain, quote(plain, safe=""), *([written] if written else [])})
