"""The inquiries wing as the Mini App sees it: the staff's board, one inquiry, the actions
on it, and a contact's interest from the page.

Every action is the chat's own service call (pipeline.change_status, assign_to,
staff_reply; next_steps.service.create; the interest form's save), so the audit trail,
the contact's message and the staff card come out exactly as from the chat; this module
only adds the reading the page needs around them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.catalog import service as catalog
from bot.engines import outbox
from bot.inquiries import board, pipeline
from bot.inquiries import forms as inquiry_forms
from bot.inquiries import service as inquiries
from bot.next_steps import service as next_steps
from bot.people import roles as access
from bot.people.person import Person
from bot.people.roles import Act
from bot.settings import Settings
from bot.ui.errors import FieldError
from bot.ui.ids import parse_id
from storage import inquiries as repo
from storage import inquiry_board as board_repo
from storage import next_steps as steps_repo
from storage import programs as programs_repo
from storage import users as users_repo
from storage.models import (
    Department,
    EnterpriseProfile,
    Inquiry,
    InquiryStatus,
    NextStep,
    ProgramKind,
    User,
)

if TYPE_CHECKING:
    from bot.catalog.search import SearchCache

PER_COLUMN = 50  # cards shown per status (newest first); the column's count is the full number
AGES = (0, 3, 7, 14, 30)  # "older than N days"; 0: any age
COLUMNS = tuple(InquiryStatus)  # new → contacted → meeting → agreement, declined, closed
MAX_WORDS = 5
MAX_QUERY = 100


@dataclass(frozen=True, slots=True)
class BoardQuery:
    """The board's filters as the page sends them; anything odd is refused (400)."""

    kind: ProgramKind | None = None
    department_id: int | None = None
    assignee: str = ""  # "", "me", "none" or a user id
    age: int = 0
    overdue: bool = False
    q: str = ""

    @classmethod
    def parse(cls, args: dict[str, str]) -> BoardQuery:
        kind = args.get("kind") or None
        if kind is not None and kind not in ProgramKind._value2member_map_:
            raise FieldError("webapp.bad_filter")
        department = args.get("department") or None
        department_id = parse_id(department) if department else None
        if department and department_id is None:
            raise FieldError("webapp.bad_filter")
        assignee = args.get("assignee", "")
        if assignee not in ("", "me", "none") and parse_id(assignee, user=True) is None:
            raise FieldError("webapp.bad_filter")
        age = args.get("age") or "0"
        if not (age.isascii() and age.isdigit()) or int(age) not in AGES:  # not "²"
            raise FieldError("webapp.bad_filter")
        return cls(
            kind=ProgramKind(kind) if kind else None,
            department_id=department_id,
            assignee=assignee,
            age=int(age),
            overdue=args.get("overdue") in ("1", "true"),
            q=" ".join(args.get("q", "").split())[:MAX_QUERY],
        )

    def to_filter(self, person: Person, now: datetime) -> board_repo.BoardFilter:
        words = tuple(w.lower() for w in self.q.lstrip("#").split()[:MAX_WORDS])
        number = parse_id(self.q.lstrip("#")) if len(words) == 1 else None
        assignee_id = person.id if self.assignee == "me" else parse_id(self.assignee, user=True)
        return board_repo.BoardFilter(
            teacher_id=access.inquiry_scope(person),  # Refused for a contact
            kind=self.kind,
            department_id=self.department_id,
            assignee_id=assignee_id,
            unassigned=self.assignee == "none",
            older_than=now - timedelta(days=self.age) if self.age else None,
            overdue_at=now if self.overdue else None,
            words=words,
            number=number,
        )


@dataclass(frozen=True, slots=True)
class Column:
    status: InquiryStatus
    count: int
    items: list[board_repo.BoardRow]


@dataclass(frozen=True, slots=True)
class Board:
    columns: list[Column]
    overdue: set[int]  # of the items shown, those with an open step past due
    people: dict[int, User]  # assignees of the items shown, and the assignee filter's choices
    assignees: list[User]  # whom the filter offers
    departments: dict[int, Department]
    now: datetime


