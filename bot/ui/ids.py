"""The range of the ids that arrive in buttons and deep links, checked before any query.

Programmes, inquiries, steps, broadcasts, searches, departments and audit entries have
INTEGER keys: 32 bits on PostgreSQL, where a larger number makes the driver raise instead
of simply finding nothing. Telegram user ids are BIGINT. Every id read from outside is
parsed here, so nothing out of range ever reaches the database.
"""

from __future__ import annotations

MAX_ID = 2**31 - 1  # INTEGER primary keys
MAX_USER_ID = 2**63 - 1  # BIGINT: Telegram user and chat ids
_MAX_DIGITS = len(str(MAX_USER_ID))


def parse_id(text: str | None, *, user: bool = False) -> int | None:
    """A plain decimal id within its column's range, or None (forged, stale, garbage)."""
    if not text or len(text) > _MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 0 < value <= (MAX_USER_ID if user else MAX_ID) else None


def valid_id(value: object, *, user: bool = False) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and 0 < value <= (MAX_USER_ID if user else MAX_ID)
    )
