"""The webhook door: a small aiohttp server in place of PTB's built-in one.

Telegram POSTs each update to WEBHOOK_URL's path with our secret in a header. Everything
else is refused before the body is read: a wrong or missing secret gets 403 (compared in
constant time), a body over MAX_BODY gets 413 (by its Content-Length, and a chunked body
is cut off once it passes the limit). An accepted update is put on the Application's
update_queue and answered 200 at once, so one sender's updates keep their order
(bot/updates.py) and Telegram never waits on a handler.

The lifecycle is PTB's run_webhook, step for step (initialize, post_init, start; then
stop, post_stop, shutdown, post_shutdown), with our server in the middle. On SIGTERM the
server stops taking requests first, then every update already answered 200 is handled
before the process ends: Telegram will not send those again.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp import HttpVersion11, StreamReader, web
from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, ExtBot

from bot.settings import Settings, SettingsError
from bot.traffic.updates import trim

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # an update is a few KB; Telegram's largest are far below this
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
BODY_TIMEOUT = 30.0  # seconds to receive an accepted body; a trickle is not held forever
MAX_CONNECTIONS = 40  # Telegram's default for setWebhook
SHUTDOWN_GRACE = 10.0  # seconds for requests in flight when the server stops


class BodyTooLarge(Exception):
    pass


def _refuse(status: int) -> web.Response:
    response = web.Response(status=status)
    response.force_close()  # the unread rest of the body is not drained, just dropped
    return response


async def read_capped(content: StreamReader, limit: int) -> bytes:
    """The body, but never more than `limit` bytes of it read."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await content.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)


class WebhookDoor:
    """Checks each request, parses the update, queues it for the Application."""

    def __init__(self, app: Application[Any, Any, Any, Any, Any, Any], secret: str) -> None:
        if not secret:
            raise ValueError("the webhook needs a secret")  # an empty one would admit all
        self.app = app
        self._secret = secret.encode()

    def refusal(self, request: web.BaseRequest) -> web.Response | None:
        """403 or 413 from the headers alone, or None when the body may be read."""
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self._secret):
            return _refuse(403)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _refuse(413)
        return None

    async def expect(self, request: web.Request) -> web.StreamResponse | None:
        """`Expect: 100-continue`: refuse before the client even sends the body."""
        refused = self.refusal(request)
        if refused is not None:
            return refused
        if request.headers.get("Expect", "").lower() != "100-continue":
            return _refuse(417)
        if request.version == HttpVersion11:  # what aiohttp's default handler does
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0
        return None

    async def receive(self, request: web.Request) -> web.Response:
        refused = self.refusal(request)
        if refused is not None:
            return refused
        try:
            body = await asyncio.wait_for(read_capped(request.content, MAX_BODY), BODY_TIMEOUT)
        except BodyTooLarge:
            return _refuse(413)
        except TimeoutError:
            return _refuse(408)
        bot = self.app.bot
        try:
            data = trim(json.loads(body))  # what no handler reads (bot/traffic/updates.py)
            update = Update.de_json(data, bot) if isinstance(data, dict) else None
        except Exception as exc:  # any malformed body: refuse it, keep serving
            log.warning("webhook: a request that is not an update (%s)", type(exc).__name__)
            update = None
        if update is None:
            return web.Response(status=400)
        if isinstance(bot, ExtBot):
            bot.insert_callback_data(update)  # as PTB's own webhook does
        await self.app.update_queue.put(update)
        log.debug("webhook: update %s queued", update.update_id)
        return web.Response(status=200)

    def web_app(self, path: str) -> web.Application:
        server = web.Application()
        server.router.add_post(path, self.receive, expect_handler=self.expect)
        return server


async def serve(
    app: Application[Any, Any, Any, Any, Any, Any],
    settings: Settings,
    allowed_updates: Sequence[str],
    stop: asyncio.Event | None = None,
) -> None:
    """Run the bot in webhook mode until SIGINT or SIGTERM (or until `stop` is set, for
    a caller that owns the signals, such as a test)."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    path = "/" + urlsplit(settings.webhook_url or "").path.lstrip("/")
    door = WebhookDoor(app, settings.webhook_token)
    runner = web.AppRunner(door.web_app(path), access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        try:
            await runner.setup()
            site = web.TCPSite(runner, settings.webhook_listen, settings.webhook_port)
            try:
                await site.start()
            except OSError as exc:
                raise SettingsError(
                    f"WEBHOOK_LISTEN/WEBHOOK_PORT: cannot listen on "
                    f"{settings.webhook_listen}:{settings.webhook_port}: {exc.strerror or exc}"
                ) from None
            await register(app, settings, allowed_updates)
            log.info(
                "serving the webhook on %s:%s%s",
                settings.webhook_listen, settings.webhook_port, path,
            )  # fmt: skip
            await stop.wait()
        finally:
            await runner.cleanup()  # no new requests; those in flight finish
            if app.running:
                await app.stop()  # handles every update already queued
                if app.post_stop is not None:
                    await app.post_stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def register(
    app: Application[Any, Any, Any, Any, Any, Any],
    settings: Settings,
    allowed_updates: Sequence[str],
) -> None:
    """setWebhook with our secret and the updates we act on.

    There is no deleteWebhook on stop: with several instances behind a proxy, one that
    stops would switch the webhook off for all of them; Telegram keeps undelivered
    updates (and retries) until an instance answers again, and polling deletes the
    webhook itself when an operator goes back to it.
    """
    try:
        await app.bot.set_webhook(
            url=settings.webhook_url or "",
            secret_token=settings.webhook_token,
            allowed_updates=allowed_updates,
            max_connections=MAX_CONNECTIONS,
        )
    except BadRequest as exc:  # a NetworkError to PTB, but Telegram did answer: a setting
        raise SettingsError(
            f"WEBHOOK_URL/WEBHOOK_SECRET: Telegram refused the webhook: {exc.message}"
        ) from None
