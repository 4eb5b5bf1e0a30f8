"""Who may do what: the one permission path (DESIGN.md, "Permissions").

`decide(person, act, facts)` is the only place the rule is written. Acts on no particular
thing (`allowed`) depend on the role alone; acts on one thing go through a loader
(`inquiry`, `step`, `program`, `search`, or `require` by act) that range-checks the id,
loads the thing with the facts the rule needs, and asks `decide`. Every command, button
and form step goes through here, in handlers, services and the form engine alike.

The role in `Person` is the one read from the database for the current update (plus
ADMIN_IDS), so a teacher who is demoted loses access with their next update.

A refusal is `Refused`. Entry points answer it exactly as they answer a stale button: an
id in a button can be forged, and the answer must not tell a stranger whether the thing
exists or whose it is.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.people.person import Person
from bot.ui.errors import FieldError
from bot.ui.ids import valid_id
from storage import access as repo
from storage.models import (
    Inquiry,
    NextStep,
    Program,
    ProgramStatus,
    Role,
    SavedSearch,
    utcnow,
)

# A saved search (its id travels in list buttons) is usable this long, then it is gone.
SEARCH_TTL = timedelta(days=3)


class Refused(FieldError):
    """Not allowed, not found, or not yours: all three look the same from outside."""

    def __init__(self) -> None:
        super().__init__("button.stale")


class Act(enum.Enum):
    # On no particular thing: the role decides.
    MANAGE_CATALOG = enum.auto()  # add, edit, open/close, owner, import and export
    LIST_INQUIRIES = enum.auto()  # admins: all; teachers: their scope
    INQUIRY_REPORTS = enum.auto()  # statistics and the export of every inquiry
    SEE_OVERDUE = enum.auto()  # admins: everyone's; teachers: their own
    BROADCAST = enum.auto()
    AUDIT = enum.auto()
    INVITE = enum.auto()
    MANAGE_STAFF = enum.auto()  # list staff, change or remove a role
    # On one thing.
    SEE_INQUIRY = enum.auto()  # the staff card, with the contact's details
    WORK_INQUIRY = enum.auto()  # status, assignment, answers, next steps
    OWN_INQUIRY = enum.auto()  # the contact's timeline and follow-ups
    CHANGE_STEP = enum.auto()  # see a step, mark it done, snooze, move, cancel
    SEE_PROGRAM = enum.auto()
    USE_SEARCH = enum.auto()


ADMIN_ONLY = frozenset(
    {
        Act.MANAGE_CATALOG,
        Act.INQUIRY_REPORTS,
        Act.BROADCAST,
        Act.AUDIT,
        Act.INVITE,
        Act.MANAGE_STAFF,
    }
)
STAFF_ONLY = frozenset({Act.LIST_INQUIRIES, Act.SEE_OVERDUE})


@dataclass(frozen=True, slots=True)
class InquiryFacts:
    contact_id: int | None
    assignee_id: int | None
    program_owner_id: int | None


@dataclass(frozen=True, slots=True)
class StepFacts:
    owner_id: int


@dataclass(frozen=True, slots=True)
class ProgramFacts:
    status: ProgramStatus
    owner_id: int | None


@dataclass(frozen=True, slots=True)
class SearchFacts:
    user_id: int
    created_at: datetime


Facts = InquiryFacts | StepFacts | ProgramFacts | SearchFacts


def decide(
    person: Person, act: Act, facts: Facts | None = None, *, now: datetime | None = None
) -> bool:
    """The rule. Admins see and act on everything staff work on; a teacher on the
    inquiries of programmes they own or are assigned to, and on the steps they own; a
    contact on their own inquiries, searches and the published catalogue."""
    role = person.role
    if act in ADMIN_ONLY:
        return role is Role.ADMIN
    if act in STAFF_ONLY:
        return role in (Role.ADMIN, Role.TEACHER)
    if isinstance(facts, InquiryFacts):
        return _on_inquiry(person, act, facts)
    if isinstance(facts, StepFacts):
        return act is Act.CHANGE_STEP and (role is Role.ADMIN or facts.owner_id == person.id)
    if isinstance(facts, ProgramFacts):
        return act is Act.SEE_PROGRAM and _sees_program(person, facts)
    if isinstance(facts, SearchFacts):
        fresh = (now or utcnow()) - facts.created_at < SEARCH_TTL
        return act is Act.USE_SEARCH and facts.user_id == person.id and fresh
    return False


def _on_inquiry(person: Person, act: Act, facts: InquiryFacts) -> bool:
    if act is Act.OWN_INQUIRY:
        return facts.contact_id == person.id
    if act in (Act.SEE_INQUIRY, Act.WORK_INQUIRY):
        if person.role is Role.ADMIN:
            return True
        return person.role is Role.TEACHER and in_teacher_scope(person.id, facts)
    return False


def _sees_program(person: Person, facts: ProgramFacts) -> bool:
    """The published catalogue for everyone; drafts and closed ones for admins, and for
    the teacher who owns them."""
    if facts.status is ProgramStatus.OPEN or person.role is Role.ADMIN:
        return True
    return person.role is Role.TEACHER and facts.owner_id == person.id


def in_teacher_scope(teacher_id: int, facts: InquiryFacts) -> bool:
    """A teacher's inquiries: of the programmes they own, or assigned to them. The same
    rule, as SQL for lists, is storage.inquiries.teacher_scope; tests/test_access.py
    checks that the two agree."""
    return teacher_id in (facts.program_owner_id, facts.assignee_id)


def allowed(person: Person, act: Act) -> bool:
    """An act on no particular thing (a command, a list)."""
    return decide(person, act)


def require(person: Person, act: Act) -> None:
    if not allowed(person, act):
        raise Refused()


def inquiry_scope(person: Person) -> int | None:
    """Whose inquiries a list shows: None for every inquiry (admins), a teacher's id for
    theirs; Refused for anyone else."""
    if person.role is Role.ADMIN:
        return None
    if person.role is Role.TEACHER:
        return person.id
    raise Refused()


async def inquiry(
    session: AsyncSession, person: Person, act: Act, inquiry_id: int | None, *, lock: bool = False
) -> Inquiry:
    if not valid_id(inquiry_id):
        raise Refused()
    found = await repo.inquiry_with_owner(session, int(inquiry_id or 0), lock=lock)
    if found is None:
        raise Refused()
    row, owner_id = found
    if not may_on_inquiry(person, act, row, owner_id):
        raise Refused()
    return row


def may_on_inquiry(person: Person, act: Act, found: Inquiry, program_owner_id: int | None) -> bool:
    """The rule for an inquiry read already, with its programme's owner."""
    return decide(person, act, InquiryFacts(found.user_id, found.assignee_id, program_owner_id))


