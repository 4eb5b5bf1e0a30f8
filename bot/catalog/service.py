"""Catalog rules: what is visible to whom, paging, language fallback, search, deep links."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.catalog.search import SearchCache, clean_query
from bot.people import audit
from bot.people import roles as access
from bot.people.audit import Action
from bot.people.person import Person
from bot.people.roles import Act
from bot.ui.i18n import localized
from bot.ui.ids import parse_id, valid_id
from storage import forms as forms_repo
from storage import program_admin as admin_repo
from storage import programs as repo
from storage.models import Program, ProgramKind, ProgramStatus, User, utcnow
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


async def page(
    session: AsyncSession, ref: ListRef, person: Person, search: SearchCache
) -> Page | None:
    """One page of a list; None when the list itself no longer exists (stale button), or
    is someone else's saved search."""
    resolved = await _filter_and_heading(session, ref, person)
    if resolved is None:
        return None
    flt, heading = resolved
    direction, anchor_id = ref.anchor[0], int(ref.anchor[1:])
    # Every list, a kind's as a search's, is cut from this process's copy of the
    # catalogue (bot/catalog/search.py): a press is its version check, and no COUNT.
    listing = await search.listing(session, flt)
    ids = listing.ids
    position = bisect_left(ids, anchor_id)
    start = max(0, position - PAGE_SIZE) if direction == "b" else position
    if start >= len(ids):  # the page emptied since: show the last one
        start = max(0, len(ids) - PAGE_SIZE)
    chunk = ids[start : start + PAGE_SIZE]
    items = [listing.rows[i] for i in chunk]
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


@dataclass(frozen=True, slots=True)
class SearchResult:
    page: Page | None  # None or empty: nothing found
    kinds: list[tuple[ProgramKind, int]]  # to suggest browsing instead, when nothing was found


async def run_search(
    session: AsyncSession, person: Person, raw: str, cache: SearchCache
) -> SearchResult:
    """Save the query (write unit of work) and return its first page; the kinds with
    their counts when nothing matched."""
    ref = await search(session, person, raw)
    found = await page(session, ref, person, cache) if ref else None
    if found is not None and found.items:
        return SearchResult(found, [])
    return SearchResult(found, await kinds(session))


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


# Changes by admins ---------------------------------------------------------------------


CHANGEABLE_STATUSES = (ProgramStatus.OPEN.value, ProgramStatus.CLOSED.value)


async def set_status(session: AsyncSession, person: Person, program_id: int, value: str) -> Program:
    """Open or close a programme (`value` as a button carries it: "open" or "closed")."""
    access.require(person, Act.MANAGE_CATALOG)
    if value not in CHANGEABLE_STATUSES:
        raise access.Refused()
    status = ProgramStatus(value)
    program = await access.program(session, person, program_id, lock=True)
    if program.status is not status:
        detail = f"{program.code}: " + audit.change("status.", program.status.value, status.value)
        await audit.record(
            session, person.id, Action.PROGRAM_STATUS, f"program:{program.id}", detail
        )
    program.status = status
    program.updated_at = utcnow()
    return program


OWNERS_PER_PAGE = 8


async def owner_choices(
    session: AsyncSession, person: Person, page_no: int
) -> tuple[list[User], int]:
    access.require(person, Act.MANAGE_CATALOG)
    total = await admin_repo.count_staff(session)
    pages = max(1, -(-total // OWNERS_PER_PAGE))
    page_no = min(max(1, page_no), pages)
    people = await repo.teachers(session, (page_no - 1) * OWNERS_PER_PAGE, OWNERS_PER_PAGE)
    return people, pages


async def set_owner(
    session: AsyncSession, person: Person, program_id: int, owner_id: int
) -> Program:
    access.require(person, Act.MANAGE_CATALOG)
    program = await access.program(session, person, program_id, lock=True)
    owner = (
        await admin_repo.staff_user(session, owner_id) if valid_id(owner_id, user=True) else None
    )
    if owner is None:
        raise access.Refused()
    detail = f"{program.code}: {owner.first_name} ({owner.id})"
    await audit.record(session, person.id, Action.PROGRAM_OWNER, f"program:{program.id}", detail)
    program.owner_id = owner.id
    program.updated_at = utcnow()
    return program


async def titled(session: AsyncSession, cache: SearchCache, word: str) -> list[int]:
    """Every programme, open or closed, with `word` in a title: how other wings find
    things by their programme's name (the staff board's search)."""
    return await cache.titled_ids(session, word)