async def show_board(
    session: AsyncSession, settings: Settings, person: Person, query: BoardQuery,
    search: SearchCache, now: datetime,
) -> Board:  # fmt: skip
    access.require(person, Act.LIST_INQUIRIES)
    flt = query.to_filter(person, now)
    if flt.words:  # the programmes' titles from this process's copy of them
        titled = [tuple(await catalog.titled(session, search, word)) for word in flt.words]
        flt = replace(flt, titled=tuple(titled))
    counts, rows = await board_repo.columns(session, flt, COLUMNS, PER_COLUMN)
    staff = await users_repo.staff_users(session, settings.admin_ids)
    if not person.is_admin:
        staff = [u for u in staff if u.id == person.id]
    people = {u.id: u for u in staff}
    missing = {r.assignee_id for r in rows if r.assignee_id and r.assignee_id not in people}
    people.update(await repo.users_by_ids(session, sorted(missing)))
    departments = {d.id: d for d in await programs_repo.all_departments(session)}
    columns = [
        Column(status, counts.get(status, 0), [r for r in rows if r.status is status])
        for status in COLUMNS
    ]
    overdue = {r.id for r in rows if r.next_due is not None and r.next_due < now}
    return Board(columns, overdue, people, staff, departments, now)


@dataclass(frozen=True, slots=True)
class Detail:
    view: board.StaffView
    steps: list[NextStep]
    assignees: list[User]  # whom this person may assign it to
    department: Department | None
    profile: EnterpriseProfile | None
    now: datetime


async def detail(
    session: AsyncSession, settings: Settings, person: Person, inquiry_id: int, now: datetime
) -> Detail:
    """One inquiry with everything its page shows; Refused outside the person's scope."""
    inquiry = await access.inquiry(session, person, Act.SEE_INQUIRY, inquiry_id)
    return await _detail_of(session, settings, person, inquiry, now)


async def _detail_of(
    session: AsyncSession, settings: Settings, person: Person, inquiry: Inquiry, now: datetime
) -> Detail:
    """The page of an inquiry the permission path has given already: after an action, the
    one the action changed, as it stands in this unit of work (not read again)."""
    view = await board.view_of(session, inquiry)
    steps = await steps_repo.steps_of_inquiry(session, inquiry.id)
    owner_id = view.program.owner_id if view.program is not None else None
    may_work = access.may_on_inquiry(person, Act.WORK_INQUIRY, inquiry, owner_id)
    choices = await board.assignable(session, settings, person) if may_work else []
    return Detail(view, steps, [u for u, _ in choices], view.department, view.profile, now)


async def move(
    session: AsyncSession, settings: Settings, person: Person, inquiry_id: int, status: str,
    now: datetime,
) -> Detail:  # fmt: skip
    inquiry = await pipeline.set_status(session, settings, person, inquiry_id, status)
    return await _detail_of(session, settings, person, inquiry, now)


async def assign(
    session: AsyncSession, settings: Settings, person: Person, inquiry_id: int,
    assignee_id: int, now: datetime,
) -> Detail:  # fmt: skip
    """As the chat's assign; but a page's double tap, or two admins choosing the same
    person at once, is no change: no second audit line or timeline event (the chat's
    "assign me" again refreshes its card, so pipeline.assign_to keeps writing)."""
    inquiry = await access.inquiry(session, person, Act.WORK_INQUIRY, inquiry_id, lock=True)
    if inquiry.assignee_id != assignee_id:
        inquiry = await pipeline.assign_to(session, settings, person, inquiry_id, assignee_id)
    return await _detail_of(session, settings, person, inquiry, now)


async def reply(
    session: AsyncSession, settings: Settings, person: Person, inquiry_id: int, text: str,
    now: datetime,
) -> Detail:  # fmt: skip
    """The answer goes to the contact and is echoed under the card, as the Reply button's."""
    body = inquiry_forms.MESSAGE(text)
    inquiry = await pipeline.staff_reply(session, settings, person, inquiry_id, body, echo=True)
    return await _detail_of(session, settings, person, inquiry, now)


