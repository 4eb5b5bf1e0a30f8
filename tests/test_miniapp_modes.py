"""The Mini App in each way the bot runs: beside the webhook door, on several instances
sharing one database, and with its port taken (one clear error)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from bot.app import ALLOWED_UPDATES, build_application
from bot.settings import Settings, SettingsError
from bot.web import webhook
from storage.models import Inquiry, InquiryStatus
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram
from tests.harness import BotRunner
from tests.test_inquiry_admin import seed
from tests.test_miniapp_api import Web, column, free_port


def mini_app(
    make_settings: Callable[..., Settings], tg: FakeTelegram, port: int, **extra: object
) -> Settings:
    return make_settings(
        tg, webapp_url="https://miniapp.example/app", webapp_listen="127.0.0.1",
        webapp_port=port, **extra,
    )  # fmt: skip


async def test_beside_the_webhook_door(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    hook, app_port = free_port(), free_port()
    settings = mini_app(
        make_settings, tg, app_port, webhook_url=f"http://127.0.0.1:{hook}/hook",
        webhook_secret="s3cret-hook", webhook_listen="127.0.0.1", webhook_port=hook,
    )  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(
        webhook.serve(build_application(settings), settings, ALLOWED_UPDATES, stop)
    )
    try:
        await tg.wait_for(lambda: task.done() or tg.webhook_info.get("url"), 30, "setWebhook")
        runner = BotRunner(settings)  # only for the Web helper's signing; not started
        client = Web(f"http://127.0.0.1:{app_port}", runner)
        me = await client.get("/api/me", 6400)
        assert me["id"] == 6400 and me["role"] == "enterprise"
        await client.http.aclose()
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    with pytest.raises(httpx.ConnectError):  # stopped with the bot
        async with httpx.AsyncClient() as http:
            await http.get(f"http://127.0.0.1:{app_port}/")


async def test_two_instances_serve_one_board(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    """Two processes' worth of bot on one database, each with its own Mini App port: a
    change through one is on the other's board at once, and the contact is told once."""
    first_port, second_port = free_port(), free_port()
    first = BotRunner(mini_app(make_settings, tg, first_port))
    await first.start()
    second_app = build_application(mini_app(make_settings, tg, second_port))
    await second_app.initialize()
    assert second_app.post_init is not None
    await second_app.post_init(second_app)
    await second_app.start()  # its engines run too, as a second instance's would
    try:
        await seed(first.sessions)
        bob = tg.user(7001, first_name="Bob", language_code="en")
        one = Web(f"http://127.0.0.1:{first_port}", first)
        two = Web(f"http://127.0.0.1:{second_port}", first)
        moved = await two.post("/api/inquiries/4/status", ADMIN_ID, {"status": "meeting"})
        assert moved.status_code == 200, moved.text
        board = await one.get("/api/board", ADMIN_ID)
        assert 4 in column(board, "meeting")
        await bob.expect_message(timeout=10)
        await asyncio.sleep(0)  # let both outboxes look once more
        async with first.sessions() as session:
            row = await session.get(Inquiry, 4)
        assert row is not None and row.status is InquiryStatus.MEETING
        told = [m for m in tg.chat(7001) if "#4" in m.text]
        assert len(told) == 1
        for client in (one, two):
            await client.http.aclose()
    finally:
        await second_app.stop()
        await second_app.shutdown()
        assert second_app.post_shutdown is not None
        await second_app.post_shutdown(second_app)
        await first.stop()


async def test_a_taken_port_is_one_clear_error(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    port = free_port()
    first = BotRunner(mini_app(make_settings, tg, port))
    await first.start()
    try:
        second = BotRunner(mini_app(make_settings, tg, port))
        with pytest.raises(SettingsError, match="WEBAPP_LISTEN/WEBAPP_PORT: cannot listen"):
            await second.start()
    finally:
        await first.stop()


async def test_a_flood_of_requests_is_refused_for_that_user_only(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    """The page's own flood gate: four times the chat's burst (a page makes a few calls a
    tap), then 429 for that user while others are served."""
    port = free_port()
    runner = BotRunner(mini_app(make_settings, tg, port, flood_burst=1, flood_rate=0.01))
    await runner.start()
    try:
        client = Web(f"http://127.0.0.1:{port}", runner)
        statuses = [(await client.call("GET", "/api/me", 6500)).status_code for _ in range(6)]
        assert statuses == [200] * 4 + [429] * 2
        assert (await client.call("GET", "/api/me", 6501)).status_code == 200
        await client.http.aclose()
    finally:
        await runner.stop()
