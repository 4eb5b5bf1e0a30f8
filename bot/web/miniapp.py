"""The Mini App's server: the page's static files and a JSON API, inside the bot's process.

aiohttp, because the bot already runs on it (our webhook door, bot/web/webhook.py) and it
shares the bot's event loop: an API call is one more coroutine beside the updates, with
the same units of work, services and engines, and no second server process to keep.
Off unless WEBAPP_URL is set; it runs the same in polling and webhook mode (its own port,
WEBAPP_PORT), and any number of instances may serve it, since the page signs every
request itself and everything else is in the database.

Every /api request carries Telegram's initData (`Authorization: tma <initData>`): its
hash is checked with the bot token and its age against WEBAPP_AUTH_MAX_AGE; anything else
is 401 and nothing more. The user it names is recognised as an update's sender is, so
the permission path of the chat (bot/people/roles.py) decides here too.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot

from bot.catalog.service import NotVisible
from bot.context import Runtime
from bot.inquiries.miniapp import AlreadyInterested
from bot.people import identity
from bot.people.identity import TelegramProfile
from bot.people.person import Person
from bot.people.roles import Refused
from bot.settings import Settings, SettingsError
from bot.traffic.flood import FloodGate, Verdict
from bot.ui.errors import FieldError
from bot.ui.i18n import t
from bot.ui.text import plain_of
from bot.web.initdata import BadInitData, WebUser, check
from storage.engine import unit_of_work
from storage.models import utcnow

log = logging.getLogger(__name__)

STATIC = Path(str(files("bot.web").joinpath("static")))
MAX_BODY = 64 * 1024  # the largest request is a reply of a few KB
SHUTDOWN_GRACE = 5.0
BAD_REQUEST_KEYS = frozenset({"webapp.bad_request", "webapp.bad_filter"})
UNAUTHORIZED = {"error": "unauthorized"}
# The page is only ever our own files: no inline script, nothing from elsewhere; Telegram's
# web clients show it in a frame.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'self' https://web.telegram.org https://*.telegram.org"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


# JSON may carry "\ud800" or "\u0000": neither can be stored (UTF-8 has no lone
# surrogates, PostgreSQL text has no NUL) nor sent to Telegram, and the page never sends them.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(data: object) -> bool:
    """No string anywhere in a parsed body (keys too) holds an UNSTORABLE character."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


class TooLarge(Exception):
    """A body over MAX_BODY (413)."""


class NotUnderstood(FieldError):
    """A request the page never sends (400)."""

    def __init__(self) -> None:
        super().__init__("webapp.bad_request")


