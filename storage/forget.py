"""Forgetting a person (/forget): what each table holds about them, and the statements
that remove it. No commits here: the caller's unit of work makes it all or nothing.

Table by table (storage/models.py), what happens:

- users, enterprise_profiles, saved_searches, interest_basket, their form_drafts: deleted.
- inquiries: theirs stay for the college's figures, anonymous (user_id NULL, message and
  organisation blanked, identifiers scrubbed from the deep-link source); where they were
  the assignee (a demoted teacher), assignee_id NULL.
- inquiry_events: every text on their inquiries blanked: their messages, the 'created'
  copies and the staff answers to them; actor_id NULL wherever they acted. Kinds,
  statuses and times stay, so the timeline still shows what happened when.
- next_steps: steps on their inquiries stay (the college's follow-up) with identifiers
  scrubbed from title and note; steps they own are handed to the step's creator, else the
  inquiry's assignee, else deleted with their reminders; created_by NULL.
- programs.owner_id NULL; invites they created or used deleted (created_by is NOT NULL,
  and a NULL used_by would make a spent token redeemable again).
- broadcasts: author and progress chat NULL; the text is the college's announcement.
- outbox: rows to their chat are kept so delivery counts stay right, but emptied: in
  flight cancelled (and their lease dropped, so a send finishing now cannot mark them
  sent), payload erased, chat_id 0 (no Telegram chat has id 0), dedupe key and message id
  dropped. Rows about their inquiries (staff cards, follow-ups, deadline reminders):
  cancelled in flight, payload erased. Reminders of steps on their inquiries, and rows
  quoting such a step or their id (a digest, the weekly overview, which also heads their
  steps with their name) are scrubbed and still go out. Broadcasts are left alone.
- audit_log: entries about them (their inquiries and steps, user:<id>, or naming their id)
  are scrubbed of their names and identifiers. Their id stays as actor_id of what they did
  as staff (a demoted teacher): people must not be able to erase the trail of their own
  actions; with the users row gone, the trail shows only the number.
- form_drafts of others (a staff answer or step being typed for their inquiry): deleted.
- departments, engine_marks, sender_instances, reminders: nothing about people.

Scrubbing: in records about them, every name, number and address of theirs is replaced
by MASK. Elsewhere only their Telegram id is: the rest they chose themselves (a username
"contract", the college's phone as "their" phone), and /forget must not become a way to
blank words out of other people's records.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, cast, delete, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    AuditEntry,
    BasketItem,
    Broadcast,
    EnterpriseProfile,
    FormDraft,
    Inquiry,
    InquiryEvent,
    Invite,
    NextStep,
    OutboxMessage,
    OutboxState,
    Program,
    Reminder,
    SavedSearch,
    User,
)

FORGOTTEN_CHAT = 0  # outbox.chat_id of messages to a forgotten person
MASK = "…"  # what a scrubbed name or number becomes
CHUNK = 500  # ids per IN (...) list
IN_FLIGHT = (OutboxState.PENDING, OutboxState.SENDING, OutboxState.HELD)


@dataclass(frozen=True, slots=True)
class Footprint:
    """What the bot holds of a person, counted for the confirmation screen."""

    profile: bool
    inquiries: int
    messages: int  # texts they wrote
    answers: int  # staff answers to them
    searches: int
    basket: int
    drafts: int
    queued: int  # messages waiting to go to them or about them
    steps: int  # next steps they are the owner of
    programmes: int  # programmes they own (a demoted teacher)


@dataclass(slots=True)
class Forgotten:
    """What forgetting did, counted (no names) for the done screen."""

    profile: bool = False
    inquiries: int = 0  # anonymised, kept
    messages: int = 0
    answers: int = 0
    searches: int = 0
    basket: int = 0
    drafts: int = 0
    cancelled: int = 0  # queued messages to or about them
    erased: int = 0  # copies of messages already sent (or given up on)
    mentions: int = 0  # other records scrubbed of their name or numbers
    steps_handed_over: int = 0
    steps_deleted: int = 0
    programmes: int = 0  # left without an owner
    invites: int = 0
    unassigned: int = 0  # inquiries no longer assigned to them


# Who they are, as text ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Identity:
    words: tuple[str, ...]  # names, username, organisation, phone, e-mail, id
    number: tuple[str, ...]  # their Telegram id: the one word nobody else can choose
    heading: str  # their name as the weekly overview prints it over their steps


def identity(user_id: int, user: User | None, profile: EnterpriseProfile | None) -> Identity:
    words = [str(user_id)]
    first = ""
    if user is not None:
        first = user.first_name or ""
        full = " ".join(p for p in (user.first_name, user.last_name) if p)
        words += [full, user.first_name or "", user.last_name or "", user.username or ""]
    if profile is not None:
        digits = re.sub(r"\D", "", profile.phone)
        words += [profile.phone, digits if len(digits) >= 6 else "", profile.email]
        words += [profile.organization, profile.contact_person]
    heading = f"<b>{html.escape(first)}</b>" if first.strip() else ""
    return Identity(_words(words), _words([str(user_id)]), heading)


def _words(values: Iterable[str]) -> tuple[str, ...]:
    """Each value and its HTML-escaped forms; too short to be safe to scrub: dropped."""
    out: set[str] = set()
    for value in values:
        value = value.strip()
        if len(value) >= 2:
            out |= {value, html.escape(value), html.escape(value, quote=False)}
    return tuple(sorted(out, key=len, reverse=True))


class Scrubber:
    """Replaces whole occurrences of words (case-insensitive; not inside a longer Latin
    word or number, so "Li" leaves "Lift" alone; Chinese has no spaces, so any
    occurrence) with MASK."""

    def __init__(self, words: Sequence[str], exact: Sequence[tuple[str, str]] = ()) -> None:
        alternatives = "|".join(re.escape(w) for w in words)
        self._pattern = (
            re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])", re.IGNORECASE)
            if words
            else None
        )
        self._exact = [(find, put) for find, put in exact if find]

    def text(self, value: str) -> str:
        for find, put in self._exact:
            value = value.replace(find, put)
        return self._pattern.sub(MASK, value) if self._pattern is not None else value

    def json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        return value


def _mentions(column: Any, words: Sequence[str], *, as_json: bool = False) -> ColumnElement[bool]:
    """A cheap SQL pre-filter for rows that may contain one of `words` (the Scrubber
    decides). JSON is stored with non-ASCII escaped, so both spellings are looked for."""
    forms: set[str] = set()
    for word in words:
        forms.add(word)
        if as_json:
            forms.add(json.dumps(word)[1:-1])
    conditions: list[ColumnElement[bool]] = []
    lowered = func.lower(column)
    for form in sorted(forms):
        if form.lower() == form.upper():  # digits, Chinese: no case to fold, no lower()
            conditions.append(column.contains(form, autoescape=True))
            continue
        conditions.append(lowered.contains(form.lower(), autoescape=True))
        if not form.isascii():  # SQLite's lower() folds ASCII only
            conditions.append(column.contains(form, autoescape=True))
    return or_(*conditions) if conditions else false()


def _chunks(ids: Sequence[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def _rows(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# Counting (the confirmation screen) ------------------------------------------------------


async def _inquiry_ids(session: AsyncSession, user_id: int) -> list[int]:
    stmt = select(Inquiry.id).where(Inquiry.user_id == user_id).order_by(Inquiry.id)
    return list(await session.scalars(stmt))


async def _count(session: AsyncSession, stmt: Any) -> int:
    return int(await session.scalar(stmt) or 0)


async def _event_counts(session: AsyncSession, user_id: int, ids: list[int]) -> tuple[int, int]:
    """(texts they wrote, texts others wrote) on their inquiries."""
    mine = others = 0
    for chunk in _chunks(ids):
        with_text = (InquiryEvent.inquiry_id.in_(chunk), InquiryEvent.text != "")
        base = select(func.count(InquiryEvent.id)).where(*with_text)
        mine += await _count(session, base.where(InquiryEvent.actor_id == user_id))
        others += await _count(
            session,
            base.where(or_(InquiryEvent.actor_id.is_(None), InquiryEvent.actor_id != user_id)),
        )
    return mine, others


def _about(ids: list[int]) -> list[str]:
    return [f"inquiry:{i}" for i in ids]


async def footprint(session: AsyncSession, user_id: int) -> Footprint:
    ids = await _inquiry_ids(session, user_id)
    messages, answers = await _event_counts(session, user_id, ids)
    queued = 0
    in_flight = OutboxMessage.state.in_(IN_FLIGHT)
    queued += await _count(
        session,
        select(func.count(OutboxMessage.id)).where(OutboxMessage.chat_id == user_id, in_flight),
    )
    for chunk in _chunks(_about(ids)):
        queued += await _count(
            session,
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.ref.in_(chunk), OutboxMessage.chat_id != user_id, in_flight
            ),
        )

    def owned(column: Any) -> Any:
        return select(func.count()).where(column == user_id)

    return Footprint(
        profile=await session.get(EnterpriseProfile, user_id) is not None,
        inquiries=len(ids),
        messages=messages,
        answers=answers,
        searches=await _count(session, owned(SavedSearch.user_id)),
        basket=await _count(session, owned(BasketItem.user_id)),
        drafts=await _count(session, owned(FormDraft.user_id)),
        queued=queued,
        steps=await _count(session, owned(NextStep.owner_id)),
        programmes=await _count(session, owned(Program.owner_id)),
    )


# Forgetting ------------------------------------------------------------------------------


async def erase(session: AsyncSession, user_id: int) -> Forgotten:
    """Remove the person from every table (see the module docstring). Order matters:
    records are found through their links before the links are cut."""
    done = Forgotten()
    user = await session.get(User, user_id, with_for_update=True)
    profile = await session.get(EnterpriseProfile, user_id)
    who = identity(user_id, user, profile)
    about_them, anywhere = Scrubber(who.words), Scrubber(who.number)

    ids = await _inquiry_ids(session, user_id)
    step_ids = await _steps_about(session, user_id, ids)
    owns_steps = await _count(session, select(func.count()).where(NextStep.owner_id == user_id))
    steps_changed, renamed = await _scrub_steps(session, step_ids, who, about_them, anywhere)
    done.mentions += steps_changed
    done.mentions += await _scrub_audit(session, user_id, ids, step_ids, who, about_them, anywhere)
    heading = who.heading if owns_steps else ""  # no steps, no heading of theirs
    await _outbox(session, done, user_id, ids, step_ids, who, heading, _quoted(renamed))
    done.mentions += await _others_drafts(session, user_id, ids, who)
    await _hand_over_steps(session, done, user_id)
    await _inquiries(session, done, user_id, ids, about_them)

    done.programmes = _rows(
        await session.execute(
            update(Program).where(Program.owner_id == user_id).values(owner_id=None)
        )
    )
    done.invites = _rows(
        await session.execute(
            delete(Invite).where(or_(Invite.created_by == user_id, Invite.used_by == user_id))
        )
    )
    await session.execute(
        update(Broadcast).where(Broadcast.author_id == user_id).values(author_id=None)
    )
    await session.execute(
        update(Broadcast)
        .where(Broadcast.progress_chat_id == user_id)
        .values(progress_chat_id=None, progress_message_id=None)
    )
    done.searches = _rows(
        await session.execute(delete(SavedSearch).where(SavedSearch.user_id == user_id))
    )
    done.basket = _rows(
        await session.execute(delete(BasketItem).where(BasketItem.user_id == user_id))
    )
    done.drafts = _rows(
        await session.execute(delete(FormDraft).where(FormDraft.user_id == user_id))
    )
    done.profile = profile is not None
    await session.execute(delete(EnterpriseProfile).where(EnterpriseProfile.user_id == user_id))
    await session.execute(delete(User).where(User.id == user_id))
    return done


async def _steps_about(session: AsyncSession, user_id: int, ids: list[int]) -> list[int]:
    """Steps on their inquiries, and steps they are the owner of."""
    found = set(await session.scalars(select(NextStep.id).where(NextStep.owner_id == user_id)))
    for chunk in _chunks(ids):
        found |= set(
            await session.scalars(select(NextStep.id).where(NextStep.inquiry_id.in_(chunk)))
        )
    return sorted(found)


async def _scrub_steps(
    session: AsyncSession, step_ids: list[int], who: Identity, about_them: Scrubber,
    anywhere: Scrubber,
) -> tuple[int, list[tuple[str, str]]]:  # fmt: skip
    """Scrub step titles and notes; returns how many changed and each (old, new) text,
    so the digests and overviews that quote them can be scrubbed the same way."""
    candidates: dict[int, NextStep] = {}
    for chunk in _chunks(step_ids):
        for step in await session.scalars(select(NextStep).where(NextStep.id.in_(chunk))):
            candidates[step.id] = step
    others = select(NextStep).where(
        or_(_mentions(NextStep.title, who.number), _mentions(NextStep.note, who.number))
    )
    for step in await session.scalars(others):
        candidates.setdefault(step.id, step)
    about = set(step_ids)
    changed = 0
    renamed: list[tuple[str, str]] = []
    for step in candidates.values():
        scrub = about_them if step.id in about else anywhere
        title, note = scrub.text(step.title), scrub.text(step.note)
        if (title, note) != (step.title, step.note):
            renamed += [(a, b) for a, b in ((step.title, title), (step.note, note)) if a != b]
            await session.execute(
                update(NextStep)
                .where(NextStep.id == step.id)
                .values(title=title, note=note, updated_at=NextStep.updated_at)
            )
            changed += 1
    return changed, renamed


def _quoted(renamed: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (old, new) texts as messages quote them: plain and HTML-escaped, longest first."""
    pairs = {
        (f(old), f(new))
        for old, new in renamed
        for f in (str, html.escape, lambda v: html.escape(v, quote=False))
    }
    return sorted(pairs, key=lambda p: len(p[0]), reverse=True)


