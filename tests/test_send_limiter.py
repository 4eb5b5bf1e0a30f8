"""The one send limiter (bot/traffic/ratelimit.py) on its own: a reply takes its slot at
once when the window has room (no dispatcher turn, issue 15), and never more than that."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.traffic.ratelimit import BULK, WINDOW, SendLimiter


class Sent:
    """The callback PTB hands the limiter: records when each send went."""

    def __init__(self) -> None:
        self.at: list[tuple[str, float]] = []

    def send(self, name: str) -> Any:
        async def call() -> bool:
            self.at.append((name, asyncio.get_running_loop().time()))
            return True

        return call


async def through(limiter: SendLimiter, sent: Sent, name: str, bulk: bool = False) -> Any:
    return await limiter.process_request(
        sent.send(name), (), {}, "sendMessage", {"chat_id": hash(name) % 10_000 + 1},
        BULK if bulk else None,
    )  # fmt: skip


async def test_replies_beyond_the_rate_wait_for_the_window() -> None:
    limiter, sent = SendLimiter(3), Sent()
    start = asyncio.get_running_loop().time()
    await asyncio.gather(*(through(limiter, sent, f"reply {n}") for n in range(5)))
    offsets = sorted(at - start for _, at in sent.at)
    assert all(o < 0.2 for o in offsets[:3]), offsets  # the window had room for three
    assert all(o >= WINDOW - 0.01 for o in offsets[3:]), offsets  # the rest waited for it
    await limiter.shutdown()


async def test_a_reply_needs_no_turn_of_the_event_loop() -> None:
    limiter, sent = SendLimiter(30), Sent()
    task = asyncio.ensure_future(through(limiter, sent, "reply"))
    await asyncio.sleep(0)  # one turn: the task runs up to its send
    assert [name for name, _ in sent.at] == ["reply"]
    assert await task is True
    await limiter.shutdown()


async def test_a_reply_goes_ahead_of_queued_bulk_sends() -> None:
    limiter, sent = SendLimiter(2), Sent()
    bulk = [asyncio.ensure_future(through(limiter, sent, f"bulk {n}", bulk=True)) for n in range(4)]
    await asyncio.sleep(0.05)  # the first bulk send went; the others wait their even slot
    await through(limiter, sent, "reply")
    await asyncio.gather(*bulk)
    order = [name for name, _ in sent.at]
    assert order.index("reply") < order.index("bulk 1"), order
    await limiter.shutdown()


async def test_a_flood_pause_holds_replies_too() -> None:
    limiter, sent = SendLimiter(30), Sent()
    loop = asyncio.get_running_loop()
    limiter._flood(None, 0.3, "sendMessage")  # Telegram said: the whole bot waits 0.3 s
    start = loop.time()
    await through(limiter, sent, "reply")
    assert sent.at[0][1] - start >= 0.3, "a reply went during Telegram's pause"
    await limiter.shutdown()
