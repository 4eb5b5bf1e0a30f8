"""Agreed next steps and their reminders.

Reminders are rows (before the due time per REMINDER_OFFSETS, at the due time, then
daily while overdue up to OVERDUE_REMINDER_LIMIT). The dispatcher turns due rows into
outbox messages in one transaction, so each reminder is handed over exactly once and the
outbox delivers it at least once. After downtime, whatever fell due is sent on start,
marked late; several reminders of one step that fell due together become one message
that says how many were missed (none is dropped without a word).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.engines import outbox
from bot.formats.spreadsheets import ExportFile
from bot.inquiries import service as inquiries
from bot.next_steps import views as render
from bot.next_steps.calendar import CalendarItem, steps_to_ics
from bot.people import audit
from bot.people import roles as access
from bot.people.audit import Action
from bot.people.person import Person
from bot.people.roles import Act
from bot.settings import Settings
from bot.ui.errors import FieldError
from bot.ui.i18n import t
from storage import inquiries as inquiries_repo
from storage import next_steps as repo
from storage import users as users_repo
from storage.models import NextStep, Reminder, ReminderState, Role, StepStatus, utcnow

LATE_AFTER = timedelta(seconds=60)
# A digest this long after DIGEST_TIME was missed (the bot was down): a running bot's
# job wakes at the time itself, and a busy one within a safety tick or two.
DIGEST_LATE_AFTER = timedelta(minutes=5)
DISPATCH_BATCH = 500
SNOOZES = {"h": timedelta(hours=1), "d": timedelta(days=1)}


class StepError(FieldError):
    """A refusal with a message key (a FieldError, so forms show it in place)."""


def plan(step: NextStep, settings: Settings, now: datetime) -> list[Reminder]:
    """The reminders of a step from now on: before (each offset), and at the due time."""
    rows = [
        Reminder(step_id=step.id, kind=f"before:{int(offset.total_seconds())}",
                 due_at=step.due_at - offset)
        for offset in sorted(settings.reminder_offsets, reverse=True)
        if step.due_at - offset > now
    ]  # fmt: skip
    rows.append(Reminder(step_id=step.id, kind="due", due_at=max(step.due_at, now)))
    return rows


async def create(
    session: AsyncSession, settings: Settings, actor: Person, *, inquiry_id: int, title: str,
    owner_id: int, due_at: datetime, note: str = "",
) -> NextStep:  # fmt: skip
    await access.inquiry(session, actor, Act.WORK_INQUIRY, inquiry_id)
    if await users_repo.get_user(session, owner_id) is None:
        raise StepError("step.owner_gone")
    step = await repo.add_step(
        session,
        NextStep(inquiry_id=inquiry_id, title=title, note=note, owner_id=owner_id,
                 due_at=due_at, created_by=actor.id),
    )  # fmt: skip
    await repo.add_reminders(session, plan(step, settings, utcnow()))
    owner, due = audit.word("owner"), audit.word("due")
    detail = f"{audit.word('inquiry')} #{inquiry_id}: {title} · {owner} {owner_id} · {due} "
    detail += audit.stamp(due_at)
    await audit.record(session, actor.id, Action.STEP_CREATE, f"step:{step.id}", detail)
    await inquiries.card_changed(session, settings, inquiry_id)  # the card lists its steps
    return step


async def _step_for(
    session: AsyncSession, settings: Settings, person: Person, step_id: int
) -> NextStep:
    """The step, if this person may change it (bot/access.py: its owner, or an admin)."""
    return await access.step(session, person, Act.CHANGE_STEP, step_id, lock=True)


async def complete(
    session: AsyncSession, settings: Settings, person: Person, step_id: int
) -> NextStep:
    step = await _step_for(session, settings, person, step_id)
    if step.status is StepStatus.OPEN:
        step.status, step.done_at = StepStatus.DONE, utcnow()
        await repo.cancel_pending(session, step.id)
        await audit.record(session, person.id, Action.STEP_DONE, f"step:{step.id}", step.title)
        await inquiries.card_changed(session, settings, step.inquiry_id)
    return step


async def cancel(
    session: AsyncSession, settings: Settings, person: Person, step_id: int
) -> NextStep:
    step = await _step_for(session, settings, person, step_id)
    if step.status is StepStatus.OPEN:
        step.status = StepStatus.CANCELLED
        await repo.cancel_pending(session, step.id)
        await audit.record(session, person.id, Action.STEP_CANCEL, f"step:{step.id}", step.title)
        await inquiries.card_changed(session, settings, step.inquiry_id)
    return step


async def snooze(
    session: AsyncSession, settings: Settings, person: Person, step_id: int, how: str
) -> tuple[NextStep, datetime]:
    """Remind again later; the due time itself stays as agreed."""
    step = await _step_for(session, settings, person, step_id)
    if step.status is not StepStatus.OPEN or how not in SNOOZES:
        raise StepError("step.not_open")
    when = utcnow() + SNOOZES[how]
    await repo.add_reminders(session, [Reminder(step_id=step.id, kind="snooze", due_at=when)])
    return step, when


async def reschedule(
    session: AsyncSession, settings: Settings, person: Person, step_id: int, due_at: datetime
) -> NextStep:
    step = await _step_for(session, settings, person, step_id)
    if step.status is not StepStatus.OPEN:
        raise StepError("step.not_open")
    detail = f"{step.title}: {audit.word('due')} {audit.stamp(step.due_at)} → {audit.stamp(due_at)}"
    await audit.record(session, person.id, Action.STEP_EDIT, f"step:{step.id}", detail)
    step.due_at = due_at
    await repo.cancel_pending(session, step.id)
    await repo.add_reminders(session, plan(step, settings, utcnow()))
    await inquiries.card_changed(session, settings, step.inquiry_id)
    return step


async def view(session: AsyncSession, person: Person, step_id: int) -> NextStep:
    return await access.step(session, person, Act.CHANGE_STEP, step_id)


async def own_open_steps(session: AsyncSession, person: Person, limit: int = 30) -> list[NextStep]:
    return await repo.steps_of_owner(session, person.id, limit=limit)


async def overdue(session: AsyncSession, person: Person, now: datetime) -> list[NextStep]:
    """Everyone's overdue steps for an admin, a teacher's own for a teacher."""
    access.require(person, Act.SEE_OVERDUE)
    owner = None if person.role is Role.ADMIN else person.id
    return await repo.overdue_steps(session, now, owner_id=owner)


async def calendar_file(
    session: AsyncSession, person: Person, lang: str, tz: ZoneInfo
) -> ExportFile:
    """The person's open steps as an .ics file their calendar app can import."""
    steps = await repo.steps_of_owner(session, person.id, limit=500)
    items = [
        CalendarItem(
            uid=str(s.id), title=s.title, description=f"#{s.inquiry_id} {s.note}".strip(),
            due_utc=s.due_at, url=None, done=False,
        )
        for s in steps
    ]  # fmt: skip
    data = steps_to_ics(items, calendar_name=t(lang, "step.calendar_name"), tz=tz)
    return ExportFile("partnerbot-next-steps.ics", data, len(items))