async def _scrub_audit(
    session: AsyncSession, user_id: int, ids: list[int], step_ids: list[int], who: Identity,
    about_them: Scrubber, anywhere: Scrubber,
) -> int:  # fmt: skip
    subjects = [*_about(ids), *(f"step:{i}" for i in step_ids), f"user:{user_id}"]
    candidates: dict[int, AuditEntry] = {}
    for chunk in _chunks(subjects):
        for entry in await session.scalars(select(AuditEntry).where(AuditEntry.subject.in_(chunk))):
            candidates[entry.id] = entry
    about = set(candidates)
    named = select(AuditEntry).where(
        or_(_mentions(AuditEntry.detail, who.number), _mentions(AuditEntry.subject, who.number))
    )
    for entry in await session.scalars(named):
        candidates.setdefault(entry.id, entry)
        # "王老师 (5001)", "owner 5001": an entry naming their id is about them too.
        if (
            anywhere.text(entry.detail) != entry.detail
            or anywhere.text(entry.subject) != entry.subject
        ):
            about.add(entry.id)
    changed = 0
    for entry in candidates.values():
        scrub = about_them if entry.id in about else anywhere
        detail, subject = scrub.text(entry.detail), scrub.text(entry.subject)
        if (detail, subject) != (entry.detail, entry.subject):
            await session.execute(
                update(AuditEntry)
                .where(AuditEntry.id == entry.id)
                .values(detail=detail, subject=subject[:60])
            )
            changed += 1
    return changed


