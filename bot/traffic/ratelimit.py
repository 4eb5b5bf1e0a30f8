"""One rate limiter for everything the bot sends (plugged into PTB's request layer).

- At most SEND_RATE sends in any one second overall. Queued bulk sends (outbox:
  notifications, reminders, broadcasts) are spaced evenly: no burst at start-up.
- Interactive sends (replies to a person's own click or message) go ahead of queued bulk
  sends and need no slot of the even schedule: while people are clicking, bulk sends
  leave RESERVE of the budget free, so a reply usually goes at once instead of waiting
  for the next slot (up to 1/SEND_RATE) while a broadcast runs.
- Bulk sends also keep 1 per second per private chat and 20 per minute per group, counting
  the replies that went to that chat too. PACED sends (live progress edits) keep that
  spacing but jump the bulk queue. Replies to a person never wait for spacing.
- 429 (RetryAfter): the chat it came from waits the time Telegram asks (everything waits
  when it looks like the bot's overall limit), then the send is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

BULK = "bulk"
PACED = "paced"
LIMITED_METHODS = frozenset(
    m.lower()
    for m in (
        "sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "sendVideo",
        "sendAudio", "sendVoice", "sendAnimation", "sendContact", "sendLocation",
        "copyMessage", "forwardMessage", "editMessageText", "editMessageCaption",
        "editMessageReplyMarkup", "editMessageMedia",
    )
)  # fmt: skip
# Telegram's 1 per second per chat and 20 per minute per group, with a margin: sends
# spaced exactly 1.0 s apart can arrive closer than that after network jitter.
PRIVATE_CHAT_INTERVAL = 1.2
GROUP_CHAT_INTERVAL = 3.2
# Slot priorities: replies to people first, then paced sends of our own (live progress),
# then the queue. Only replies make bulk sends leave RESERVE free.
INTERACTIVE, PROGRESS, QUEUED = 0, 1, 2
MAX_RETRIES = 3
WINDOW = 1.0  # seconds: at most SEND_RATE sends in any window this long
RESERVE = 0.08  # share of SEND_RATE that bulk sends leave free while people click
CLICKING = 3.0  # seconds since the last interactive send that count as "people click"


class SendLimiter(BaseRateLimiter[str]):
    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.interval = 1.0 / per_second
        self._recent: deque[float] = deque()  # slots handed out in the last WINDOW
        self._last_interactive = float("-inf")
        self._arrived = asyncio.Event()  # wakes the dispatcher for a new waiter
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._chat_next: dict[int | str, float] = {}  # earliest paced send per chat
        self._chat_pause: dict[int | str, float] = {}  # a 429 on that chat: everyone waits
        self._recent_floods: list[tuple[float, int | str | None]] = []
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._dispatcher: asyncio.Task[None] | None = None
        self.sent = 0
        self.retry_after_seen = 0

    def set_rate(self, per_second: float) -> None:
        """This process's share of the bot's rate (bot.send_share); takes effect at the
        next slot."""
        self.per_second = per_second
        self.interval = 1.0 / per_second

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        for _, _, fut in self._waiters:
            if not fut.done():
                fut.cancel()
        self._waiters.clear()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if endpoint.lower() not in LIMITED_METHODS:
            return await callback(*args, **kwargs)
        bulk = rate_limit_args == BULK
        paced = bulk or rate_limit_args == PACED
        chat_id = data.get("chat_id")
        for attempt in range(MAX_RETRIES + 1):
            if chat_id is not None:
                await self._chat_turn(chat_id, paced=paced)
            await self._slot(QUEUED if bulk else PROGRESS if paced else INTERACTIVE)
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.retry_after_seen += 1
                self._flood(chat_id, _seconds(exc.retry_after), endpoint)
                if attempt == MAX_RETRIES:
                    raise
                continue
            self.sent += 1
            return result
        raise AssertionError("unreachable")

    def _flood(self, chat_id: int | str | None, delay: float, endpoint: str) -> None:
        """Telegram's 429 does not say whether one chat or the whole bot went too fast.
        One chat: only that chat waits (a busy admin conversation must not stall a
        broadcast). Two chats within a couple of seconds, or no chat: everything waits."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        until = now + delay + 0.1
        self._recent_floods = [(t, c) for t, c in self._recent_floods if now - t < 2.0]
        others = any(c != chat_id for _, c in self._recent_floods)
        self._recent_floods.append((now, chat_id))
        if chat_id is not None:
            self._chat_pause[chat_id] = max(self._chat_pause.get(chat_id, 0.0), until)
        if chat_id is None or others:
            self._paused_until = max(self._paused_until, until)
        log.warning("Telegram asked us to wait %.1f s (%s)", delay, endpoint)

    async def _chat_turn(self, chat_id: int | str, *, paced: bool) -> None:
        """Wait for this chat's turn. Paced sends keep Telegram's per-chat spacing; replies
        only wait out a flood pause of their chat, but they count: a paced send right
        after a reply waits its spacing."""
        loop = asyncio.get_running_loop()
        is_group = isinstance(chat_id, str) or int(chat_id) < 0
        spacing = GROUP_CHAT_INTERVAL if is_group else PRIVATE_CHAT_INTERVAL
        now = loop.time()
        turn = max(now, self._chat_pause.get(chat_id, 0.0))
        if paced:
            turn = max(turn, self._chat_next.get(chat_id, 0.0))
        self._chat_next[chat_id] = max(self._chat_next.get(chat_id, 0.0), turn + spacing)
        if len(self._chat_next) > 50_000:  # forget chats whose turn is long past
            self._chat_next = {k: v for k, v in self._chat_next.items() if v > now}
            self._chat_pause = {k: v for k, v in self._chat_pause.items() if v > now}
        if turn > now:
            await asyncio.sleep(turn - now)

    async def _slot(self, priority: int) -> None:
        loop = asyncio.get_running_loop()
        if priority != QUEUED and (not self._waiters or self._waiters[0][0] > priority):
            # Nobody as urgent is waiting: when the window has room, the slot is taken
            # here and now. Through the dispatcher it cost a task's turn of the event
            # loop, in which whatever else was ready (the answer, the next getUpdates)
            # went out before a press's edit (issue 15).
            now = loop.time()
            if self._start(priority, now) <= now:
                self._take(priority, now)
                return
        future: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiters, (priority, next(self._seq), future))
        self._arrived.set()
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = loop.create_task(self._dispatch())
        await future

    async def _dispatch(self) -> None:
        """Hands out slots, always to the most urgent waiter: interactive ones as soon as
        the window has room, bulk ones on their even schedule."""
        loop = asyncio.get_running_loop()
        while self._waiters:
            self._arrived.clear()
            now = loop.time()
            priority = self._waiters[0][0]
            start = self._start(priority, now)
            if start > now:
                # Until then, or until a new waiter (perhaps a more urgent one) arrives.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), start - now)
                continue
            _, _, future = heapq.heappop(self._waiters)
            if future.done():  # its sender was cancelled
                continue
            self._take(priority, now)
            future.set_result(None)

    def _start(self, priority: int, now: float) -> float:
        """The earliest a slot of this priority may be taken, seen at `now`."""
        while self._recent and now - self._recent[0] >= WINDOW:
            self._recent.popleft()
        cap = max(1, int(self.per_second))
        start = self._paused_until
        if len(self._recent) >= cap:  # the window is full until its oldest leaves
            start = max(start, self._recent[-cap] + WINDOW)
        if priority == QUEUED:
            start = max(start, self._next_slot)
        return start

    def _take(self, priority: int, now: float) -> None:
        self._recent.append(now)
        if priority == INTERACTIVE:
            self._last_interactive = now
        elif priority == QUEUED:
            clicking = now - self._last_interactive < CLICKING
            interval = self.interval / (1 - RESERVE) if clicking else self.interval
            self._next_slot = max(now, self._next_slot) + interval


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
