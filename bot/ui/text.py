"""Telegram's length limits, in one place.

Telegram measures a message after entity parsing: tags count nothing, `&lt;` counts one,
and the rest is counted in Unicode code points (4,096 emoji fit in a message, 4,097 do
not); only entity offsets are in UTF-16 units. A text holds 4,096 such characters, a
caption 1,024. So every message is built here from pieces whose visible length is known
before they become HTML:

- `Markup`: fixed HTML (catalog text, tags of our own), never cut;
- `Plain`: text from people or data, escaped when the message is built, and the only
  thing ever clipped — on its text, with "…", never inside a tag, an entity or a
  character cluster.

`Html` is a sequence of pieces; `Html.fit()` makes it one message within a limit by
clipping its Plain pieces (lowest rank first, the longest first within a rank);
`fit_lines()` keeps the lines of a list that fit and says how many did not, and
`split_lines()` spreads a list over several messages.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape, unescape
from string import Formatter
from typing import Final, Literal

from bot.ui.i18n import t

TEXT_LIMIT: Final = 4096
CAPTION_LIMIT: Final = 1024
TELEGRAM_NAME: Final = 64  # the longest first (or last) name Telegram allows
TELEGRAM_USERNAME: Final = 32
ELLIPSIS: Final = "…"
WORD_BACKOFF: Final = 12  # a clip moves back to a space this close, so words stay whole

# Ranks of Plain pieces: lower ranks are clipped first.
CLIP_FIRST: Final = -1
NORMAL: Final = 0
KEEP: Final = 1  # clipped only when everything else is down to its "…"

_TAG = re.compile(r"<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|lt|gt|amp|quot);")
_SPACE = re.compile(r"\s")


class MessageTooLong(ValueError):
    """The fixed parts of a message alone exceed the limit: a bug in a view, not input."""


def visible_len(html: str) -> int:
    """The length Telegram counts for HTML: tags nothing, an entity one, code points."""
    return len(_ENTITY.sub("&", _TAG.sub("", html)))


def plain_of(html: str) -> str:
    """The text a reader sees in HTML (tags dropped, entities decoded)."""
    return unescape(_TAG.sub("", html))


def _extends(ch: str) -> bool:
    """Characters that belong to the one before: cutting before them would split a
    letter from its accent or an emoji from its modifier."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or cp == 0x200D  # zero-width joiner
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0x1F3FB <= cp <= 0x1F3FF  # skin tones
        or 0xE0020 <= cp <= 0xE007F  # tag characters (subdivision flags)
        or 0xE0100 <= cp <= 0xE01EF
    )


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _cut_point(text: str, n: int) -> int:
    """The largest cut at most `n` that splits no character cluster."""
    while 0 < n < len(text) and (_extends(text[n]) or text[n - 1] == "\u200d"):
        n -= 1
    if 0 < n < len(text) and _regional(text[n]) and _regional(text[n - 1]):
        run = 0
        while run < n and _regional(text[n - 1 - run]):
            run += 1
        n -= run % 2  # flags are pairs: never leave half of one
    return n


def clip_text(text: str, limit: int) -> str:
    """Plain text of at most `limit` code points: whole, or cut cleanly and marked "…"."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    n = _cut_point(text, limit - 1)
    window = text[max(0, n - WORD_BACKOFF) : n + 1]
    spaces = [m.start() for m in _SPACE.finditer(window)]
    if spaces and n > WORD_BACKOFF:  # end on a word boundary when one is near
        n = _cut_point(text, n - WORD_BACKOFF + spaces[-1])
    return text[:n].rstrip() + ELLIPSIS


@dataclass(frozen=True, slots=True)
class Plain:
    """Text from people or data: escaped when the message is built; may be clipped."""

    text: str
    rank: int = NORMAL


@dataclass(frozen=True, slots=True)
class Markup:
    """Fixed HTML (catalog text, tags of our own): never clipped."""

    html: str


Piece = Plain | Markup


class Html:
    """A message under construction: a sequence of pieces, measured before it is HTML."""

    __slots__ = ("pieces",)

    def __init__(self, *parts: Html | Plain | Markup | str | int) -> None:
        pieces: list[Piece] = []
        for part in parts:
            if isinstance(part, Html):
                pieces.extend(part.pieces)
            elif isinstance(part, Plain | Markup):
                pieces.append(part)
            elif part != "":
                pieces.append(Markup(str(part)))
        self.pieces: tuple[Piece, ...] = tuple(pieces)

    @staticmethod
    def lines(*parts: Part, sep: str = "\n") -> Html:
        """The non-empty parts, one per line."""
        return Html.join(sep, [p for p in parts if Html(p)])

    def __add__(self, other: Html | Plain | Markup | str | int) -> Html:
        return Html(self, other)

    def __radd__(self, other: Html | Plain | Markup | str | int) -> Html:
        return Html(other, self)

    def __bool__(self) -> bool:
        return bool(self.pieces)

    def __repr__(self) -> str:
        return f"Html({self.render()!r})"

    @staticmethod
    def join(sep: Html | str, parts: Iterable[Html | Plain | Markup | str | int]) -> Html:
        out: list[Html | Plain | Markup | str | int] = []
        for part in parts:
            if out:
                out.append(sep)
            out.append(part)
        return Html(*out)

    def length(self) -> int:
        """The visible length, nothing clipped."""
        return sum(
            len(p.text) if isinstance(p, Plain) else visible_len(p.html) for p in self.pieces
        )

    def min_length(self) -> int:
        """The visible length with every Plain piece clipped down to its "…"."""
        return sum(
            min(len(p.text), 1) if isinstance(p, Plain) else visible_len(p.html)
            for p in self.pieces
        )

    def render(self) -> str:
        """The HTML with nothing clipped (for texts known to be short)."""
        return "".join(
            escape(p.text, quote=False) if isinstance(p, Plain) else p.html for p in self.pieces
        )

    def fit(self, limit: int = TEXT_LIMIT) -> str:
        """The HTML, its Plain pieces clipped as little as needed to fit `limit`."""
        plains = [p for p in self.pieces if isinstance(p, Plain)]
        fixed = sum(visible_len(p.html) for p in self.pieces if isinstance(p, Markup))
        caps = _caps([len(p.text) for p in plains], [p.rank for p in plains], limit - fixed)
        if caps is None:
            raise MessageTooLong(f"fixed parts {fixed} and {len(plains)} pieces > {limit}")
        out: list[str] = []
        i = 0
        for piece in self.pieces:
            if isinstance(piece, Plain):
                out.append(escape(clip_text(piece.text, caps[i]), quote=False))
                i += 1
            else:
                out.append(piece.html)
        return "".join(out)


Part = Html | Plain | Markup | str | int  # a str is HTML already, as t() returns it


def _level(lengths: Sequence[int], budget: int) -> int | None:
    """The largest cap c >= 1 with sum(min(length, c)) <= budget, or None."""
    if sum(min(n, 1) for n in lengths) > budget:
        return None
    low, high = 1, max(lengths, default=1)
    while low < high:
        mid = (low + high + 1) // 2
        if sum(min(n, mid) for n in lengths) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


def _caps(lengths: list[int], ranks: list[int], room: int) -> list[int] | None:
    """How many code points each piece may keep: lowest rank first, longest first."""
    caps = list(lengths)
    if sum(caps) <= room:
        return caps
    for rank in sorted(set(ranks)):
        group = [i for i, r in enumerate(ranks) if r == rank]
        others = sum(caps) - sum(caps[i] for i in group)
        cap = _level([lengths[i] for i in group], room - others)
        for i in group:
            caps[i] = min(lengths[i], 1 if cap is None else cap)
        if cap is not None:
            return caps
    return None


def labelled(lang: str, key: str, value: Part) -> Html:
    """ "Label: value" on a check screen, with Chinese's full-width colon (联系人：李雷)."""
    return Html(t(lang, key), "：" if lang == "zh" else ": ", value)


