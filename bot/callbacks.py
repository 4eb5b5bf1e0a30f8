"""Callback data: short ASCII strings `ns:action[:arg…]`, never more than Telegram's 64 bytes.

Buttons can be forged, so parsing is strict and total: anything unexpected yields None,
and every handler treats None as a stale button.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
        """A numeric argument, or None when missing or not a plain number."""
        if index >= len(self.args) or not self.args[index].isdigit():
            return None
        value = int(self.args[index])
        return value if value < 2**63 else None


def cb(ns: str, action: str, *args: object) -> str:
    return Callback(ns, action, tuple(str(a) for a in args)).pack()


def parse(data: object) -> Callback | None:
    if not isinstance(data, str) or not data or len(data.encode()) > MAX_BYTES:
        return None
    parts = data.split(":")
    if len(parts) < 2 or not all(_PART.match(p) for p in parts):
        return None
    return Callback(parts[0], parts[1], tuple(parts[2:]))