# The dispatcher ---------------------------------------------------------------------------


async def dispatch_due(
    session: AsyncSession, settings: Settings, now: datetime, limit: int = DISPATCH_BATCH
) -> int:
    """Hand every due reminder to the outbox; returns how many messages were queued."""
    due = await repo.claim_due(session, now, limit)
    if not due:
        return 0
    steps = await repo.steps_by_ids(session, list({r.step_id for r in due}))
    by_step: dict[int, list[Reminder]] = defaultdict(list)
    for reminder in due:
        by_step[reminder.step_id].append(reminder)
    queued = 0
    for step_id, reminders in by_step.items():
        step = steps.get(step_id)
        reminders.sort(key=lambda r: (r.due_at, r.id))
        if step is None or step.status is not StepStatus.OPEN:
            for reminder in reminders:
                reminder.state = ReminderState.CANCELLED
            continue
        latest, earlier = reminders[-1], reminders[:-1]
        for reminder in earlier:
            reminder.state = ReminderState.MERGED
        latest.late = now - latest.due_at > LATE_AFTER
        latest.outbox_id = await _queue(session, settings, step, latest, len(earlier), now)
        latest.state, latest.queued_at = ReminderState.QUEUED, now
        queued += 1
        if latest.kind == "due" or latest.kind.startswith("overdue:"):
            await _plan_next_overdue(session, settings, step, now)
    return queued


async def _queue(
    session: AsyncSession, settings: Settings, step: NextStep, reminder: Reminder,
    merged: int, now: datetime,
) -> int | None:  # fmt: skip
    owner = await users_repo.get_user(session, step.owner_id)
    lang = owner.language if owner else settings.default_language
    inquiry = await inquiries_repo.get_inquiry(session, step.inquiry_id)
    text, keyboard = render.reminder(
        lang, step, reminder, inquiry, settings, merged=merged, now=now
    )
    return await outbox.queue(
        session, step.owner_id, outbox.payload_text(text, keyboard), priority=outbox.REMINDER,
        ref=f"step:{step.id}", dedupe_key=f"reminder:{reminder.id}",
    )  # fmt: skip


async def _plan_next_overdue(
    session: AsyncSession, settings: Settings, step: NextStep, now: datetime
) -> None:
    """The next daily overdue reminder after now (missed days are not replayed)."""
    if step.due_at > now:
        return
    days = int((now - step.due_at) / timedelta(days=1)) + 1
    if days > settings.overdue_reminder_limit:
        return
    await repo.add_reminders(
        session,
        [Reminder(step_id=step.id, kind=f"overdue:{days}",
                  due_at=step.due_at + timedelta(days=days))],
    )  # fmt: skip


async def next_due_at(session: AsyncSession) -> datetime | None:
    return await repo.next_due_at(session)


