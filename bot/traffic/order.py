"""Concurrent update processing that keeps each user's updates in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# PTB's own semaphore is taken before do_process_update, so a user's queued updates
# would each hold a working slot while they wait for that user's turn: someone sending
# 50 updates at once would make everyone else wait. PTB's limit is therefore set out of
# reach, and the real one is taken only once it is the user's turn.
_UNBOUNDED = 1_000_000


class PerUserOrderedProcessor(BaseUpdateProcessor):
    """Different users are served concurrently, at most `max_concurrent_updates` at a
    time; one user's updates run one at a time, in arrival order (asyncio.Lock wakes
    waiters first-in, first-out)."""

    def __init__(self, max_concurrent_updates: int = 32) -> None:
        super().__init__(_UNBOUNDED)
        self._working = asyncio.Semaphore(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _key(update)
        if key is None:
            async with self._working:
                await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock, self._working:
                await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:  # forget idle users so the map stays small
                del self._waiting[key]
                self._locks.pop(key, None)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


def _key(update: object) -> int | None:
    if isinstance(update, Update):
        if update.effective_user is not None:
            return update.effective_user.id
        if update.effective_chat is not None:
            return update.effective_chat.id
    return None