def tr(lang: str, key: str, **values: Html | Plain | Markup | str | int) -> Html:
    """A catalog text as pieces: its words are markup; a Plain value stays clippable
    text, a str value is inserted as HTML (as with t())."""
    parts: list[Html | Plain | Markup | str | int] = []
    for literal, name, spec, _conversion in Formatter().parse(t(lang, key)):
        parts.append(literal)
        if name is not None:
            value = values[name]
            if isinstance(value, int) and spec:
                value = format(value, spec)
            parts.append(value)
    return Html(*parts)


def bold(part: Html | Plain | Markup | str | int) -> Html:
    return Html("<b>", part, "</b>")


def italic(part: Html | Plain | Markup | str | int) -> Html:
    return Html("<i>", part, "</i>")


def fit_lines(
    head: Part,
    lines: Sequence[Part],
    *,
    more: Callable[[int], Part],
    keep: Literal["first", "last"] = "first",
    foot: Part = "",
    sep: str = "\n",
    hidden: int = 0,
    limit: int = TEXT_LIMIT,
) -> str:
    """One message of a list perhaps too long for it: the first (or the last, newest)
    lines that fit whole, and `more(n)` for the n left out (`hidden` more were left out
    before this message)."""
    body = [Html(line) for line in lines]
    whole = Html.lines(head, Html.join(sep, body), foot, sep=sep)
    if not hidden and whole.length() <= limit:
        return whole.fit(limit)
    order = body if keep == "first" else body[::-1]
    used = Html.lines(head, foot, more(len(body) + hidden), sep=sep).length()
    taken: list[Html] = []
    for line in order:
        size = line.length() + len(sep)
        if used + size > limit:
            break
        taken.append(line)
        used += size
    if not taken and order:  # not even one whole: the first, clipped
        taken.append(order[0])
    left = len(body) - len(taken) + hidden
    note = more(left) if left else ""
    if keep == "first":
        shown = Html.lines(*taken, note, sep=sep)
    else:
        shown = Html.lines(note, *taken[::-1], sep=sep)
    return Html.lines(head, shown, foot, sep=sep).fit(limit)


def split_lines(
    head: Part,
    lines: Sequence[Part],
    *,
    more: Callable[[int], Part],
    max_messages: int = 5,
    sep: str = "\n",
    limit: int = TEXT_LIMIT,
) -> list[str]:
    """A list over several messages (the head on the first), at most `max_messages`;
    the last then ends with `more(n)` for the lines that did not fit."""
    chunks: list[list[Html]] = [[]]
    used = Html(head).length()
    for line in (Html(line) for line in lines):
        size = line.length() + len(sep)
        if chunks[-1] and used + size > limit:
            chunks.append([])
            used = 0
        chunks[-1].append(line)
        used += size
    hidden = sum(len(chunk) for chunk in chunks[max_messages:])
    chunks = chunks[:max_messages]
    messages = []
    for number, chunk in enumerate(chunks):
        top: Part = head if number == 0 else ""
        if number == len(chunks) - 1 and hidden:
            messages.append(fit_lines(top, chunk, more=more, hidden=hidden, sep=sep, limit=limit))
        else:
            messages.append(Html.lines(top, *chunk, sep=sep).fit(limit))
    return messages
