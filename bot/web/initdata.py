"""Mini App sign-in, as Telegram specifies it ("Validating data received via the Mini App").

Telegram opens the page with `initData`, a query string of fields (user, auth_date,
query_id…) and `hash`: the hex HMAC-SHA256 of the other fields, sorted by name and joined
as `name=value` lines, under the key HMAC-SHA256("WebAppData", bot token). Only someone
holding the bot token can make one, so a valid hash proves Telegram sent this user to us;
`auth_date` bounds how long such a proof is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

MAX_LENGTH = 4096  # Telegram's initData is well under 1 KB; anything longer is not one


class BadInitData(Exception):
    """Missing, malformed, forged or stale: the request is answered 401 and nothing else."""


@dataclass(frozen=True, slots=True)
class WebUser:
    id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None
    signed_at: datetime


def _secret(token: str) -> bytes:
    return hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()


def _check_string(fields: dict[str, str]) -> bytes:
    return "\n".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "hash").encode()


def sign(token: str, user: dict[str, object], auth_date: datetime, **extra: str) -> str:
    """The initData Telegram would give this user (for tests and benchmarks)."""
    fields = {
        "user": json.dumps(user, ensure_ascii=False, separators=(",", ":")),
        "auth_date": str(int(auth_date.timestamp())),
        **extra,
    }
    fields["hash"] = hmac.new(_secret(token), _check_string(fields), hashlib.sha256).hexdigest()
    return urlencode(fields)


def check(raw: str, token: str, now: datetime, max_age: timedelta) -> WebUser:
    """The user this initData names, or BadInitData."""
    if not raw or len(raw) > MAX_LENGTH:
        raise BadInitData("missing or too long")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise BadInitData("not a query string") from exc
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise BadInitData("a field twice")  # which one would count is ambiguous
    given = fields.get("hash", "")
    wanted = hmac.new(_secret(token), _check_string(fields), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode(), wanted.encode()):
        raise BadInitData("hash")
    return _user(fields, now, max_age)


def _user(fields: dict[str, str], now: datetime, max_age: timedelta) -> WebUser:
    try:
        signed_at = datetime.fromtimestamp(int(fields["auth_date"]), UTC)
        data = json.loads(fields["user"])
        user_id = data["id"]
    except (KeyError, ValueError, TypeError, OverflowError, OSError) as exc:
        raise BadInitData("fields") from exc
    if signed_at > now + timedelta(minutes=5) or now - signed_at > max_age:
        raise BadInitData("stale")  # a little clock skew is allowed, the future is not
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not 0 < user_id < 2**52:
        raise BadInitData("user id")

    def text(name: str) -> str | None:
        value = data.get(name)
        return value[:256] if isinstance(value, str) else None

    return WebUser(
        id=user_id,
        first_name=text("first_name") or "",
        last_name=text("last_name"),
        username=text("username"),
        language_code=text("language_code"),
        signed_at=signed_at,
    )