async def _outbox(
    session: AsyncSession, done: Forgotten, user_id: int, ids: list[int], step_ids: list[int],
    who: Identity, heading: str, quoted: list[tuple[str, str]],
) -> None:  # fmt: skip
    cancel = {"state": OutboxState.CANCELLED, "lease_owner": None, "lease_until": None}
    to_them = OutboxMessage.chat_id == user_id
    in_flight = OutboxMessage.state.in_(IN_FLIGHT)
    done.cancelled += _rows(
        await session.execute(update(OutboxMessage).where(to_them, in_flight).values(**cancel))
    )
    total = _rows(
        await session.execute(
            update(OutboxMessage)
            .where(to_them)
            .values(chat_id=FORGOTTEN_CHAT, payload={}, dedupe_key=None, message_id=None)
        )
    )
    for chunk in _chunks(_about(ids)):
        # Answers and status notes to them are about them too: counted above already.
        about = and_(OutboxMessage.ref.in_(chunk), OutboxMessage.chat_id != FORGOTTEN_CHAT)
        done.cancelled += _rows(
            await session.execute(update(OutboxMessage).where(about, in_flight).values(**cancel))
        )
        total += _rows(await session.execute(update(OutboxMessage).where(about).values(payload={})))
    done.erased = total - done.cancelled

    # Step reminders to staff still go (the step is the college's), scrubbed; so does any
    # other row naming them or quoting a scrubbed step: the rest of a digest or overview
    # is other people's.
    step_refs = {f"step:{i}" for i in step_ids}
    candidates: dict[int, OutboxMessage] = {}
    for chunk in _chunks(sorted(step_refs)):
        stmt = select(OutboxMessage).where(OutboxMessage.ref.in_(chunk))
        for row in await session.scalars(stmt):
            candidates[row.id] = row
    payload_text = cast(OutboxMessage.payload, Text)
    summary = or_(  # the digest and the weekly overview quote step titles
        OutboxMessage.dedupe_key.startswith("digest:"),
        OutboxMessage.dedupe_key.startswith("weekly:"),
    )
    # Every row about an inquiry, step or broadcast carries a ref and is handled by it;
    # the rest (digests, overviews) are few, and found through the ref index.
    # A staff member is named on the live cards and answers of inquiries they worked on.
    staff_named = select(OutboxMessage).where(
        OutboxMessage.ref.startswith("inquiry:"),
        OutboxMessage.chat_id != FORGOTTEN_CHAT,
        _mentions(payload_text, who.words, as_json=True),
    )
    for row in await session.scalars(staff_named):
        candidates[row.id] = row
    staff_rows = set(candidates) - {r.id for r in candidates.values() if r.ref in step_refs}
    named = select(OutboxMessage).where(
        OutboxMessage.ref.is_(None),
        or_(
            _mentions(payload_text, who.number, as_json=True),
            and_(
                summary,
                _mentions(
                    payload_text, [*(old for old, _ in quoted), *([heading] if heading else [])],
                    as_json=True,
                ),
            ),
        ),
    )  # fmt: skip
    for row in await session.scalars(named):
        candidates.setdefault(row.id, row)
    about_them = Scrubber(who.words, quoted)
    anywhere = Scrubber(who.number)
    summaries = Scrubber(who.number, [*quoted, (heading, f"<b>{MASK}</b>")])
    for row in candidates.values():
        key = row.dedupe_key or ""
        if row.ref in step_refs or row.id in staff_rows:
            scrub = about_them
        elif key.startswith(("digest:", "weekly:")):
            scrub = summaries  # the overview heads their steps with their name
        else:
            scrub = anywhere
        payload = scrub.json(row.payload)
        if payload != row.payload:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row.id).values(payload=payload)
            )
            done.mentions += 1


