"""Reports to the staff are limited per kind, so a failure repeated in a loop is told
once a minute with a count instead of once per occurrence."""

from __future__ import annotations

from dataclasses import dataclass

REPORT_EVERY = 60.0  # seconds between two staff reports of the same kind of error


@dataclass
class _Kind:
    last: float
    held: int = 0


class ReportGate:
    """Per kind of error: report the first, hold back the rest for REPORT_EVERY seconds,
    then report the next one with how many were held back."""

    def __init__(self) -> None:
        self._kinds: dict[str, _Kind] = {}

    def admit(self, kind: str, now: float) -> int | None:
        """None: hold this one back; else report it, with this many held back before."""
        seen = self._kinds.get(kind)
        if seen is not None and now - seen.last < REPORT_EVERY:
            seen.held += 1
            return None
        held = seen.held if seen is not None else 0
        self._kinds[kind] = _Kind(now)
        return held
