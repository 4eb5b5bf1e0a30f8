"""HTTP_CLIENT's two request layers against the fake Bot API: what PTB makes of Telegram's
answers (429 retry_after, 403, timeouts, uploads, downloads) is the same with either."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import BaseRequest, HTTPXRequest

from bot import logs
from bot.engines import outbox
from bot.traffic.aiohttp_request import AiohttpRequest, UpdatesRequest
from tests.constants import TOKEN
from tests.fakebot import FakeTelegram

TIMEOUT = 0.3  # seconds: the read timeout of these clients, far below the fake's delay


def make_request(kind: str) -> BaseRequest:
    if kind == "aiohttp":
        return AiohttpRequest(8, read_timeout=TIMEOUT)
    return HTTPXRequest(8, read_timeout=TIMEOUT)


@pytest.fixture(params=["httpx", "aiohttp"])
async def api(request: pytest.FixtureRequest, tg: FakeTelegram) -> AsyncIterator[Bot]:
    logs.add_secrets([TOKEN])  # as build_application does: PTB logs URLs with the token
    bot = Bot(
        TOKEN, base_url=tg.base_url, base_file_url=tg.file_url,
        request=make_request(request.param), get_updates_request=make_request(request.param),
    )  # fmt: skip
    async with bot:
        yield bot


async def test_a_message_and_its_markup_arrive(api: Bot, tg: FakeTelegram) -> None:
    user = tg.user(7001, first_name="Zoë & <Co>", language_code="en")
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("下一页 ▶️ & =+", callback_data="c:l:k1:f12&x=1+2")],
         [InlineKeyboardButton("007", callback_data="007")]]
    )  # fmt: skip
    sent = await api.send_message(
        user.id, "<b>Ünïcode</b> &amp; more 中文 \U0001f600", parse_mode="HTML",
        reply_markup=keyboard, disable_notification=True,
    )  # fmt: skip
    assert sent.chat.id == user.id
    stored = tg.chat(user.id)[-1]
    assert stored.text == "Ünïcode & more 中文 \U0001f600"
    # The same buttons whichever body carried them (aiohttp sends one JSON object, httpx a
    # form of JSON fields): a label or callback data that looks like a number stays text.
    assert stored.buttons() == [("下一页 ▶️ & =+", "c:l:k1:f12&x=1+2"), ("007", "007")]


async def test_429_gives_retry_after(api: Bot, tg: FakeTelegram) -> None:
    user = tg.user(7002, first_name="Ann", language_code="en")
    tg.inject_429(1, retry_after=7)
    with pytest.raises(RetryAfter) as raised:
        await api.send_message(user.id, "hello")
    assert raised.value.retry_after in (7, timedelta(seconds=7))
    await api.send_message(user.id, "hello again")  # the next call goes through
    assert tg.chat(user.id)[-1].text == "hello again"


async def test_403_when_blocked(api: Bot, tg: FakeTelegram) -> None:
    user = tg.user(7003, first_name="Bo", language_code="en")
    tg.block(user.id)
    with pytest.raises(Forbidden, match="blocked"):
        await api.send_message(user.id, "hello")


async def test_a_slow_answer_times_out(api: Bot, tg: FakeTelegram) -> None:
    user = tg.user(7004, first_name="Cy", language_code="en")
    tg.slow("sendMessage", TIMEOUT * 4)
    with pytest.raises(TimedOut):
        await api.send_message(user.id, "too slow")
    tg.slow("sendMessage", 0)
    await api.send_message(user.id, "in time")
    assert tg.chat(user.id)[-1].text == "in time"


async def test_file_upload_and_download(api: Bot, tg: FakeTelegram) -> None:
    user = tg.user(7005, first_name="Di", language_code="en")
    content = bytes(range(256)) * 400  # 100 KiB, every byte value
    sent = await api.send_document(
        user.id, document=content, filename="报告 report.csv", caption="<i>the file</i>"
    )
    stored = tg.chat(user.id)[-1].document
    assert stored is not None and stored.content == content
    assert stored.filename == "报告 report.csv"
    assert sent.document is not None
    file = await api.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == content


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_a_refused_connection_is_a_transport_failure(kind: str) -> None:
    """The outbox waits out the network's failures and gives up on the request's own:
    it must tell them apart whichever client runs."""
    logs.add_secrets([TOKEN])
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=make_request(kind))
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(bot.request)  # no getMe: nobody answers
        with pytest.raises(NetworkError) as raised:
            await bot.send_message(1, "hello")
    assert not isinstance(raised.value, TimedOut)
    assert outbox._transport_failure(raised.value)


async def test_updates_arrive_without_the_pressed_messages_keyboard(tg: FakeTelegram) -> None:
    """What getUpdates hands PTB (bot/traffic/updates.py): a press without the keyboard
    of the message it was on; a reply with the keyboard of the message it answers."""
    updates = UpdatesRequest(1, read_timeout=TIMEOUT)
    bot = Bot(TOKEN, base_url=tg.base_url, base_file_url=tg.file_url,
              get_updates_request=updates)  # fmt: skip
    async with bot:
        user = tg.user(7010, first_name="Ann", language_code="en")
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Next", callback_data="c:l:k1:f9")]])
        sent = await bot.send_message(user.id, "A list", reply_markup=keyboard)
        await user.press("Next")
        await user.reply_to(sent.message_id, "a reply")
        pressed, replied = await bot.get_updates(timeout=0)
    assert pressed.callback_query is not None and pressed.callback_query.data == "c:l:k1:f9"
    message = pressed.callback_query.message
    assert isinstance(message, Message) and message.message_id == sent.message_id
    assert message.reply_markup is None  # the press's own message: not parsed
    assert replied.message is not None and replied.message.reply_to_message is not None
    assert replied.message.reply_to_message.reply_markup == keyboard  # kept for the reply
    assert UpdatesRequest.parse_json_payload(b'{"ok": true, "result": [1, {"x": 2}]}') == {
        "ok": True, "result": [1, {"x": 2}],
    }  # fmt: skip  # not shaped like updates: left for PTB to judge
