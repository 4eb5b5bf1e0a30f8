"""Admin views of the inquiry pipeline: filtered pages of inquiries, one inquiry's staff
view with its whole timeline, and the statistics. Plain values in, dataclasses out.

Who sees what is bot/access.py's decision: admins every inquiry, teachers their scope.
The list state travels in the callback data, so `ListState.from_args` parses it strictly
and answers None for anything it did not write itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.formats.spreadsheets import ExportFile, FileFormat
from bot.inquiries.export import export_rows, write_rows
from bot.people import roles as access
from bot.people.person import Person, effective_role
from bot.people.roles import Act
from bot.settings import Settings
from bot.ui.errors import FieldError
from bot.ui.ids import parse_id
from storage import board_stats as stats_repo
from storage import inquiries as repo
from storage import programs as programs_repo
from storage import users as users_repo
from storage.models import (
    OPEN_INQUIRY_STATUSES,
    Department,
    EnterpriseProfile,
    Inquiry,
    InquiryEvent,
    InquiryStatus,
    Program,
    ProgramKind,
    Role,
    User,
)

PAGE_SIZE = 8
AGES: tuple[int, ...] = (0, 1, 7, 30)  # "older than N days"; 0: any age
KINDS: tuple[ProgramKind, ...] = tuple(ProgramKind)
OPEN = "open"  # the status token for "open only" (new, contacted, meeting)
ANY = "-"
MAX_PAGE = 100_000
# In callback data a status filter is one letter: the card's action buttons carry the
# list state beside an inquiry id and a user id, all within Telegram's 64 bytes.
STATUS_CODES: dict[str, str] = {
    ANY: "-", OPEN: "o",
    **{s.value: ("x" if s is InquiryStatus.CLOSED else s.value[0]) for s in InquiryStatus},
}  # fmt: skip
STATUS_OF_CODE = {code: token for token, code in STATUS_CODES.items()}


@dataclass(frozen=True, slots=True)
class ListState:
    """The filters and the page of a list, as carried in callback data.

    `status` is ANY, OPEN or an InquiryStatus value; `kind` an index into KINDS or None.
    """

    status: str = ANY
    kind: int | None = None
    age: int = 0
    program_id: int | None = None
    page: int = 1

    def args(self) -> tuple[str, ...]:
        kind = ANY if self.kind is None else str(self.kind)
        status = STATUS_CODES[self.status]
        return (status, kind, str(self.age), str(self.program_id or 0), str(self.page))

    @classmethod
    def from_args(cls, args: tuple[str, ...]) -> ListState | None:
        """The state `args()` wrote, or None for anything else (forged or stale data)."""
        if len(args) != 5:
            return None
        code, kind, age, program, page = args
        status = STATUS_OF_CODE.get(code)
        if status is None:
            return None
        kind_index: int | None = None
        if kind != ANY:
            if not kind.isdigit() or int(kind) >= len(KINDS):
                return None
            kind_index = int(kind)
        if not age.isdigit() or int(age) not in AGES:
            return None
        if program != "0" and parse_id(program) is None:
            return None
        if not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
            return None
        return cls(status, kind_index, int(age), int(program) or None, int(page))

    def with_page(self, page: int) -> ListState:
        return replace(self, page=page)

    @property
    def program_kind(self) -> ProgramKind | None:
        return None if self.kind is None else KINDS[self.kind]

    def to_filter(self, now: datetime, teacher_id: int | None = None) -> repo.InquiryFilter:
        status = None if self.status in (ANY, OPEN) else InquiryStatus(self.status)
        return repo.InquiryFilter(
            status=status,
            open_only=self.status == OPEN,
            program_id=self.program_id,
            kind=self.program_kind,
            older_than=now - timedelta(days=self.age) if self.age else None,
            teacher_id=teacher_id,
        )


@dataclass(frozen=True, slots=True)
class ListItem:
    id: int
    status: InquiryStatus
    program: Program | None  # None: a general question (or a deleted programme)


@dataclass(frozen=True, slots=True)
class InquiryPage:
    state: ListState  # the page number clamped to what exists
    items: list[ListItem]
    total: int
    pages: int
    program: Program | None  # the programme filtered by, when there is one


async def page(
    session: AsyncSession, person: Person, state: ListState, now: datetime
) -> InquiryPage:
    """One page of the inquiries this person may see (bot/access.py), newest first. A
    page past the end shows the last one."""
    flt = state.to_filter(now, access.inquiry_scope(person))
    rows, total = await repo.list_inquiries(session, flt, (state.page - 1) * PAGE_SIZE, PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    if state.page > pages:
        state = state.with_page(pages)
        rows, total = await repo.list_inquiries(
            session, flt, (state.page - 1) * PAGE_SIZE, PAGE_SIZE
        )
        pages = max(1, -(-total // PAGE_SIZE))
    wanted = [r.program_id for r in rows if r.program_id is not None]
    if state.program_id is not None:
        wanted.append(state.program_id)
    programs = await repo.programs_by_ids(session, wanted)
    items = [
        ListItem(r.id, r.status, programs.get(r.program_id) if r.program_id else None) for r in rows
    ]
    chosen = programs.get(state.program_id) if state.program_id is not None else None
    return InquiryPage(state, items, total, pages, chosen)


async def program_by_code(session: AsyncSession, code: str) -> Program | None:
    code = code.strip()
    if not code or len(code) > 40:
        return None
    return await repo.program_by_code(session, code)


@dataclass(frozen=True, slots=True)
class StaffView:
    inquiry: Inquiry
    program: Program | None
    department: Department | None  # the programme's
    profile: EnterpriseProfile | None
    assignee: User | None
    events: list[InquiryEvent]  # all of them, internal ones included, oldest first
    actors: dict[int, User]


async def staff_view(session: AsyncSession, person: Person, inquiry_id: int) -> StaffView:
    inquiry = await access.inquiry(session, person, Act.SEE_INQUIRY, inquiry_id)
    return await view_of(session, inquiry)


async def view_of(session: AsyncSession, inquiry: Inquiry) -> StaffView:
    """The staff view of an inquiry the permission path has given already (this unit of
    work's change just made: the page's actions show it without reading it again)."""
    card = None  # the programme and its department in one statement
    if inquiry.program_id is not None:
        card = await programs_repo.get_card(session, inquiry.program_id)
    profile = (
        await repo.get_profile(session, inquiry.user_id) if inquiry.user_id is not None else None
    )
    events = await repo.events_of(session, inquiry.id, public_only=False)
    people = [e.actor_id for e in events if e.actor_id is not None]
    people += [whom for e in events if (whom := assigned_to(e)) is not None]
    if inquiry.assignee_id is not None:
        people.append(inquiry.assignee_id)
    users = await repo.users_by_ids(session, people)
    return StaffView(
        inquiry=inquiry,
        program=card.program if card else None,
        department=card.department if card else None,
        profile=profile,
        assignee=users.get(inquiry.assignee_id) if inquiry.assignee_id is not None else None,
        events=events,
        actors=users,
    )


def assigned_to(event: InquiryEvent) -> int | None:
    """Whom an "assigned" event gave the inquiry to, when not to its actor
    (pipeline.assign_to keeps the id in its text)."""
    if event.kind != "assigned" or not event.text:
        return None
    return parse_id(event.text, user=True)


async def assignees(
    session: AsyncSession, settings: Settings, person: Person, inquiry_id: int
) -> list[tuple[User, Role]]:
    """Whom this person may assign the inquiry to, with their role (see `assignable`)."""
    await access.inquiry(session, person, Act.WORK_INQUIRY, inquiry_id)
    return await assignable(session, settings, person)


async def assignable(
    session: AsyncSession, settings: Settings, person: Person
) -> list[tuple[User, Role]]:
    """Whom this person may assign an inquiry they may work on to: an admin any teacher
    or admin (those who blocked the bot left out), a teacher only themselves."""
    staff = [
        (u, effective_role(u.id, u.role, settings.admin_ids))
        for u in await users_repo.staff_users(session, settings.admin_ids)
    ]
    if not person.is_admin:
        return [(u, role) for u, role in staff if u.id == person.id]
    return [(u, role) for u, role in staff if u.blocked_at is None]


FUNNEL = (
    InquiryStatus.NEW,
    InquiryStatus.CONTACTED,
    InquiryStatus.MEETING,
    InquiryStatus.AGREEMENT,
)
WEEKS = 12  # the weeks the chart and its figures look back on, this one included


@dataclass(frozen=True, slots=True)
class Week:
    start: date  # its Monday, in TIMEZONE
    received: int
    median_hours: float | None  # to the first response, of those answered; None: none


@dataclass(frozen=True, slots=True)
class Trends:
    """What the /stats chart draws (bot/inquiries/charts.py) and its caption says."""

    funnel: list[tuple[InquiryStatus, int]]  # FUNNEL: how many got that far (or further)
    weeks: list[Week]  # WEEKS of them, oldest first
    received: int  # in those weeks
    answered: int  # of those, answered
    median_hours: float | None  # to the first response, of those answered


@dataclass(frozen=True, slots=True)
class Stats:
    by_status: list[tuple[InquiryStatus, int]]  # every status, zeros included
    by_kind: list[tuple[ProgramKind, int]]  # every kind of programme, zeros included
    general: int  # inquiries about no programme: general questions
    total: int
    open: int
    trends: Trends


async def stats(session: AsyncSession, person: Person, tz: ZoneInfo, now: datetime) -> Stats:
    access.require(person, Act.INQUIRY_REPORTS)
    statuses = await repo.counts_by_status(session)
    kinds = await repo.counts_by_kind(session)
    return Stats(
        by_status=[(s, statuses.get(s, 0)) for s in InquiryStatus],
        by_kind=[(k, kinds.get(k, 0)) for k in ProgramKind],
        general=kinds.get(None, 0),
        total=sum(statuses.values()),
        open=sum(statuses.get(s, 0) for s in OPEN_INQUIRY_STATUSES),
        trends=await trends(session, tz, now),
    )


async def charts(session: AsyncSession, person: Person, tz: ZoneInfo, now: datetime) -> Trends:
    """What the Mini App's charts draw: the trends alone (the counts are /stats' caption)."""
    access.require(person, Act.INQUIRY_REPORTS)
    return await trends(session, tz, now)


async def trends(session: AsyncSession, tz: ZoneInfo, now: datetime) -> Trends:
    """The funnel of every inquiry, and the last WEEKS weeks (Monday to Sunday in TIMEZONE):
    inquiries received, and the median time to their first response."""
    deepest = await stats_repo.deepest_stages(session, FUNNEL)  # declined, closed: no stage
    funnel = [
        (stage, sum(n for d, n in deepest.items() if d >= i)) for i, stage in enumerate(FUNNEL)
    ]

    today = now.astimezone(tz).date()
    first = today - timedelta(days=today.weekday(), weeks=WEEKS - 1)
    # Each week from Monday 00:00 in TIMEZONE (a UTC offset of its own across a DST
    # change); received "in the future" (a clock moved back) is not this chart's.
    starts = [
        datetime.combine(first + timedelta(weeks=i), datetime.min.time(), tzinfo=tz).astimezone(UTC)
        for i in range(WEEKS + 1)
    ]
    received: list[int] = [0] * WEEKS
    hours: list[list[float]] = [[] for _ in range(WEEKS)]
    for week, answered_after, n in await stats_repo.response_times(session, starts):
        if not 0 <= week < WEEKS:
            continue
        received[week] += n
        if answered_after is not None:
            hours[week] += [max(0.0, answered_after)] * n
    weeks = [
        Week(first + timedelta(weeks=i), received[i], median(hours[i]) if hours[i] else None)
        for i in range(WEEKS)
    ]
    every = [h for week_hours in hours for h in week_hours]
    return Trends(
        funnel=funnel,
        weeks=weeks,
        received=sum(received),
        answered=len(every),
        median_hours=median(every) if every else None,
    )


async def state_from_args(session: AsyncSession, args: Sequence[str]) -> ListState:
    """The list a typed /inquiries asks for: all, or `program <code>`."""
    if not args:
        return ListState()
    if len(args) != 2 or args[0].lower() not in ("program", "programme"):
        raise FieldError("ia.usage")
    program = await program_by_code(session, args[1])
    if program is None:
        raise FieldError("ia.no_program", code=args[1][:40])
    return ListState(program_id=program.id)


EXPORT_FORMATS = {"csv": FileFormat.CSV, "xlsx": FileFormat.XLSX}


async def export(
    session: AsyncSession,
    person: Person,
    args: Sequence[str],
    tz: ZoneInfo,
    now: datetime,
    lang: str = "en",
) -> ExportFile:
    """Every inquiry as CSV or XLSX (admins): `args` as typed after the command; headers,
    statuses and kinds in the admin's language."""
    access.require(person, Act.INQUIRY_REPORTS)
    choice = args[0].lower().lstrip(".") if args else "xlsx"
    fmt = EXPORT_FORMATS.get(choice)
    if fmt is None or len(args) > 1:
        raise FieldError("ia.export_usage")
    rows = await export_rows(session, tz, lang)
    data = await asyncio.to_thread(write_rows, rows, fmt, lang)  # XLSX takes a moment
    return ExportFile(f"inquiries-{now.astimezone(tz):%Y%m%d-%H%M}.{fmt.value}", data, len(rows))
