"""The webhook door (bot/webhook.py) over real HTTP: the real Application behind it,
the fake Bot API in front of it as Telegram.

What is refused is refused from the headers alone: these tests send the headers and
hold the body back, so an answer proves the server did not wait to read it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest

from bot.app import ALLOWED_UPDATES, build_application
from bot.settings import Settings
from bot.web import webhook
from tests.fakebot import FakeTelegram
from tests.test_e2e_process import free_port

SECRET = "door-Secret_0123456789"
PATH = "/telegram-hook"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class Door:
    url: str
    port: int
    settings: Settings

    def headers(self, secret: str | None = SECRET, **extra: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **extra}
        if secret is not None:
            headers[HEADER] = secret
        return headers


@pytest.fixture
async def door(tg: FakeTelegram, make_settings: Callable[..., Settings]) -> AsyncIterator[Door]:
    port = free_port()
    url = f"http://127.0.0.1:{port}{PATH}"
    settings = make_settings(
        tg, webhook_url=url, webhook_secret=SECRET, webhook_listen="127.0.0.1",
        webhook_port=port,
    )  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(
        webhook.serve(build_application(settings), settings, ALLOWED_UPDATES, stop)
    )
    try:
        await tg.wait_for(lambda: task.done() or tg.webhook_info.get("url"), 30, "setWebhook")
        if task.done():
            task.result()  # start-up failed: show why
        yield Door(url, port, settings)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def raw_exchange(port: int, head: str, body: bytes = b"", *, timeout: float = 5) -> str:
    """Send a request head (and maybe part of a body), then read the answer's status
    line and headers. Nothing more is sent while waiting."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        return answer.decode("latin-1")
    finally:
        writer.close()


def request_head(length: int | None, secret: str | None = SECRET, *extra: str) -> str:
    lines = [f"POST {PATH} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if secret is not None:
        lines.append(f"{HEADER}: {secret}")
    if length is None:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append(f"Content-Length: {length}")
    return "\n".join([*lines, *extra, ""])


async def test_right_secret_is_answered_through_the_bot(tg: FakeTelegram, door: Door) -> None:
    info = tg.webhook_info
    assert info["secret_token"] == SECRET
    assert info["allowed_updates"] == ALLOWED_UPDATES
    user = tg.user(4101, first_name="Webby", language_code="en")
    async with httpx.AsyncClient() as client:
        ok = await client.post(door.url, json=user.make_update("/start"), headers=door.headers())
    assert ok.status_code == 200
    reply = await user.expect_message(timeout=15)
    assert "Main menu" in reply.text
    # Telegram's own deliveries (the fake pushes what people send) go through too.
    answer = await user.send_and_wait("/start", timeout=15)
    assert "Main menu" in answer.text


@pytest.mark.parametrize(
    "secret",
    [None, "", "nope", SECRET[:-1], SECRET + "x", SECRET.upper(), "é" + SECRET[1:]],
    ids=["missing", "empty", "short", "prefix", "longer", "case", "non-ascii"],
)
async def test_wrong_or_missing_secret_is_403(
    tg: FakeTelegram, door: Door, secret: str | None
) -> None:
    user = tg.user(4102, first_name="Mallory", language_code="en")
    body = json.dumps(user.make_update("/start")).encode()
    if secret is not None and not secret.isascii():
        # httpx refuses a non-ASCII header; a raw client sends the bytes anyway.
        head = request_head(len(body), secret)
        answer = await raw_exchange(door.port, head, body)
        assert answer.startswith("HTTP/1.1 403"), answer
    else:
        async with httpx.AsyncClient() as client:
            refused = await client.post(door.url, content=body, headers=door.headers(secret))
        assert refused.status_code == 403
    assert tg.chat(4102) == []


async def test_refusals_come_before_the_body(tg: FakeTelegram, door: Door) -> None:
    """A 2 MB Content-Length, or a missing secret: answered with the body never sent."""
    answer = await raw_exchange(door.port, request_head(2 * 1024 * 1024))
    assert answer.startswith("HTTP/1.1 413"), answer
    answer = await raw_exchange(door.port, request_head(200, secret=None))
    assert answer.startswith("HTTP/1.1 403"), answer
    # Without the secret, size is not even considered: a stranger learns nothing.
    answer = await raw_exchange(door.port, request_head(2 * 1024 * 1024, secret=None))
    assert answer.startswith("HTTP/1.1 403"), answer
    # `Expect: 100-continue`: refused instead of being invited to send the body.
    head = request_head(2 * 1024 * 1024, SECRET, "Expect: 100-continue")
    answer = await raw_exchange(door.port, head)
    assert answer.startswith("HTTP/1.1 413") and "100 Continue" not in answer, answer


async def test_chunked_body_is_cut_off_past_1_mb(tg: FakeTelegram, door: Door) -> None:
    """No length to check up front: the server reads up to the limit and stops there."""
    piece = b" " * 65_536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(16))
    chunks += b"1\r\n \r\n"  # one byte past 1 MB; the closing 0-chunk is never sent
    answer = await raw_exchange(door.port, request_head(None), chunks, timeout=10)
    assert answer.startswith("HTTP/1.1 413"), answer


