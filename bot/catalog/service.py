"""Catalog rules: what is visible to whom, paging, language fallback, search, deep links."""

from __future__ import annotations

import re
import time
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.catalog.search import clean_query
from bot.people import roles as access
from bot.people.person import Person
from bot.ui.i18n import localized as localized  # re-exported: views and handlers use it
from bot.ui.ids import MAX_ID, parse_id, valid_id
from storage import forms as forms_repo
from storage import programs as repo
from storage.models import ProgramKind, ProgramStatus
from storage.programs import Card, DepartmentRow, ListRow, ProgramFilter

PAGE_SIZE = 8
KIND_ORDER = tuple(ProgramKind)
_SOURCE = re.compile(r"^(k|d|s)-([a-z_]{1,20}|\d{1,10})$")
_ANCHOR = re.compile(r"^([fb])(\d{1,10})$")


@dataclass(frozen=True, slots=True)
class ListRef:
    """Which list and where in it: source `k-<kind>`, `d-<department id>` or `s-<search id>`,
    anchor `f<id>` (page starts at id) or `b<id>` (the page before id)."""

    source: str
    anchor: str = "f0"

    @classmethod
    def parse(cls, source: str, anchor: str) -> ListRef | None:
        if not _SOURCE.match(source) or not _ANCHOR.match(anchor):
            return None
        # Every number must fit the INTEGER ids it is compared with (bot/ids.py).
        numbers = [anchor[1:]] + ([source[2:]] if source[2:].isdigit() else [])
        if any(n != "0" and parse_id(n) is None for n in numbers):
            return None
        return cls(source, anchor)

    @property
    def kind(self) -> ProgramKind | None:
        tag, _, value = self.source.partition("-")
        if tag != "k":
            return None
        return ProgramKind(value) if value in ProgramKind._value2member_map_ else None

    def id_value(self, tag: str) -> int | None:
        head, _, value = self.source.partition("-")
        return int(value) if head == tag and value.isdigit() else None

    def at(self, anchor: str) -> ListRef:
        return ListRef(self.source, anchor)


@dataclass(frozen=True, slots=True)
class Page:
    ref: ListRef
    items: list[ListRow]
    number: int
    pages: int
    total: int
    prev: ListRef | None
    next: ListRef | None
    heading: tuple[str, dict[str, object]]  # message key and values

    @property
    def here(self) -> ListRef:
        """The anchor that shows this very page again (for Back from a card)."""
        return self.ref.at(f"f{self.items[0].id}") if self.items else self.ref.at("f0")


async def _filter_and_heading(
    session: AsyncSession, ref: ListRef, person: Person
) -> tuple[ProgramFilter, tuple[str, dict[str, object]]] | None:
    lang = person.language
    kind = ref.kind
    if kind is not None:
        return ProgramFilter(kind=kind), ("catalog.heading_kind", {"kind": f"kind.{kind.value}"})
    department_id = ref.id_value("d")
    if department_id is not None:
        department = await repo.get_department(session, department_id)
        if department is None:
            return None
        name = localized(lang, department.name_zh, department.name_en)
        return ProgramFilter(department_id=department_id), ("catalog.heading_dept", {"name": name})
    search_id = ref.id_value("s")
    if search_id is not None:
        try:  # a search is its author's (it can hold a phone number), and expires
            search = await access.search(session, person, search_id)
        except access.Refused:
            return None
        words = tuple(search.query.split())
        return ProgramFilter(words=words), ("catalog.heading_search", {"query": search.query})
    return None