# Digests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestPlan:
    day_key: str
    end_of_day_utc: datetime


def digest_moment(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """(today's digest time, the next one after now), both UTC."""
    local = now.astimezone(settings.tz)
    today = datetime.combine(local.date(), settings.digest_time, tzinfo=settings.tz)
    upcoming = today if today > local else today + timedelta(days=1)
    return today.astimezone(now.tzinfo), upcoming.astimezone(now.tzinfo)


async def send_digests(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Once a day after DIGEST_TIME: each person with steps due today or overdue, or with
    quiet inquiries (bot/inquiries/stale.py), gets one message; on Mondays the admins
    also get the overdue steps per owner. A digest that could not go at its time (the bot
    was down that morning) goes at the restart, saying when it was due: the day's mark
    is claimed by the first run after DIGEST_TIME, however late, and by one process."""
    today_at, _ = digest_moment(settings, now)
    if now < today_at:
        return 0
    local_day = now.astimezone(settings.tz).date()
    if not await repo.claim_mark(session, f"digest:{local_day.isoformat()}"):
        return 0
    missed_at = today_at if now - today_at > DIGEST_LATE_AFTER else None
    end_of_day = datetime.combine(
        local_day + timedelta(days=1), datetime.min.time(), tzinfo=settings.tz
    )
    per_owner: dict[int, list[NextStep]] = defaultdict(list)
    for step in await repo.open_steps_due_before(session, end_of_day):
        per_owner[step.owner_id].append(step)
    quiet = await inquiries.quiet_by_person(session, settings, now)
    queued = 0
    for person_id in sorted(per_owner.keys() | quiet.keys()):
        person = await users_repo.get_user(session, person_id)
        if person is not None and person.blocked_at is not None:
            continue
        if person is None and person_id not in quiet:  # a step's owner is always a user
            continue
        lang = person.language if person else settings.default_language
        text, keyboard = render.digest(
            lang, per_owner.get(person_id, []), settings, now,
            quiet=quiet.get(person_id, []), missed_at=missed_at,
        )  # fmt: skip
        await outbox.queue(
            session, person_id, outbox.payload_text(text, keyboard), priority=outbox.REMINDER,
            dedupe_key=f"digest:{person_id}:{local_day.isoformat()}",
        )  # fmt: skip
        queued += 1
    if local_day.weekday() == 0:
        queued += await _weekly_overview(session, settings, now, local_day.isoformat())
    return queued


async def _weekly_overview(
    session: AsyncSession, settings: Settings, now: datetime, day: str
) -> int:
    overdue = await repo.overdue_steps(session, now, limit=1000)
    admins = set(settings.admin_ids) | set(await inquiries_repo.staff_ids(session, Role.ADMIN))
    owners = {s.owner_id for s in overdue}
    names = {}
    for owner_id in owners:
        user = await users_repo.get_user(session, owner_id)
        names[owner_id] = user.first_name if user else str(owner_id)
    languages: dict[int, str] = {}
    for admin_id in sorted(admins):
        admin = await users_repo.get_user(session, admin_id)
        languages[admin_id] = admin.language if admin else settings.default_language
    # The /stats chart closes the overview, drawn once per language. (It is drawn inside
    # the digests' unit of work, bot/engines/jobs.py: on SQLite other writes wait that
    # second or so, once a week.)
    drawn = await inquiries.weekly_charts(session, settings, now, set(languages.values()))
    queued = 0
    for admin_id, lang in languages.items():
        # Queued in order, so sent in order: the outbox sends a chat's rows by id.
        for part, text in enumerate(render.weekly(lang, overdue, names, settings, now)):
            suffix = f":{part + 1}" if part else ""  # the first keeps the older key
            await outbox.queue(
                session, admin_id, outbox.payload_text(text), priority=outbox.REMINDER,
                dedupe_key=f"weekly:{admin_id}:{day}{suffix}",
            )  # fmt: skip
            queued += 1
        queued += await _weekly_chart(session, admin_id, drawn[lang], day)
    return queued


async def _weekly_chart(
    session: AsyncSession, admin_id: int, chart: inquiries.WeeklyChart, day: str
) -> int:
    """The chart as a photo (uploaded by each row: a few admins, some 50 KB each), or its
    figures alone where no font draws it. Its key is not "weekly:…": it names nobody, so
    /forget has nothing to scrub in it."""
    key = f"weekly-chart:{admin_id}:{day}"
    if chart.png is None:
        payload = outbox.payload_text(chart.caption)
        await outbox.queue(session, admin_id, payload, priority=outbox.REMINDER, dedupe_key=key)
        return 1
    payload = outbox.payload_file("photo", chart.png, "stats.png", caption=chart.caption,
                                  parse_mode="HTML")  # fmt: skip
    await outbox.queue(
        session, admin_id, payload, method="sendPhoto", priority=outbox.REMINDER, dedupe_key=key
    )
    return 1


async def next_digest_at(settings: Settings, now: datetime) -> datetime:
    return digest_moment(settings, now)[1]
