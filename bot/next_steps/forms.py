"""The next-step form (what, who, by when, a note) and the form that moves a due time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.formats.validate import long_text, short_text
from bot.forms.engine import Field, FormSpec, Saved
from bot.forms.fields import when_field
from bot.next_steps import service as next_steps
from bot.people.person import Person
from bot.people.roles import Act
from bot.settings import Settings
from bot.ui.i18n import t
from bot.ui.text import Html, Part, Plain, labelled, tr
from storage import inquiries as inquiries_repo
from storage import programs as programs_repo
from storage import users as users_repo
from storage.models import Role


async def _owner_choices(
    session: AsyncSession, lang: str, data: dict[str, Any]
) -> Sequence[tuple[str, str]]:
    """Me, the inquiry's assignee, the programme's teacher, the enterprise contact, and
    the other teachers."""
    candidates: list[tuple[int, str]] = []
    actor = data.get("actor_id")
    if isinstance(actor, int):
        candidates.append((actor, t(lang, "step.owner_me")))
    inquiry = await inquiries_repo.get_inquiry(session, int(data.get("inquiry_id") or 0))
    if inquiry is not None:
        program = (
            await programs_repo.get_program(session, inquiry.program_id)
            if inquiry.program_id else None
        )  # fmt: skip
        for user_id in (inquiry.assignee_id, program.owner_id if program else None):
            user = await users_repo.get_user(session, user_id) if user_id else None
            if user is not None:
                candidates.append((user.id, user.first_name))
        if inquiry.user_id is not None:
            candidates.append((inquiry.user_id, t(lang, "step.owner_contact")))
    for user in (await users_repo.users_with_role(session, Role.TEACHER))[:8]:
        candidates.append((user.id, user.first_name))
    seen: set[int] = set()
    out = []
    for user_id, label in candidates:
        if user_id not in seen:
            seen.add(user_id)
            out.append((label, str(user_id)))
    return out


def _summary(lang: str, data: dict[str, Any]) -> Html:
    lines: list[Part] = []
    if data.get("title"):
        lines.append(labelled(lang, "field.title", Plain(str(data["title"]))))
    if data.get("owner"):
        owner = Plain(str(data.get("_owner_label", data["owner"])))
        lines.append(labelled(lang, "field.owner", owner))
    due = data.get("due")
    if isinstance(due, dict):
        lines.append(
            tr(lang, "step.understood", typed=Plain(due["typed"]), shown=Plain(due["shown"]))
        )
    if data.get("note"):
        lines.append(labelled(lang, "field.note", Plain(str(data["note"]))))
    return Html.join("\n", lines)


async def save_step(
    session: AsyncSession, person: Person, data: dict[str, Any], settings: Settings
) -> Saved:
    step = await next_steps.create(
        session, settings, person, inquiry_id=int(data["inquiry_id"]),
        title=str(data["title"]), owner_id=int(data["owner"]),
        due_at=datetime.fromisoformat(data["due"]["at"]), note=str(data.get("note", "")),
    )  # fmt: skip
    return Saved("step.saved", {"id": step.id, "due": data["due"]["shown"]})


NEW_STEP = FormSpec(
    name="next_step",
    title="step.form_title",
    act=Act.WORK_INQUIRY,
    subject="inquiry_id",
    fields=(
        Field("title", "step.ask_title", short_text(300)),
        Field("owner", "step.ask_owner", choices=_owner_choices),
        when_field("due", "step.ask_due"),
        Field("note", "step.ask_note", long_text(1000), optional=True),
    ),
    summary=_summary,
    save=save_step,
)


async def save_move(
    session: AsyncSession, person: Person, data: dict[str, Any], settings: Settings
) -> Saved:
    step = await next_steps.reschedule(
        session, settings, person, int(data["step_id"]), datetime.fromisoformat(data["due"]["at"])
    )
    return Saved("step.moved", {"id": step.id, "due": data["due"]["shown"]})


MOVE_STEP = FormSpec(
    name="step_move",
    title="step.move_title",
    act=Act.CHANGE_STEP,
    subject="step_id",
    fields=(when_field("due", "step.ask_due"),),
    summary=_summary,
    save=save_move,
)