async def step(
    session: AsyncSession, person: Person, act: Act, step_id: int | None, *, lock: bool = False
) -> NextStep:
    if not valid_id(step_id):
        raise Refused()
    found = await repo.step(session, int(step_id or 0), lock=lock)
    if found is None or not decide(person, act, StepFacts(found.owner_id)):
        raise Refused()
    return found


async def program(
    session: AsyncSession, person: Person, program_id: int | None, *, lock: bool = False
) -> Program:
    if not valid_id(program_id):
        raise Refused()
    found = await repo.program(session, int(program_id or 0), lock=lock)
    if found is None or not decide(
        person, Act.SEE_PROGRAM, ProgramFacts(found.status, found.owner_id)
    ):
        raise Refused()
    return found


def may_see_program(person: Person, found: Program) -> bool:
    return decide(person, Act.SEE_PROGRAM, ProgramFacts(found.status, found.owner_id))


async def search(session: AsyncSession, person: Person, search_id: int | None) -> SavedSearch:
    if not valid_id(search_id):
        raise Refused()
    found = await repo.search(session, int(search_id or 0))
    if found is None or not decide(
        person, Act.USE_SEARCH, SearchFacts(found.user_id, found.created_at)
    ):
        raise Refused()
    return found


async def require_on(session: AsyncSession, person: Person, act: Act, thing_id: object) -> None:
    """An act on the thing whose id a form keeps in its data (the form engine asks this at
    every step, so a form begun with a right that is gone since cannot be finished)."""
    number = thing_id if isinstance(thing_id, int) else None
    if act in (Act.SEE_INQUIRY, Act.WORK_INQUIRY, Act.OWN_INQUIRY):
        await inquiry(session, person, act, number)
    elif act is Act.CHANGE_STEP:
        await step(session, person, act, number)
    elif act is Act.SEE_PROGRAM:
        await program(session, person, number)
    elif act is Act.USE_SEARCH:
        await search(session, person, number)
    else:
        require(person, act)


def refusal_key(act: Act) -> str:
    """What a typed command answers when the role does not allow it (commands are public
    knowledge, so saying who may use them gives nothing away)."""
    return "admin.only" if act in ADMIN_ONLY else "inquiry.staff_only"