async def page(session: AsyncSession, ref: ListRef, person: Person) -> Page | None:
    """One page of a list; None when the list itself no longer exists (stale button), or
    is someone else's saved search."""
    resolved = await _filter_and_heading(session, ref, person)
    if resolved is None:
        return None
    flt, heading = resolved
    direction, anchor_id = ref.anchor[0], int(ref.anchor[1:])
    if flt.words:
        return await _search_page(session, ref, flt, heading, direction, anchor_id)
    if direction == "b":
        items = await repo.page_before(session, flt, anchor_id, PAGE_SIZE)
        if not items:  # nothing before: show the first page
            items = await repo.page_from(session, flt, 0, PAGE_SIZE)
    else:
        items = await repo.page_from(session, flt, anchor_id, PAGE_SIZE)
        if not items and anchor_id > 0:  # the page emptied since: show the last one
            items = await repo.page_before(session, flt, 2**62, PAGE_SIZE)
    total, before = await repo.count_and_before(session, flt, items[0].id if items else 0)
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(pages, before // PAGE_SIZE + 1)
    prev = ref.at(f"b{items[0].id}") if items and before > 0 else None
    more = bool(items) and before + len(items) < total
    nxt = ref.at(f"f{min(MAX_ID, items[-1].id + 1)}") if more else None
    return Page(ref, items, number, pages, total, prev, nxt, heading)


@dataclass
class _Copy:
    version: tuple[object, ...]
    loaded_at: float
    texts: dict[int, str]  # open programmes only
    ordered: list[tuple[int, str]]


class SearchCache:
    """The open programmes' search texts, held in this process and checked against the
    catalog's version (latest change, latest id) on every search.

    A substring test over 10,000 texts in Python takes 2-5 ms, where the same scan in
    SQL took 11-20 ms (every row's wide record read from disk pages). The version check
    is two index lookups; after a change only the rows changed since are fetched. Each
    instance keeps its own copy, so scale-out stays correct; a writer whose clock runs
    behind could slip past the `updated_at` check, so copies are rebuilt in full after
    `MAX_AGE` seconds regardless."""

    MAX_AGE = 600.0

    def __init__(self) -> None:
        self._copies: dict[str, _Copy] = {}

    async def matching_ids(self, session: AsyncSession, words: tuple[str, ...]) -> list[int]:
        copy = await self._fresh(session)
        items = copy.ordered
        for word in words:  # narrow word by word; a plain `in` is the fastest test Python has
            items = [(pid, text) for pid, text in items if word in text]
        return [pid for pid, _ in items]

    async def _fresh(self, session: AsyncSession) -> _Copy:
        key = session.get_bind().engine.url.render_as_string(hide_password=True)
        version = await repo.catalog_version(session)
        now = time.monotonic()
        copy = self._copies.get(key)
        if copy is not None and copy.version == version and now - copy.loaded_at <= self.MAX_AGE:
            return copy
        full = copy is None or now - copy.loaded_at > self.MAX_AGE
        since = None if full or copy is None else copy.version[0]
        texts = {} if full or copy is None else dict(copy.texts)
        for pid, is_open, text in await repo.search_texts_changed_since(
            session, since if isinstance(since, datetime) else None
        ):
            if is_open:
                texts[pid] = text
            else:
                texts.pop(pid, None)
        copy = _Copy(version, now if full else (copy.loaded_at if copy else now), texts,
                     sorted(texts.items()))  # fmt: skip
        self._copies[key] = copy
        return copy


SEARCH_CACHE = SearchCache()


async def _search_page(
    session: AsyncSession, ref: ListRef, flt: ProgramFilter,
    heading: tuple[str, dict[str, object]], direction: str, anchor_id: int,
) -> Page:  # fmt: skip
    """Search results: one scan yields every matching id; the page is cut from them."""
    ids = await SEARCH_CACHE.matching_ids(session, flt.words)
    position = bisect_left(ids, anchor_id)
    start = max(0, position - PAGE_SIZE) if direction == "b" else position
    if start >= len(ids):
        start = max(0, len(ids) - PAGE_SIZE)
    chunk = ids[start : start + PAGE_SIZE]
    items = await repo.rows_by_ids(session, chunk)
    pages = max(1, -(-len(ids) // PAGE_SIZE))
    number = min(pages, start // PAGE_SIZE + 1)
    prev = ref.at(f"b{chunk[0]}") if chunk and start > 0 else None
    end = start + len(chunk)
    nxt = ref.at(f"f{ids[end]}") if end < len(ids) else None
    return Page(ref, items, number, pages, len(ids), prev, nxt, heading)


async def kinds(session: AsyncSession) -> list[tuple[ProgramKind, int]]:
    counts = await repo.kind_counts(session)
    return [(kind, counts.get(kind, 0)) for kind in KIND_ORDER]


async def departments(session: AsyncSession) -> list[DepartmentRow]:
    return await repo.departments_with_programs(session)


async def search(session: AsyncSession, person: Person, raw: str) -> ListRef | None:
    """Save the query (buttons refer to it by id) and return its first page's ref."""
    query = clean_query(raw)
    if not query:
        return None
    search_id = await forms_repo.save_search(session, person.id, query)
    return ListRef(f"s-{search_id}")


class NotVisible(Exception):
    """The programme doesn't exist, or this viewer may not see it (bot/access.py)."""

    def __init__(self, closed: bool) -> None:
        super().__init__("closed" if closed else "unknown")
        self.closed = closed


async def card(session: AsyncSession, program_id: int, viewer: Person) -> Card:
    found = await repo.get_card(session, program_id) if valid_id(program_id) else None
    if found is None:
        raise NotVisible(closed=False)
    if not access.may_see_program(viewer, found.program):
        raise NotVisible(closed=found.program.status is ProgramStatus.CLOSED)
    return found


def title_of(lang: str, row: ListRow | Card) -> str:
    if isinstance(row, Card):
        return localized(lang, row.program.title_zh, row.program.title_en)
    return localized(lang, row.title_zh, row.title_en)
