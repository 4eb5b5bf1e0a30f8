"""python-telegram-bot's request layer on aiohttp (HTTP_CLIENT=aiohttp).

PTB's own HTTPXRequest goes through httpx, httpcore and anyio. Issue 15's profile found
that stack a third of the bot's CPU on the catalogue's hot path: httpcore checks every
pooled connection for expiry on each request (a syscall each) and looks for an async
library by a failing import each time. aiohttp does the same work in fewer layers.

Timeouts follow PTB's meaning: connect and read per call (PTB passes getUpdates' long
poll as the read timeout), pool as the wait for a free connection. aiohttp has no
separate write timeout: an upload's write counts against its read timeout, which PTB
makes 20 s for media, as HTTPXRequest's media_write_timeout does.
"""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.traffic.updates import trim

MEDIA_WRITE_TIMEOUT = 20.0  # seconds: HTTPXRequest's default media_write_timeout
JSON_BODY = {"Content-Type": "application/json"}


class TransportError(ConnectionError):
    """The connection failed (refused, reset, closed mid-answer): the network's fault,
    not the request's. An OSError, as httpx's failures are httpx.HTTPError, so code that
    waits out transport failures and gives up on others (bot/engines/outbox.py) tells
    them apart the same way whichever client runs; aiohttp's error is its __cause__."""


class AiohttpRequest(BaseRequest):
    def __init__(
        self,
        connection_pool_size: int = 256,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read, self._write = read_timeout, write_timeout
        self._connect, self._pool = connect_timeout, pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
                # PTB decodes the body itself; a 4xx/5xx body is Telegram's error JSON.
                raise_for_status=False,
                auto_decompress=True,
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _timeout(
        self,
        read: ODVInput[float],
        write: ODVInput[float],
        connect: ODVInput[float],
        pool: ODVInput[float],
        upload: bool,
    ) -> aiohttp.ClientTimeout:
        read_s = self._read if isinstance(read, DefaultValue) else read
        write_s = (
            (MEDIA_WRITE_TIMEOUT if upload else self._write)
            if isinstance(write, DefaultValue)
            else write
        )
        connect_s = self._connect if isinstance(connect, DefaultValue) else connect
        pool_s = self._pool if isinstance(pool, DefaultValue) else pool
        if upload and read_s is not None:
            read_s = read_s + (write_s or 0.0)  # no write timeout of its own (see above)
        waiting = None if pool_s is None or connect_s is None else pool_s + connect_s
        return aiohttp.ClientTimeout(
            total=None, connect=waiting, sock_connect=connect_s, sock_read=read_s
        )

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        body: Any = None
        headers: dict[str, str] | None = None
        if request_data is not None and not files:
            # One JSON body, which the Bot API takes as well as a form: PTB's form encodes
            # each field as JSON and then percent-encodes the lot (4 % of a press's CPU,
            # mostly quoting the text), and Telegram undoes both.
            parameters = request_data.parameters
            if parameters:
                body = json.dumps(parameters, ensure_ascii=False, separators=(",", ":"))
                body = body.encode()
                headers = JSON_BODY
        if files:
            fields = request_data.json_parameters if request_data else None
            form = aiohttp.FormData(quote_fields=False)
            for name, value in (fields or {}).items():
                form.add_field(name, value)
            for name, (filename, content, mime) in files.items():
                data = content if isinstance(content, bytes) else content.read()
                form.add_field(name, io.BytesIO(data), filename=filename, content_type=mime)
            body = form
        timeout = self._timeout(read_timeout, write_timeout, connect_timeout, pool_timeout,
                                bool(files))  # fmt: skip
        try:
            async with session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as err:
            message = f"aiohttp.{type(err).__name__}: {err}"
            transport = TransportError(message)
            transport.__cause__ = err
            raise NetworkError(message) from transport
        except aiohttp.ClientError as err:  # not the network's doing (an invalid URL...)
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err


class UpdatesRequest(AiohttpRequest):
    """The getUpdates connection: each update trimmed of what no handler reads before
    PTB parses it (bot/traffic/updates.py)."""

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        data = BaseRequest.parse_json_payload(payload)
        result = data.get("result")
        if isinstance(result, list):
            for update in result:
                trim(update)
        return data
