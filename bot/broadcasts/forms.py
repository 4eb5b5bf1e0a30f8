"""The compose form (/broadcast) and the form that schedules a draft."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts import service as broadcasts
from bot.forms.engine import Field, FormSpec, Saved, Start
from bot.forms.fields import when_field
from bot.people.person import Person
from bot.people.roles import Act
from bot.settings import Settings
from bot.ui.errors import FieldError
from bot.ui.i18n import bracketed, t
from bot.ui.ids import parse_id
from bot.ui.text import Html, Part, Plain, tr
from storage import broadcasts as repo


async def _audience_choices(
    session: AsyncSession, lang: str, data: dict[str, Any]
) -> Sequence[tuple[str, str]]:
    out = []
    # The form starts with ADMIN_IDS in its data (choices get no settings): they are
    # admins, never counted as enterprise contacts or teachers.
    admin_ids = frozenset(int(i) for i in data.get("_admin_ids", ()))
    for segment in broadcasts.SEGMENTS:
        n = await repo.count_audience(session, segment, admin_ids)
        out.append((bracketed(lang, broadcasts.segment_label(lang, segment), n), segment))
    return out


def _program_audience(text: str) -> str:
    """Typed `p_12`: the people interested in programme 12."""
    value = text.strip()
    program_id = parse_id(value[2:]) if value.startswith("p_") else None
    if program_id is not None:
        return f"program-{program_id}"
    raise FieldError("bc.audience_typed")


def _media_only(_text: str) -> NoReturn:
    raise FieldError("bc.media_please")


def _summary(lang: str, data: dict[str, Any]) -> Html:
    lines: list[Part] = [tr(lang, "bc.sum_text", text=Plain(str(data.get("text", ""))))]
    media = data.get("media")
    if isinstance(media, dict):
        lines.append(t(lang, "bc.sum_media", kind=t(lang, f"bc.media_{media['kind']}")))
    button = data.get("button")
    if isinstance(button, dict):
        target = button.get("url") or f"p_{button.get('program')}"
        lines.append(tr(lang, "bc.sum_button", text=Plain(button["text"]), target=Plain(target)))
    if data.get("audience"):
        label = data.get("_audience_label") or broadcasts.segment_label(lang, data["audience"])
        lines.append(tr(lang, "bc.sum_audience", audience=Plain(str(label))))
    return Html.join("\n", lines)


async def save_draft(
    session: AsyncSession, person: Person, data: dict[str, Any], settings: Settings
) -> Saved:
    draft = await broadcasts.create_draft(session, settings, person, data)
    return Saved("bc.draft_saved", {"id": draft.id}, made=draft.id)


COMPOSE = FormSpec(
    name="broadcast",
    title="bc.form_title",
    act=Act.BROADCAST,
    fields=(
        Field("text", "bc.ask_text", broadcasts.check_html, check=broadcasts.check_caption),
        Field("media", "bc.ask_media", _media_only, optional=True, accepts_media=True,
              check=broadcasts.check_caption),
        Field("button", "bc.ask_button", broadcasts.parse_button, optional=True),
        Field("audience", "bc.ask_audience", _program_audience, choices=_audience_choices,
              free_text=True),
    ),
    summary=_summary,
    save=save_draft,
)  # fmt: skip


async def save_schedule(
    session: AsyncSession, person: Person, data: dict[str, Any], settings: Settings
) -> Saved:
    at = datetime.fromisoformat(data["due"]["at"])
    broadcast = await broadcasts.schedule(session, settings, person, int(data["broadcast_id"]), at)
    return Saved("bc.scheduled_saved", {"id": broadcast.id, "time": data["due"]["shown"]})


def _schedule_summary(lang: str, data: dict[str, Any]) -> Html:
    """What goes out, and when: "Send at", not the tasks' "Due"."""
    lines: list[Part] = [tr(lang, "bc.sum_text", text=Plain(str(data.get("_text", ""))))]
    if isinstance(data.get("due"), dict):
        due = data["due"]
        lines.append(
            tr(lang, "bc.sum_send_at", shown=Plain(due["shown"]), typed=Plain(due["typed"]))
        )
    return Html.join("\n", lines)


def schedule_start(broadcast_id: int, text: str) -> Start:
    """The SCHEDULE form for a draft, or again for a scheduled one (reschedule)."""
    return Start(SCHEDULE, {"broadcast_id": broadcast_id, "_text": text})


def compose_start(admin_ids: frozenset[int]) -> Start:
    return Start(COMPOSE, {"_admin_ids": sorted(admin_ids)})


SCHEDULE = FormSpec(
    name="broadcast_schedule",
    title="bc.schedule_title",
    act=Act.BROADCAST,
    fields=(when_field("due", "bc.ask_when"),),
    summary=_schedule_summary,
    save=save_schedule,
)
