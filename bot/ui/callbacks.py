"""Callback data: short ASCII strings `ns:action[:arg…]`, never more than Telegram's 64 bytes.

Buttons can be forged, so parsing is strict and total: anything unexpected yields None,
and every handler treats None as a stale button.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.ui.ids import parse_id

MAX_BYTES = 64
_PART = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")


@dataclass(frozen=True, slots=True)
class Callback:
    ns: str
    action: str
    args: tuple[str, ...] = ()

    def pack(self) -> str:
        data = ":".join((self.ns, self.action, *self.args))
        if len(data.encode()) > MAX_BYTES or not all(
            _PART.match(p) for p in (self.ns, self.action, *self.args)
        ):
            raise ValueError(f"callback data not packable: {data!r}")
        return data

    def int_arg(self, index: int = 0) -> int | None:
        """A number that fits an INTEGER id column (bot/ids.py), or None when missing, not
        a plain number, or out of range: a forged 2**40 never reaches a query."""
        if index >= len(self.args):
            return None
        text = self.args[index]
        if text == "0":
            return 0
        return parse_id(text)

    def user_arg(self, index: int = 0) -> int | None:
        """A Telegram user id (BIGINT), or None."""
        return parse_id(self.args[index], user=True) if index < len(self.args) else None


def cb(ns: str, action: str, *args: object) -> str:
    return Callback(ns, action, tuple(str(a) for a in args)).pack()


def parse(data: object) -> Callback | None:
    if not isinstance(data, str) or not data or len(data.encode()) > MAX_BYTES:
        return None
    parts = data.split(":")
    if len(parts) < 2 or not all(_PART.match(p) for p in parts):
        return None
    return Callback(parts[0], parts[1], tuple(parts[2:]))