async def _others_drafts(session: AsyncSession, user_id: int, ids: list[int], who: Identity) -> int:
    """Forms other people have open about them (an answer or a step being typed for one
    of their inquiries, a step for them to do): deleted, since they would store text
    about them, or fail."""
    theirs = set(ids)
    stmt = select(FormDraft).where(
        FormDraft.user_id != user_id,
        or_(
            cast(FormDraft.data, Text).contains('"inquiry_id"', autoescape=True),
            _mentions(cast(FormDraft.data, Text), who.number, as_json=True),
        ),
    )
    doomed = []
    finder = Scrubber(who.number)
    for draft in await session.scalars(stmt):
        data = draft.data or {}
        inquiry = data.get("inquiry_id")
        if (
            (isinstance(inquiry, int | str) and str(inquiry).isdigit() and int(inquiry) in theirs)
            or str(data.get("owner", "")) == str(user_id)
            or finder.json(data) != data
        ):
            doomed.append(draft.user_id)
    for chunk in _chunks(doomed):
        await session.execute(delete(FormDraft).where(FormDraft.user_id.in_(chunk)))
    return len(doomed)


async def _hand_over_steps(session: AsyncSession, done: Forgotten, user_id: int) -> None:
    """Steps they were to do go to whoever set them (else the inquiry's assignee), who
    then gets their reminders; with nobody to take one over, it is deleted."""
    owned = list(await session.scalars(select(NextStep).where(NextStep.owner_id == user_id)))
    doomed: list[int] = []
    for step in owned:
        heir = step.created_by if step.created_by != user_id else None
        if heir is None:
            inquiry = await session.get(Inquiry, step.inquiry_id)
            if inquiry is not None and inquiry.assignee_id != user_id:
                heir = inquiry.assignee_id
        if heir is not None and await session.get(User, heir) is not None:
            await session.execute(
                update(NextStep).where(NextStep.id == step.id).values(owner_id=heir)
            )
            done.steps_handed_over += 1
        else:
            doomed.append(step.id)
    for chunk in _chunks(doomed):
        await session.execute(delete(Reminder).where(Reminder.step_id.in_(chunk)))
        await session.execute(delete(NextStep).where(NextStep.id.in_(chunk)))
    done.steps_deleted = len(doomed)
    await session.execute(
        update(NextStep)
        .where(NextStep.created_by == user_id)
        .values(created_by=None, updated_at=NextStep.updated_at)
    )


