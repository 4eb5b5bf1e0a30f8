"""Deep-link payloads: `https://t.me/<bot>?start=<kind>_<value>`.

Telegram allows 1-64 characters from A-Z a-z 0-9 _ - in a payload; the kind is the text
before the first underscore and names the feature that owns the link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

_PAYLOAD = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Payload:
    kind: str
    value: str


def make_payload(kind: str, value: str) -> str:
    payload = f"{kind}_{value}"
    # An empty kind or value made a link ("_", "p_") that parse_payload then refused.
    if not _PAYLOAD.match(payload) or "_" in kind or not kind or not value:
        raise ValueError(f"not a valid deep-link payload: {payload!r}")
    return payload


def link(bot_username: str, kind: str, value: str) -> str:
    return f"https://t.me/{bot_username}?start={make_payload(kind, value)}"


SHARE_TEXT_CHARS = 200  # of the text Telegram's share screen puts beside the link


def share_url(url: str, text: str) -> str:
    """Telegram's own share screen (pick a chat, the link and text are sent from there):
    https://t.me/share/url?url=…&text=…, both percent-encoded (spaces as %20, as t.me
    reads them; a "&" or "#" in a title stays inside the text)."""
    text = text[:SHARE_TEXT_CHARS]
    return "https://t.me/share/url?" + urlencode({"url": url, "text": text}, quote_via=quote)


def parse_payload(text: str | None) -> Payload | None:
    if not text or not _PAYLOAD.match(text):
        return None
    kind, sep, value = text.partition("_")
    if not sep or not kind or not value:
        return None
    return Payload(kind, value)