@dataclass
class WebCall:
    """One API request: who asks, and what the handler needs to answer it."""

    request: web.Request
    runtime: Runtime
    person: Person
    bot: Bot

    @property
    def settings(self) -> Settings:
        assert self.runtime.settings is not None
        return self.runtime.settings

    @property
    def lang(self) -> str:
        return self.person.language

    def now(self) -> datetime:
        return utcnow()

    @property
    def args(self) -> dict[str, str]:
        found = {k: v[:200] for k, v in self.request.query.items()}
        if any(UNSTORABLE.search(v) for v in found.values()):
            raise NotUnderstood()
        return found

    def number(self, name: str) -> int:
        """A path part that must be an id (forged ones are refused like a stale button)."""
        from bot.ui.ids import parse_id

        found = parse_id(self.request.match_info.get(name, ""))
        if found is None:
            raise Refused()
        return found

    async def body(self) -> dict[str, Any]:
        try:
            data = await self.request.json()
        except web.HTTPRequestEntityTooLarge:
            raise TooLarge() from None
        except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: Recursion
            raise NotUnderstood() from None
        if not isinstance(data, dict) or not _storable(data):
            raise NotUnderstood()
        return data

    @asynccontextmanager
    async def db(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        async with self.runtime.unit(write=write, person_id=self.person.id) as session:
            yield session

    def wake_engines(self) -> None:
        self.runtime.wake_engines()


Reply = dict[str, Any] | tuple[int, dict[str, Any]]
Endpoint = Callable[[WebCall], Awaitable[Reply]]
Route = tuple[str, str, Endpoint]


def _json(status: int, data: dict[str, Any]) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def _error(status: int, lang: str, failure: FieldError) -> web.Response:
    body: dict[str, Any] = {"error": plain_of(t(lang, failure.key, **failure.values))}
    field = failure.values.get("field")
    if isinstance(field, str):
        body["field"] = field
    return _json(status, body)


class MiniApp:
    """The aiohttp application: static files, and each route behind the initData check."""

    def __init__(self, runtime: Runtime, bot: Bot, routes: Sequence[Route]) -> None:
        self.runtime, self.bot = runtime, bot
        settings = runtime.settings
        assert settings is not None
        self.settings = settings
        # Its own flood gate (the chat's counts updates): a page makes a few calls a tap.
        self.gate = FloodGate(settings.flood_burst * 4, settings.flood_rate * 4)
        self.server = web.Application(client_max_size=MAX_BODY, middlewares=[self._headers])
        self.server.router.add_get("/", self._index)
        self.server.router.add_static("/static/", STATIC, follow_symlinks=False)
        for method, path, endpoint in routes:
            self.server.router.add_route(method, path, self._wrap(endpoint))

    @web.middleware
    async def _headers(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        response.headers.update(HEADERS)
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    async def _index(self, _request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    def _user(self, request: web.Request) -> WebUser | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("tma "):
            return None
        try:
            return check(header[4:], self.settings.token, utcnow(),
                         self.settings.webapp_auth_max_age)  # fmt: skip
        except BadInitData as refused:
            log.info("mini app: initData refused (%s)", refused)
            return None

    async def _person(self, user: WebUser) -> Person:
        """The caller, as an update's sender is recognised: from the sender cache the
        chat shares (bot/people/senders.py), else read, else created."""
        settings, sessions, now = self.settings, self.runtime.sessions, utcnow()
        cached = self.runtime.senders.get(user.id, now)
        if cached is not None:
            return cached
        async with unit_of_work(sessions, write=False) as session:
            known = await identity.recognize_known(session, user.id, admin_ids=settings.admin_ids)
        if known is not None:
            self.runtime.senders.put(known, now)
            return known
        profile = TelegramProfile(user.id, user.first_name, user.last_name, user.username,
                                  user.language_code)  # fmt: skip
        try:
            return await self._recognize(profile)
        except IntegrityError:
            # A newcomer's page opens with several calls at once: each found no row, one
            # insert won, and this one now finds that row.
            return await self._recognize(profile)

    async def _recognize(self, profile: TelegramProfile) -> Person:
        settings = self.settings
        async with unit_of_work(self.runtime.sessions, write=True) as session:
            return await identity.recognize(
                session, profile, default_language=settings.default_language,
                admin_ids=settings.admin_ids,
            )  # fmt: skip

    def _wrap(self, endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def run(request: web.Request) -> web.Response:
            user = self._user(request)
            if user is None:
                return _json(401, UNAUTHORIZED)
            if self.gate.check(user.id, time.monotonic()) is not Verdict.ALLOW:
                return _json(429, {"error": "too many requests"})
            try:
                person = await self._person(user)
            except Exception:  # the page reads JSON, even when we fail before the endpoint
                log.exception("mini app: recognising %s failed", user.id)
                failed = FieldError("webapp.failed")
                return _error(500, self.settings.default_language, failed)
            return await self._answer(endpoint, WebCall(request, self.runtime, person, self.bot))

        return run

    async def _answer(self, endpoint: Endpoint, call: WebCall) -> web.Response:
        lang = call.lang
        try:
            reply = await endpoint(call)
        except Refused:
            return _error(403, lang, FieldError("webapp.refused"))
        except TooLarge:
            return _error(413, lang, FieldError("webapp.bad_request"))
        except NotVisible:
            return _error(404, lang, FieldError("webapp.not_found"))
        except AlreadyInterested as already:
            return _error(409, lang, already)
        except FieldError as refused:
            return _error(400 if refused.key in BAD_REQUEST_KEYS else 422, lang, refused)
        except Exception:
            log.exception("mini app: %s %s failed", call.request.method, call.request.path)
            return _error(500, lang, FieldError("webapp.failed"))
        status, data = reply if isinstance(reply, tuple) else (200, reply)
        return _json(status, data)


class MiniAppServer:
    """Started after the database is ready (post_init), stopped before it is disposed."""

    def __init__(self, app: MiniApp) -> None:
        self.app = app
        self.runner = web.AppRunner(app.server, access_log=None, shutdown_timeout=SHUTDOWN_GRACE)

    async def start(self) -> None:
        settings = self.app.settings
        await self.runner.setup()
        site = web.TCPSite(self.runner, settings.webapp_listen, settings.webapp_port)
        try:
            await site.start()
        except OSError as exc:
            await self.runner.cleanup()
            raise SettingsError(
                f"WEBAPP_LISTEN/WEBAPP_PORT: cannot listen on {settings.webapp_listen}:"
                f"{settings.webapp_port}: {exc.strerror or exc}"
            ) from None
        log.info("mini app: serving on %s:%s", settings.webapp_listen, settings.webapp_port)

    async def stop(self) -> None:
        await self.runner.cleanup()
