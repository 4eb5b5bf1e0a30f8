"""Nothing goes quiet. An inquiry is quiet when it is neither closed nor declined, has no
open next step, and has had no event (answer, status, assignment, follow-up...) for
STALE_DAYS. Each quiet spell nudges once: its assignee, or every admin when nobody is
assigned (or the assignee can no longer be reached); and its contact gets one short
note that the college is still on it, with the status. The spell is recorded on the
inquiry (`quiet_nudged_at`); any later event starts a new one. Quiet inquiries are also
listed in their people's morning digest (bot/next_steps/service.py) until they move.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.engines import outbox
from bot.inquiries import views as render
from bot.settings import Settings
from storage import inquiries as repo
from storage import users as users_repo
from storage.models import Inquiry, Role, User

NUDGE_BATCH = 200  # inquiries per transaction


def quiet_since(settings: Settings, now: datetime) -> datetime:
    return now - timedelta(days=settings.stale_days)


async def _admins(session: AsyncSession, settings: Settings) -> list[User | int]:
    """Every admin: the configured ones (even before their first /start: then their id
    only) and those made admin by invite, minus any who blocked the bot."""
    ids = set(settings.admin_ids) | set(await repo.staff_ids(session, Role.ADMIN))
    users = await repo.users_by_ids(session, list(ids))
    return [users.get(i, i) for i in sorted(ids) if i not in users or users[i].blocked_at is None]


def _reachable_staff(user: User) -> bool:
    return user.blocked_at is None and user.role is not Role.ENTERPRISE


async def people_to_nudge(
    session: AsyncSession, inquiry: Inquiry, admins: list[User | int]
) -> list[User | int]:
    """Its assignee; nobody assigned (or one who left the staff or blocked the bot):
    every admin, so it is never nobody's."""
    if inquiry.assignee_id is not None:
        assignee = await users_repo.get_user(session, inquiry.assignee_id)
        if assignee is not None and _reachable_staff(assignee):
            return [assignee]
    return admins


def _lang(settings: Settings, person: User | int) -> str:
    return person.language if isinstance(person, User) else settings.default_language


def _id(person: User | int) -> int:
    return person.id if isinstance(person, User) else person


async def nudge_due(
    session: AsyncSession, settings: Settings, now: datetime, limit: int = NUDGE_BATCH
) -> tuple[int, int]:
    """Nudge the quiet inquiries not yet nudged in this spell: (inquiries, messages)."""
    quiet = await repo.claim_quiet(session, quiet_since(settings, now), limit)
    programs = await repo.programs_by_ids(
        session, [i.program_id for i, _ in quiet if i.program_id is not None]
    )
    admins = await _admins(session, settings) if quiet else []
    queued = 0
    told: set[int] = set()  # contacts told in this run (the dedupe key covers the day)
    for inquiry, last_at in quiet:
        program = programs.get(inquiry.program_id) if inquiry.program_id else None
        spell = f"quiet:{inquiry.id}:{int(last_at.timestamp())}"  # one spell, one nudge
        for person in await people_to_nudge(session, inquiry, admins):
            text, keyboard = render.quiet_nudge(
                _lang(settings, person), inquiry, program, settings, last_at
            )
            await outbox.queue(
                session, _id(person), outbox.payload_text(text, keyboard),
                priority=outbox.REMINDER, ref=f"inquiry:{inquiry.id}",
                dedupe_key=f"{spell}:{_id(person)}",
            )  # fmt: skip
            queued += 1
        # The contact, unless they used /forget (no one to tell) or blocked the bot.
        contact = await users_repo.get_user(session, inquiry.user_id) if inquiry.user_id else None
        if contact is not None and contact.blocked_at is None and contact.id not in told:
            told.add(contact.id)
            text, keyboard = render.quiet_to_contact(contact.language, inquiry, program)
            # One such note a day per contact, however many of theirs went quiet and
            # however many workers run; REMINDER, not NOTIFY: nobody waits for it, and an
            # answer to them must not queue behind it.
            day = now.astimezone(settings.tz).date().isoformat()
            made = await outbox.queue(
                session, contact.id, outbox.payload_text(text, keyboard),
                priority=outbox.REMINDER, ref=f"inquiry:{inquiry.id}",
                dedupe_key=f"quiet-note:{contact.id}:{day}",
            )  # fmt: skip
            queued += made is not None
    await repo.mark_nudged(session, [i.id for i, _ in quiet], now)
    return len(quiet), queued


async def next_nudge_at(session: AsyncSession, settings: Settings) -> datetime | None:
    """When the next inquiry goes quiet, from the database. One that becomes quiet
    sooner because its last step was closed is found by the engine's safety tick."""
    earliest = await repo.next_quiet_from(session)
    return None if earliest is None else earliest + timedelta(days=settings.stale_days)


async def quiet_by_person(
    session: AsyncSession, settings: Settings, now: datetime
) -> dict[int, list[tuple[Inquiry, datetime]]]:
    """For the digest: each person's quiet inquiries (nudged or not), as the nudges go."""
    out: dict[int, list[tuple[Inquiry, datetime]]] = defaultdict(list)
    admins = await _admins(session, settings)
    for inquiry, last_at in await repo.quiet_inquiries(session, quiet_since(settings, now)):
        for person in await people_to_nudge(session, inquiry, admins):
            out[_id(person)].append((inquiry, last_at))
    return out
