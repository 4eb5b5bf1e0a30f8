"""Search: the normalisation shared by every writer of programmes and by the search
itself, and the search copy each process keeps (on the Runtime)."""

from __future__ import annotations

import asyncio
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.catalog.version import CatalogVersion
from storage import programs as repo
from storage.models import Department, Program, ProgramKind, ProgramStatus
from storage.programs import ListRow, ProgramFilter

MAX_QUERY_CHARS = 100


def normalize(text: str) -> str:
    """Case-fold and unify full-width forms (ＡＢＣ → abc), so 'AI', 'ai' and 'ＡＩ' match."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def search_text_for(program: Program, department: Department | None) -> str:
    """The text a programme is found by: titles, summaries, tags, department, both languages."""
    parts = [
        program.code,
        program.title_zh,
        program.title_en,
        program.summary_zh,
        program.summary_en,
        program.tags,
    ]
    if department is not None:
        parts += [department.name_zh, department.name_en]
    return normalize(" \n ".join(p for p in parts if p))


def clean_query(raw: str) -> str:
    # Control characters become spaces: NUL in a saved search crashed PostgreSQL (text
    # cannot hold it), and none of them ever helps a search.
    spaced = "".join(" " if unicodedata.category(c) == "Cc" else c for c in raw)
    return normalize(spaced)[:MAX_QUERY_CHARS]


@dataclass
class _Copy:
    version: tuple[object, ...]
    loaded_at: float
    texts: dict[int, str]  # open programmes only
    ordered: list[tuple[int, str]]
    titles: dict[int, str]  # every programme's two titles, normalised
    rows: dict[int, ListRow]  # open programmes: what a list shows of each
    places: dict[int, tuple[ProgramKind, int]]  # open programmes: kind and department
    lists: dict[tuple[ProgramKind | None, int | None], list[int]] = field(default_factory=dict)

    def ids_where(self, kind: ProgramKind | None, department_id: int | None) -> list[int]:
        """The open programmes of a kind or a department, by id (kept until the next
        change: a list's next page is a lookup, not a walk over 10,000)."""
        key = (kind, department_id)
        found = self.lists.get(key)
        if found is None:
            found = [
                pid for pid, (k, d) in self.places.items()
                if (kind is None or k is kind) and (department_id is None or d == department_id)
            ]  # fmt: skip
            found.sort()
            self.lists[key] = found
        return found


@dataclass(frozen=True, slots=True)
class Listing:
    ids: list[int]  # ascending
    rows: dict[int, ListRow]  # of (at least) those ids


class SearchCache:
    """The open programmes' search texts, titles, kinds and departments, held in this
    process and checked against the catalog's version (latest change, latest id) on every
    use: a list page (a kind's, a department's, a search's) is that one check, itself read
    at most once a second (bot/catalog/version.py), the rest is read from here.

    A substring test over 10,000 texts in Python takes 2-5 ms, where the same scan in
    SQL took 11-20 ms (every row's wide record read from disk pages); a kind's page cost
    a COUNT over its rows (issue 15's profile). The version check is two index lookups;
    after a change only the rows changed since are fetched. Each instance keeps its own
    copy, so scale-out stays correct; a writer whose clock runs behind could slip past
    the `updated_at` check, so copies are rebuilt in full after `MAX_AGE` seconds
    regardless."""

    MAX_AGE = 600.0

    def __init__(self) -> None:
        self._copies: dict[str, _Copy] = {}
        self.version = CatalogVersion()
        self._loading: dict[str, asyncio.Lock] = {}

    async def matching_ids(self, session: AsyncSession, words: tuple[str, ...]) -> list[int]:
        return _matching(await self._fresh(session), words)

    async def listing(self, session: AsyncSession, flt: ProgramFilter) -> Listing:
        """The open programmes a list shows: of the filter's kind, department or words."""
        if flt.statuses != (ProgramStatus.OPEN,):
            raise ValueError("the copy holds open programmes only")
        copy = await self._fresh(session)
        if flt.words:
            return Listing(_matching(copy, flt.words), copy.rows)
        return Listing(copy.ids_where(flt.kind, flt.department_id), copy.rows)

    async def titled_ids(self, session: AsyncSession, word: str) -> list[int]:
        """Every programme, open or not, whose title in either language contains `word`
        (for the staff board's search, which finds inquiries by their programme's title:
        the same scan in SQL read 10,000 programmes' rows, 10 ms on PostgreSQL)."""
        copy = await self._fresh(session)
        folded = normalize(word)
        return [pid for pid, title in copy.titles.items() if folded in title]

    async def _fresh(self, session: AsyncSession) -> _Copy:
        key = session.get_bind().engine.url.render_as_string(hide_password=True)
        version = await self.version.current(session)
        copy = self._copies.get(key)
        if copy is not None and copy.version == version and self._young(copy):
            return copy
        # One load at a time: fifty people pressing at once after a change (or at start)
        # made fifty full copies side by side (260 MB and seconds of CPU at 10,000).
        async with self._loading.setdefault(key, asyncio.Lock()):
            copy = self._copies.get(key)
            if copy is not None and copy.version == version and self._young(copy):
                return copy
            return await self._load(session, key, version, copy)

    def _young(self, copy: _Copy) -> bool:
        return time.monotonic() - copy.loaded_at <= self.MAX_AGE

    async def _load(
        self, session: AsyncSession, key: str, version: tuple[object, ...], copy: _Copy | None
    ) -> _Copy:
        now = time.monotonic()
        full = copy is None or now - copy.loaded_at > self.MAX_AGE
        since = None if full or copy is None else copy.version[0]
        kept = None if full else copy
        texts = dict(kept.texts) if kept else {}
        titles = dict(kept.titles) if kept else {}
        rows = dict(kept.rows) if kept else {}
        places = dict(kept.places) if kept else {}
        changed = await repo.search_texts_changed_since(
            session, since if isinstance(since, datetime) else None
        )
        for row in changed:
            titles[row.id] = normalize(f"{row.title_zh}\n{row.title_en}")
            if row.is_open:
                texts[row.id] = row.search_text
                rows[row.id] = ListRow(row.id, row.title_zh, row.title_en)
                places[row.id] = (row.kind, row.department_id)
            else:
                for held in (texts, rows, places):
                    held.pop(row.id, None)
        copy = _Copy(version, kept.loaded_at if kept else now, texts, sorted(texts.items()),
                     titles, rows, places)  # fmt: skip
        self._copies[key] = copy
        return copy


def _matching(copy: _Copy, words: tuple[str, ...]) -> list[int]:
    items = copy.ordered
    for word in words:  # narrow word by word; a plain `in` is the fastest test Python has
        items = [(pid, text) for pid, text in items if word in text]
    return [pid for pid, _ in items]
