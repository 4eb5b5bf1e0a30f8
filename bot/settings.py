"""Operator settings, read from the environment and `.env` (see config.example.env)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.formats import url_secrets

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/partnerbot.sqlite3"
ASYNC_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
SYNC_TO_ASYNC = {
    "sqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
}
Language = Literal["en", "zh"]


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it in one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    bot_token: SecretStr
    database_url: str = DEFAULT_DATABASE_URL
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    staff_chat_id: int | None = None
    timezone: str = "Asia/Shanghai"
    default_language: Language = "en"
    # The staff chat's language; unset, DEFAULT_LANGUAGE (a college's staff often read
    # Chinese while its foreign partners read English).
    staff_language: Language | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_file_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    # The Mini App (bot/web/miniapp.py): off unless WEBAPP_URL, the public https URL
    # Telegram opens, is set; served on WEBAPP_LISTEN:WEBAPP_PORT behind the operator's
    # TLS proxy. A sign-in (initData) older than WEBAPP_AUTH_MAX_AGE is refused.
    webapp_url: str | None = None
    webapp_listen: str = "127.0.0.1"
    webapp_port: int = Field(default=8081, ge=1, le=65535)
    webapp_auth_max_age: timedelta = timedelta(days=1)
    # Telegram allows about 30/s; up to 1000 is accepted for a local test server only.
    send_rate: float = Field(default=25.0, gt=0, le=1000)
    # How long a claimed outbox row stays claimed without a heartbeat (one every 5 s
    # renews it): after a process dies, its rows are sent by another within this.
    outbox_lease_seconds: float = Field(default=15, ge=10, le=600)
    # Per-user flood limit (bot/flood.py): a burst of this many updates, refilled at
    # FLOOD_RATE per second; beyond it updates are dropped with one polite note.
    flood_burst: int = Field(default=8, ge=1, le=1000)
    flood_rate: float = Field(default=3.0, gt=0, le=1000)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    invite_ttl_hours: int = Field(default=72, ge=1, le=24 * 30)
    first_response_hours: float = Field(default=24, gt=0, le=24 * 30)
    show_staff_names: bool = False
    safety_tick_seconds: float = Field(default=30, gt=0, le=3600)
    reminder_offsets: Annotated[tuple[timedelta, ...], NoDecode] = (
        timedelta(days=1),
        timedelta(hours=1),
    )
    overdue_reminder_limit: int = Field(default=7, ge=0, le=60)
    digest_time: time = time(8, 30)
    # An open inquiry with no event for this many days and no open next step nudges
    # its assignee (or the admins) once per quiet spell (bot/inquiries/stale.py).
    stale_days: int = Field(default=7, ge=1, le=365)
    # The HTTP client under python-telegram-bot's requests to the Bot API (issue 15):
    # PTB's own httpx, or aiohttp (bot/traffic/aiohttp_request.py), which the benchmarks
    # found cheaper per call.
    http_client: Literal["httpx", "aiohttp"] = "aiohttp"

    @field_validator("reminder_offsets", mode="before")
    @classmethod
    def _offsets(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(parse_duration(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("digest_time", mode="before")
    @classmethod
    def _clock(cls, value: object) -> object:
        if isinstance(value, str):
            hours, sep, minutes = value.strip().partition(":")
            if not (sep and hours.isdigit() and minutes.isdigit()):
                raise ValueError("expected HH:MM, e.g. 08:30")
            if not (0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
                raise ValueError("expected HH:MM, e.g. 08:30")
            return time(int(hours), int(minutes))
        return value

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        head, sep, tail = token.partition(":")
        if not (sep and head.isdigit() and tail):
            raise ValueError("expected the form 123456789:ABC... from BotFather")
        return SecretStr(token)

    @field_validator("database_url")
    @classmethod
    def _async_url(cls, value: str) -> str:
        # A password pasted with a raw `@` (u:p@ss@db) is encoded here, so it connects
        # as meant and no error ever takes part of it for the host name.
        value = url_secrets.repair(value.strip())
        try:
            url = make_url(value)
        except (ArgumentError, ValueError):  # never quote the parser: it echoes the URL
            raise ValueError("not a SQLAlchemy URL") from None
        # Operators often paste sync URLs; map them to the async driver we ship.
        driver = SYNC_TO_ASYNC.get(url.drivername, url.drivername)
        if driver not in ASYNC_DRIVERS:
            raise ValueError(f"driver must be one of {', '.join(ASYNC_DRIVERS)}")
        return url.set(drivername=driver).render_as_string(hide_password=False)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, int):
            return frozenset({value})
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            bad = [p for p in parts if not p.lstrip("-").isdigit()]
            if bad:
                raise ValueError(f"not a numeric Telegram user id: {bad[0]!r}")
            return frozenset(int(p) for p in parts)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone (use an IANA name like Asia/Shanghai)") from None
        return value

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: object) -> object:
        # config.example.env leaves it empty, meaning "derive one": never an empty secret,
        # which would let requests without the header through.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("staff_language", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webapp_auth_max_age", mode="before")
    @classmethod
    def _max_age(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("webapp_url")
    @classmethod
    def _app_folder(cls, value: str | None) -> str | None:
        # The page asks for "api/…" and "static/…" relative to itself, so its URL must
        # end in "/" (https://bot.example.org/app/): the proxy strips that prefix.
        if not value:
            return value
        parts = urlsplit(value)
        if parts.path.endswith("/"):
            return value
        return urlunsplit(parts._replace(path=parts.path + "/"))

    @field_validator("webhook_url", "webapp_url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https://")
        return value

    @property
    def staff_lang(self) -> str:
        return self.staff_language or self.default_language

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def token(self) -> str:
        return self.bot_token.get_secret_value()

    @property
    def webhook_token(self) -> str:
        """WEBHOOK_SECRET, or one derived from the token so a webhook is never left open."""
        if self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value()
        return hashlib.sha256(b"partnerbot-webhook:" + self.token.encode()).hexdigest()[:48]

    def secret_values(self) -> list[str]:
        """What no log line or output may show (bot/logs.py hides them): the token, the
        webhook secret (explicit or derived) and the database password as written."""
        return [
            self.token,
            self.webhook_token,
            *url_secrets.password_forms(make_url(self.database_url)),
        ]

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # The token and webhook secret are SecretStr already; the URL's password is not.
        for name, value in super().__repr_args__():
            if name == "database_url" and isinstance(value, str):
                value = url_secrets.mask(value)
            yield name, value

    def sqlite_path(self) -> Path | None:
        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        return Path(url.database)


_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """'1d', '1h', '30m', '2w' → a timedelta (for REMINDER_OFFSETS)."""
    value = text.strip().lower()
    number = value.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = value[len(number) :]
    if not number.isdigit() or unit not in _UNITS or int(number) == 0:
        raise ValueError(f"not a duration like 1d, 1h or 30m: {text.strip()!r}")
    return timedelta(seconds=int(number) * _UNITS[unit])


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one line naming the first bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "settings"
        if err["type"] == "missing":
            raise SettingsError(f"{name} is not set (see config.example.env)") from None
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name} is invalid: {msg}") from None
