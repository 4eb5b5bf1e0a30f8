"""Button-press answers sent alongside the rest of the reply, not before it.

Telegram wants every callback query answered (it stops the client's spinner), but the
answer says nothing the edit that follows depends on: awaiting it first made a press
cost two round trips in a row. The answer is started as a task instead, so it travels
while the handler edits the message; the button wrapper (handlers/guard.py) waits for it
before the update is done, and a failed answer is logged, never dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class PendingAnswers:
    """Answers in flight, by callback query id (a strong reference keeps each task
    alive until it ends; asyncio itself holds tasks only weakly)."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    def start(self, query_id: str, call: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(call, name=f"answer-callback-query-{query_id}")
        self._tasks[query_id] = task
        task.add_done_callback(lambda done: self._finished(query_id, done))

    def _finished(self, query_id: str, task: asyncio.Task[Any]) -> None:
        if self._tasks.get(query_id) is task:
            del self._tasks[query_id]
        if task.cancelled():
            log.warning("answering button press %s was cancelled", query_id)
        elif (error := task.exception()) is not None:
            # The press was handled (its screen shown); only the spinner stays until
            # the client gives up. Telegram's own words say why (expired, invalid id).
            log.warning("answering button press %s failed: %s", query_id, error)

    async def settle(self, query_id: str) -> None:
        """Wait for this press's answer, if one is in flight; its failure is logged by
        then, so it is not raised here (the press's own work is done)."""
        task = self._tasks.get(query_id)
        if task is not None:
            await asyncio.wait([task])

    def __len__(self) -> int:
        return len(self._tasks)