async def test_an_update_just_under_the_limit_is_taken(tg: FakeTelegram, door: Door) -> None:
    user = tg.user(4103, first_name="Big", language_code="en")
    update = json.dumps(user.make_update("/start")).encode()
    body = update[:-1] + b" " * (webhook.MAX_BODY - len(update)) + b"}"
    assert len(body) == webhook.MAX_BODY
    async with httpx.AsyncClient() as client:
        ok = await client.post(door.url, content=body, headers=door.headers())
    assert ok.status_code == 200
    assert "Main menu" in (await user.expect_message(timeout=15)).text


async def test_junk_is_400_and_the_door_stays_open(tg: FakeTelegram, door: Door) -> None:
    async with httpx.AsyncClient() as client:
        for junk in (b"{not json", b"[1, 2]", b'{"no_update_id": true}', b"\xff\xfe", b""):
            answer = await client.post(door.url, content=junk, headers=door.headers())
            assert answer.status_code == 400, junk
        assert (await client.get(door.url, headers=door.headers())).status_code == 405
        other = door.url.replace(PATH, "/elsewhere")
        assert (await client.post(other, content=b"{}", headers=door.headers())).status_code == 404
        user = tg.user(4104, first_name="After", language_code="en")
        ok = await client.post(door.url, json=user.make_update("/start"), headers=door.headers())
    assert ok.status_code == 200
    assert "Main menu" in (await user.expect_message(timeout=15)).text


async def test_port_in_use_is_one_clear_error(
    tg: FakeTelegram, door: Door, make_settings: Callable[..., Settings]
) -> None:
    from bot.settings import SettingsError

    settings = make_settings(
        tg, webhook_url=door.url, webhook_secret=SECRET, webhook_port=door.port
    )
    with pytest.raises(SettingsError, match="WEBHOOK_LISTEN/WEBHOOK_PORT: cannot listen"):
        await webhook.serve(build_application(settings), settings, ALLOWED_UPDATES, asyncio.Event())


async def test_stop_handles_every_accepted_update(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    """What was answered 200 is not sent again by Telegram: it is handled before exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}{PATH}"
    settings = make_settings(tg, webhook_url=url, webhook_secret=SECRET, webhook_port=port)
    stop = asyncio.Event()
    task = asyncio.create_task(
        webhook.serve(build_application(settings), settings, ALLOWED_UPDATES, stop)
    )
    await tg.wait_for(lambda: task.done() or tg.webhook_info.get("url"), 30, "setWebhook")
    people = [tg.user(4200 + n, first_name=f"P{n}", language_code="en") for n in range(12)]
    async with httpx.AsyncClient() as client:  # keeps its connection alive, as a proxy does
        answers = await asyncio.gather(
            *(
                client.post(url, json=p.make_update("/start"), headers={HEADER: SECRET})
                for p in people
            )
        )
        assert [a.status_code for a in answers] == [200] * len(people)
        stop.set()  # at once: most updates are still queued or in their handlers
        await asyncio.wait_for(task, 15)
    for person in people:
        assert any("Main menu" in m.text for m in tg.chat(person.chat_id)), person.chat_id
