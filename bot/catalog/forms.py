"""The catalogue's forms (admins): a new programme, and one field of a programme edited.

Both ask the permission path at every step (act MANAGE_CATALOG); the saves re-check."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.catalog.search import search_text_for
from bot.forms.engine import Field, FormSpec, Saved
from bot.people import audit
from bot.people import roles as access
from bot.people.audit import Action
from bot.people.person import Person
from bot.people.roles import Act
from bot.settings import Settings
from bot.ui.errors import FieldError
from bot.ui.i18n import localized, t
from bot.ui.text import Html, Part, Plain, labelled
from storage import program_admin as admin_repo
from storage import programs as repo
from storage.models import Department, Program, ProgramKind, ProgramStatus, utcnow

TEXT_FIELDS = (
    "title_zh", "title_en", "summary_zh", "summary_en", "benefits_zh", "benefits_en",
    "tags", "contact",
)  # fmt: skip
LIMITS = {"title_zh": 200, "title_en": 200, "tags": 500, "contact": 300}
LONG_TEXT = 4000
KIND_PREFIX = {
    ProgramKind.JOINT_RESEARCH: "JR",
    ProgramKind.TECH_TRANSFER: "TT",
    ProgramKind.INTERNSHIP: "IN",
    ProgramKind.CO_BUILT_MAJOR: "CM",
    ProgramKind.INCUBATION: "IC",
    ProgramKind.TRAINING: "TR",
    ProgramKind.TEACHER_PRACTICE: "TP",
    ProgramKind.EXPERT_LECTURE: "EL",
}
_CJK = re.compile(r"[\u3400-\u9fff]")


def _text(name: str) -> Any:
    limit = LIMITS.get(name, LONG_TEXT)

    def parse(value: str) -> str:
        if len(value) > limit:
            raise FieldError("form.too_long", limit=limit, length=len(value))
        if name == "tags":
            parts = [p.strip() for p in re.split(r"[,，、;；]", value) if p.strip()]
            return ", ".join(parts)
        return value

    return parse


async def _kind_choices(
    _session: AsyncSession, lang: str, _data: dict[str, Any]
) -> Sequence[tuple[str, str]]:
    return [(t(lang, f"kind.{k.value}"), k.value) for k in ProgramKind]


async def _department_choices(
    session: AsyncSession, lang: str, _data: dict[str, Any]
) -> Sequence[tuple[str, str]]:
    return [
        (localized(lang, d.name_zh, d.name_en), str(d.id))
        for d in await repo.all_departments(session)
    ]


def _new_department(value: str) -> str:
    if len(value) > 200:
        raise FieldError("form.too_long", limit=200, length=len(value))
    return "new:" + value


def _one_title(data: dict[str, Any]) -> None:
    if not (data.get("title_zh") or data.get("title_en")):
        raise FieldError("program.need_title")


def summary(lang: str, data: dict[str, Any]) -> Html:
    """The check screen: every answer, the longest clipped should they not all fit."""
    lines: list[Part] = []
    if "kind" in data:
        lines.append(labelled(lang, "field.kind", Plain(t(lang, "kind." + data["kind"]))))
    if "department" in data:
        dep = str(data["department"])
        # The name its button showed (the engine keeps it as `_department_label`).
        shown = dep[4:] if dep.startswith("new:") else data.get("_department_label", dep)
        lines.append(labelled(lang, "field.department", Plain(str(shown))))
    for name in TEXT_FIELDS:
        if data.get(name):
            lines.append(labelled(lang, "field." + name, Plain(str(data[name]))))
    if "value" in data:
        lines.append(labelled(lang, "field." + data["field"], Plain(str(data["value"]))))
    return Html.join("\n", lines)


async def _resolve_department(session: AsyncSession, value: str) -> Department:
    if value.startswith("new:"):
        name = value[4:]
        existing = await admin_repo.department_by_name(session, name)
        if existing is not None:
            return existing
        is_zh = bool(_CJK.search(name))
        department = Department(
            code=await admin_repo.next_department_code(session),
            name_zh=name if is_zh else "",
            name_en="" if is_zh else name,
        )
        return await repo.add_department(session, department)
    found = await repo.get_department(session, int(value)) if value.isdigit() else None
    if found is None:
        raise FieldError("program.department_gone")
    return found


def _named(program: Program) -> str:
    """A programme in a detail: its code and titles."""
    return " ".join(p for p in (program.code, program.title_zh, program.title_en) if p)


async def _unique_code(session: AsyncSession, kind: ProgramKind) -> str:
    while True:
        code = f"{KIND_PREFIX[kind]}-{secrets.token_hex(3).upper()}"
        if not await repo.program_code_taken(session, code):
            return code


async def save_new_program(
    session: AsyncSession, person: Person, data: dict[str, Any], _settings: Settings
) -> Saved:
    access.require(person, Act.MANAGE_CATALOG)
    kind = ProgramKind(data["kind"])
    department = await _resolve_department(session, str(data["department"]))
    program = Program(
        code=await _unique_code(session, kind),
        kind=kind,
        department_id=department.id,
        status=ProgramStatus.OPEN,
        **{name: str(data.get(name, "")) for name in TEXT_FIELDS},
    )
    program.search_text = search_text_for(program, department)
    await repo.add_program(session, program)
    await audit.record(
        session, person.id, Action.PROGRAM_CREATE, f"program:{program.id}", _named(program)
    )
    return Saved("program.created", {"code": program.code}, made=program.id)


async def save_field(
    session: AsyncSession, person: Person, data: dict[str, Any], _settings: Settings
) -> Saved:
    access.require(person, Act.MANAGE_CATALOG)
    program = await admin_repo.lock_program(session, int(data["program_id"]))
    name = str(data["field"])
    if program is None or name not in TEXT_FIELDS:
        raise FieldError("program.gone")
    value = str(data.get("value", ""))
    if name in ("title_zh", "title_en"):
        other = program.title_en if name == "title_zh" else program.title_zh
        if not value and not other:
            raise FieldError("program.need_title")
    setattr(program, name, value)
    department = await repo.get_department(session, program.department_id)
    program.search_text = search_text_for(program, department)
    program.updated_at = utcnow()
    detail = f"{program.code} {audit.term(f'field.{name}')}: {value}"
    await audit.record(session, person.id, Action.PROGRAM_EDIT, f"program:{program.id}", detail)
    return Saved("program.updated", made=program.id)


NEW_PROGRAM = FormSpec(
    name="program_new",
    title="program.form_title",
    act=Act.MANAGE_CATALOG,
    fields=(
        Field("kind", "program.ask_kind", choices=_kind_choices),
        Field(
            "department",
            "program.ask_department",
            parse=_new_department,
            choices=_department_choices,
            free_text=True,
        ),
        Field("title_zh", "program.ask_title_zh", _text("title_zh"), optional=True),
        # At least one title: refused at the second title's step, not at Save.
        Field(
            "title_en", "program.ask_title_en", _text("title_en"), optional=True, check=_one_title
        ),
        Field("summary_zh", "program.ask_summary_zh", _text("summary_zh"), optional=True),
        Field("summary_en", "program.ask_summary_en", _text("summary_en"), optional=True),
        Field("benefits_zh", "program.ask_benefits_zh", _text("benefits_zh"), optional=True),
        Field("benefits_en", "program.ask_benefits_en", _text("benefits_en"), optional=True),
        Field("tags", "program.ask_tags", _text("tags"), optional=True),
        Field("contact", "program.ask_contact", _text("contact"), optional=True),
    ),
    summary=summary,
    save=save_new_program,
    validate=_one_title,
)


def _edit_value(value: str) -> str:
    if len(value) > LONG_TEXT:
        raise FieldError("form.too_long", limit=LONG_TEXT, length=len(value))
    return value


EDIT_FIELD = FormSpec(
    name="program_edit",
    title="program.edit_title",
    act=Act.MANAGE_CATALOG,
    fields=(Field("value", "program.ask_value", _edit_value, optional=True),),
    summary=summary,
    save=save_field,
    validate=lambda data: check_edit_limit(data),
)


async def edit_data(
    session: AsyncSession, person: Person, program_id: int, field_name: str
) -> dict[str, Any]:
    """What EDIT_FIELD begins with: the programme, the field and its current value."""
    access.require(person, Act.MANAGE_CATALOG)
    program = await access.program(session, person, program_id)
    if field_name not in TEXT_FIELDS:
        raise access.Refused()
    current = str(getattr(program, field_name) or "")
    return {"program_id": program_id, "field": field_name, "_current": current}


def check_edit_limit(data: dict[str, Any]) -> None:
    name = str(data.get("field"))
    limit = LIMITS.get(name, LONG_TEXT)
    if len(str(data.get("value", ""))) > limit:
        raise FieldError("form.too_long", limit=limit, length=len(str(data["value"])))