async def _inquiries(
    session: AsyncSession, done: Forgotten, user_id: int, ids: list[int], scrub: Scrubber
) -> None:
    done.messages, done.answers = await _event_counts(session, user_id, ids)
    for chunk in _chunks(ids):
        await session.execute(
            update(InquiryEvent)
            .where(InquiryEvent.inquiry_id.in_(chunk), InquiryEvent.text != "")
            .values(text="")
        )
        await session.execute(  # where their messages were in their chat (for receipts)
            update(InquiryEvent)
            .where(InquiryEvent.inquiry_id.in_(chunk), InquiryEvent.message_id.is_not(None))
            .values(message_id=None)
        )
        rows = await session.execute(
            select(Inquiry.id, Inquiry.source).where(
                Inquiry.id.in_(chunk), Inquiry.source.is_not(None)
            )
        )
        for inquiry_id, source in rows.all():
            scrubbed = scrub.text(source or "")
            if scrubbed != source:
                await session.execute(
                    update(Inquiry)
                    .where(Inquiry.id == inquiry_id)
                    .values(source=scrubbed, updated_at=Inquiry.updated_at)
                )
    await session.execute(
        update(InquiryEvent).where(InquiryEvent.actor_id == user_id).values(actor_id=None)
    )
    # The inquiry's progress did not change: its updated_at stays (the stale lists use it).
    done.inquiries = _rows(
        await session.execute(
            update(Inquiry)
            .where(Inquiry.user_id == user_id)
            .values(user_id=None, message="", organization="", updated_at=Inquiry.updated_at)
        )
    )
    done.unassigned = _rows(
        await session.execute(
            update(Inquiry)
            .where(Inquiry.assignee_id == user_id)
            .values(assignee_id=None, updated_at=Inquiry.updated_at)
        )
    )