TITLE = 300  # next_steps.title


async def add_step(
    session: AsyncSession, settings: Settings, person: Person, inquiry_id: int, title: str,
    due_at: datetime, now: datetime,
) -> tuple[Detail, NextStep]:  # fmt: skip
    """A next step owned by the staff member adding it (the chat form's "me")."""
    text = " ".join(title.split())
    if not text:
        raise FieldError("webapp.step_title", field="title")
    if len(text) > TITLE:
        raise FieldError("form.too_long", limit=TITLE, length=len(text))
    if due_at <= now:
        raise FieldError("webapp.step_past")
    step = await next_steps.create(
        session, settings, person, inquiry_id=inquiry_id, title=text, owner_id=person.id,
        due_at=due_at,
    )  # fmt: skip
    return await detail(session, settings, person, inquiry_id, now), step


# -- the contact's side ----------------------------------------------------------------


async def profile_of(session: AsyncSession, person: Person) -> EnterpriseProfile | None:
    return await repo.get_profile(session, person.id)


class AlreadyInterested(FieldError):
    """An open inquiry about this programme exists already (409)."""


@dataclass(frozen=True, slots=True)
class InterestDone:
    inquiry_id: int
    html: str  # the confirmation, as the chat's form shows it (escaped HTML)


def _profile_data(raw: object) -> dict[str, Any]:
    """The profile as the chat's form would have it, each field through the form's own
    check (the first refusal names its field)."""
    given = raw if isinstance(raw, dict) else {}
    data: dict[str, Any] = {"consent": "yes"}
    for spec in inquiry_forms.PROFILE.fields:
        if spec.name == "consent":
            continue
        value = given.get(spec.name)
        text = value if isinstance(value, str) else ""
        if not text.strip():
            if not spec.optional:
                raise FieldError("webapp.required", field=spec.name)
            continue
        try:
            data[spec.name] = spec.parse(text)
        except FieldError as refused:
            raise FieldError(refused.key, field=spec.name, **refused.values) from None
    whole = inquiry_forms.PROFILE.validate  # phone or email
    if whole is not None:
        try:
            whole(data)
        except FieldError as refused:
            raise FieldError(refused.key, field="phone", **refused.values) from None
    return data


async def register_interest(
    session: AsyncSession, settings: Settings, person: Person, program_id: int,
    body: dict[str, Any],
) -> InterestDone:  # fmt: skip
    """ "I'm interested" from the page: the profile (with consent) the first time, then
    the interest form's own save; the chat gets the same confirmation as from the form."""
    # A double tap sends two at once: one after the other, the second finds the first's
    # inquiry (409) instead of racing it into the profile's key (a 500 on PostgreSQL).
    await users_repo.lock_user(session, person.id)
    try:
        await inquiries.repeat_interest(session, person, [program_id])
    except inquiries.InquiryError as already:
        raise AlreadyInterested(already.key, **already.values) from None
    message = body.get("message")
    text = inquiry_forms.MESSAGE(message) if isinstance(message, str) else ""
    if await repo.get_profile(session, person.id) is None:
        if body.get("consent") is not True:
            raise FieldError("webapp.consent", field="consent")
        await inquiry_forms.save_profile(session, person, _profile_data(body.get("profile")),
                                         settings)  # fmt: skip
    saved = await inquiry_forms.save_interest(
        session, person, {"program_ids": [program_id], "message": text, "source": "miniapp"},
        settings,
    )  # fmt: skip
    found = await repo.open_inquiry_for(session, person.id, program_id)
    if found is None or saved.html is None:  # the programme closed in between
        raise access.Refused()
    await outbox.queue(session, person.id, outbox.payload_text(saved.html),
                       ref=f"inquiry:{found.id}")  # fmt: skip
    return InterestDone(found.id, saved.html)
