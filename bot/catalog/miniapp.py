"""The catalogue as the Mini App shows it: kind and department together, search in both
languages (Chinese substrings too, through the same search copy as the chat), any page,
and a card with whether this contact is interested already."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.catalog import service as catalog
from bot.catalog.search import SearchCache, clean_query
from bot.catalog.version import CatalogVersion
from bot.people.person import Person
from bot.ui.errors import FieldError
from bot.ui.ids import parse_id
from storage import catalog_browse as repo
from storage import inquiries as inquiries_repo
from storage import programs as programs_repo
from storage.models import Department, ProgramKind
from storage.programs import Card, DepartmentRow, ProgramFilter

PAGE_SIZE = 20
MAX_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    kind: ProgramKind | None = None
    department_id: int | None = None
    words: tuple[str, ...] = ()
    page: int = 1

    @classmethod
    def parse(cls, args: dict[str, str]) -> CatalogQuery:
        kind = args.get("kind") or None
        if kind is not None and kind not in ProgramKind._value2member_map_:
            raise FieldError("webapp.bad_filter")
        department = args.get("department") or None
        department_id = parse_id(department) if department else None
        page = args.get("page") or "1"
        # isdigit() alone takes "²", which int() refuses; the page sends ASCII digits.
        if (department and department_id is None) or not (page.isascii() and page.isdigit()):
            raise FieldError("webapp.bad_filter")
        return cls(
            kind=ProgramKind(kind) if kind else None,
            department_id=department_id,
            words=tuple(clean_query(args.get("q", "")).split()[:5]),
            page=min(max(1, int(page[:6])), MAX_PAGE),
        )


@dataclass(frozen=True, slots=True)
class Browse:
    items: list[repo.BrowseRow]
    page: int
    pages: int
    total: int
    kinds: list[tuple[ProgramKind, int]]
    departments: list[DepartmentRow]


@dataclass(frozen=True, slots=True)
class _Facets:
    version: tuple[object, ...]
    loaded_at: float
    counts: dict[tuple[ProgramKind, int], int]
    departments: list[Department]

    def total(self, kind: ProgramKind | None, department_id: int | None) -> int:
        return sum(
            n for (k, d), n in self.counts.items()
            if (kind is None or k is kind) and (department_id is None or d == department_id)
        )  # fmt: skip


class FacetCache:
    """The catalogue's counts per kind and department, held in this process and checked
    against the catalogue's version (latest change, latest id) on every page, as the
    search copy is (bot/catalog/search.py, bot/catalog/version.py): a page is then its
    rows, and the version at most once a second. Department names are read again after
    MAX_AGE at the latest."""

    MAX_AGE = 60.0

    def __init__(self) -> None:
        self._copies: dict[str, _Facets] = {}
        self.version = CatalogVersion()

    async def get(self, session: AsyncSession) -> _Facets:
        key = session.get_bind().engine.url.render_as_string(hide_password=True)
        version = await self.version.current(session)
        now = time.monotonic()
        found = self._copies.get(key)
        if found is None or found.version != version or now - found.loaded_at > self.MAX_AGE:
            counts = await repo.facets(session)
            found = _Facets(version, now, counts, await programs_repo.all_departments(session))
            self._copies[key] = found
        return found


async def browse(
    session: AsyncSession, person: Person, query: CatalogQuery, search: SearchCache,
    facets: FacetCache,
) -> Browse:  # fmt: skip
    """One page of the published catalogue (what every contact may see); a page past the
    end shows the last one."""
    known = await facets.get(session)
    flt = ProgramFilter(kind=query.kind, department_id=query.department_id)
    if query.words:
        ids = await search.matching_ids(session, query.words)
        if query.kind is not None or query.department_id is not None:
            allowed = set(await repo.ids_where(session, flt))
            ids = [i for i in ids if i in allowed]
        total = len(ids)
        pages = max(1, -(-total // PAGE_SIZE))
        number = min(query.page, pages)
        start = (number - 1) * PAGE_SIZE
        items = await repo.rows_by_ids(session, ids[start : start + PAGE_SIZE])
    else:
        total = known.total(query.kind, query.department_id)
        pages = max(1, -(-total // PAGE_SIZE))
        number = min(query.page, pages)
        items = await repo.page_only(session, flt, (number - 1) * PAGE_SIZE, PAGE_SIZE)
    by_kind: dict[ProgramKind, int] = {}
    by_department: dict[int, int] = {}
    for (kind, department_id), n in known.counts.items():
        by_kind[kind] = by_kind.get(kind, 0) + n
        by_department[department_id] = by_department.get(department_id, 0) + n
    departments = [  # those with open programmes, in the chat's order (by code)
        DepartmentRow(d.id, d.name_zh, d.name_en, by_department[d.id])
        for d in known.departments
        if by_department.get(d.id)
    ]
    kinds = [(kind, by_kind.get(kind, 0)) for kind in catalog.KIND_ORDER]
    return Browse(items, number, pages, total, kinds, departments)


@dataclass(frozen=True, slots=True)
class Shown:
    card: Card
    interested: bool  # an open inquiry of this person's about it exists


async def card(session: AsyncSession, person: Person, program_id: int) -> Shown:
    """The card; catalog.NotVisible when it doesn't exist or isn't this person's to see."""
    found = await catalog.card(session, program_id, person)
    open_one = await inquiries_repo.open_inquiry_for(session, person.id, found.program.id)
    return Shown(found, open_one is not None)
