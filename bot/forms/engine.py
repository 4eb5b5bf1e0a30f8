"""A small form engine whose state lives in the database (form_drafts).

Every answered step is saved in the same unit of work as the update that answered it,
so a half-filled form survives a crash or restart and any instance can continue it.
A form is a list of fields; a field parses typed text (or takes a button's value) and
either returns the value or raises FieldError with a message key for the user.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.people import roles as access
from bot.people.person import Person
from bot.people.roles import Act
from bot.settings import Settings
from bot.ui.errors import FieldError
from bot.ui.text import Html
from storage import forms as repo

CONFIRM = "_confirm"
SKIP = "_skip"


Save = Callable[[AsyncSession, Person, dict[str, Any], Settings], Awaitable["Saved"]]
Choices = Callable[[AsyncSession, str, dict[str, Any]], Awaitable[Sequence[tuple[str, str]]]]


@dataclass(frozen=True)
class ParseContext:
    """What a parser may need besides the text: the time, the zone and the language."""

    now: datetime
    tz: ZoneInfo
    lang: str


@dataclass(frozen=True)
class Field:
    name: str
    prompt: str  # message key
    parse: Callable[[str], Any] = str
    optional: bool = False
    choices: Choices | None = None  # buttons (label, value)
    free_text: bool = False  # with choices: typed text is also accepted (through parse)
    accepts_contact: bool = False
    accepts_media: bool = False  # a photo or document answers it ({"kind", "file_id"})
    parse_in: Callable[[str, ParseContext], Any] | None = None  # a parser that needs context
    # A check of the answer against the others (given the data with the answer in it),
    # so a refusal comes at this step, not at save: raises FieldError.
    check: Callable[[dict[str, Any]], None] | None = None


@dataclass(frozen=True)
class Saved:
    key: str
    values: dict[str, object] = field(default_factory=dict)
    program_id: int | None = None  # show this programme's card after the message
    broadcast_id: int | None = None  # a broadcast draft: preview it and offer to send
    html: str | None = None  # a ready (escaped) text to show instead of `key`
    then_form: str | None = None  # a form to start right after (e.g. interest after profile)
    then_data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FormSpec:
    name: str
    fields: tuple[Field, ...]
    # The check screen's body: HTML, or pieces (bot/text.py) so long answers fit.
    summary: Callable[[str, dict[str, Any]], Awaitable[str | Html] | str | Html]
    save: Save
    title: str  # message key
    # Who may fill it in (bot/access.py): an act, and the data key that holds the id of
    # the thing it acts on (None: an act on no particular thing). Asked at every step.
    act: Act | None = None
    subject: str | None = None
    validate: Callable[[dict[str, Any]], None] | None = None  # whole-form check at confirm

    def field_named(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def after(self, name: str) -> str:
        names = [f.name for f in self.fields]
        index = names.index(name) + 1
        return names[index] if index < len(names) else CONFIRM


FORMS: dict[str, FormSpec] = {}


def register(spec: FormSpec) -> FormSpec:
    FORMS[spec.name] = spec
    return spec


@dataclass(frozen=True)
class Ask:
    """The next question (with the error that sent us back to it, if any)."""

    spec: FormSpec
    field: Field
    data: dict[str, Any]
    error: FieldError | None = None


@dataclass(frozen=True)
class Confirm:
    spec: FormSpec
    data: dict[str, Any]
    error: FieldError | None = None


Step = Ask | Confirm


def _step(spec: FormSpec, step: str, data: dict[str, Any], error: FieldError | None) -> Step:
    if step == CONFIRM:
        return Confirm(spec, data, error)
    current = spec.field_named(step)
    if current is None:  # the form changed shape since the draft was saved
        return Ask(spec, spec.fields[0], data, error)
    return Ask(spec, current, data, error)


async def begin(
    session: AsyncSession, person: Person, spec: FormSpec, data: dict[str, Any] | None = None,
    *, start_at: str | None = None,
) -> Step:  # fmt: skip
    """Start (or restart) a form; Refused when this person may not fill it in."""
    await check_access(session, person, spec, data or {})
    first = start_at or spec.fields[0].name
    draft = await repo.put_draft(session, person.id, spec.name, first, data or {})
    return _step(spec, draft.step, draft.data, None)


async def current(session: AsyncSession, user_id: int) -> Step | None:
    draft = await repo.get_draft(session, user_id)
    if draft is None:
        return None
    spec = FORMS.get(draft.form)
    if spec is None:  # a form that no longer exists: forget it
        await repo.drop_draft(session, user_id)
        return None
    return _step(spec, draft.step, draft.data, None)


def typed_text(text: str) -> str:
    """Typed text without control characters, line breaks and tabs kept: a NUL in an
    answer crashed PostgreSQL on save (text cannot hold it), and none is ever meant."""
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")


async def give(
    session: AsyncSession, user_id: int, *, text: str | None = None, choice: str | None = None,
    expected_step: str | None = None, ctx: ParseContext | None = None,
    media: dict[str, str] | None = None,
) -> Step | None:  # fmt: skip
    """Answer the current question with typed text or a button's value."""
    draft = await repo.get_draft(session, user_id)
    spec = FORMS.get(draft.form) if draft else None
    if draft is None or spec is None:
        return None
    if expected_step is not None and expected_step != draft.step:
        return None  # a button from an earlier question: stale
    data = dict(draft.data)
    current_field = spec.field_named(draft.step)
    if current_field is None:
        return _step(spec, draft.step, data, None)
    try:
        if media is not None:
            if not current_field.accepts_media:
                raise FieldError("form.text_please")
            data[current_field.name] = media
        elif choice == SKIP:
            if not current_field.optional:
                raise FieldError("form.required")
            data.pop(current_field.name, None)
        elif choice is not None:
            if current_field.choices is None:
                return None
            options = await current_field.choices(session, ctx.lang if ctx else "en", data)
            labels = {value: label for label, value in options}
            if choice not in labels:
                return None
            data[current_field.name] = choice
            data[f"_{current_field.name}_label"] = labels[choice]  # for the check screen
        else:
            if current_field.choices is not None and not current_field.free_text:
                raise FieldError("form.use_buttons")
            value = typed_text(text or "").strip()
            if not value:
                raise FieldError("form.required")
            if current_field.optional and value == "-":
                data.pop(current_field.name, None)
            elif current_field.parse_in is not None:
                if ctx is None:
                    raise FieldError("form.required")
                data[current_field.name] = current_field.parse_in(value, ctx)
            else:
                data[current_field.name] = current_field.parse(value)
        if current_field.check is not None and current_field.name in data:
            current_field.check(data)
    except FieldError as error:
        return Ask(spec, current_field, data, error)
    back_to_confirm = bool(data.pop("_return_to_confirm", False))
    next_step = CONFIRM if back_to_confirm else spec.after(current_field.name)
    await repo.put_draft(session, user_id, spec.name, next_step, data)
    return _step(spec, next_step, data, None)


async def reopen(session: AsyncSession, user_id: int, field_name: str) -> Step | None:
    """From the confirmation, go back to one field; answering it returns to confirm."""
    draft = await repo.get_draft(session, user_id)
    spec = FORMS.get(draft.form) if draft else None
    if draft is None or spec is None or draft.step != CONFIRM:
        return None
    if spec.field_named(field_name) is None:
        return None
    data = dict(draft.data, _return_to_confirm=True)
    await repo.put_draft(session, user_id, spec.name, field_name, data)
    return _step(spec, field_name, data, None)


async def finish(
    session: AsyncSession, person: Person, settings: Settings
) -> Saved | Confirm | None:
    """Save a confirmed form. Returns Confirm again (with an error) if it doesn't validate."""
    draft = await repo.get_draft(session, person.id)
    spec = FORMS.get(draft.form) if draft else None
    if draft is None or spec is None or draft.step != CONFIRM:
        return None
    # Bookkeeping keys stay out; `_then` (what follows the form) is passed on.
    data = {k: v for k, v in draft.data.items() if not k.startswith("_") or k == "_then"}
    try:
        if spec.validate is not None:
            spec.validate(data)
        saved = await spec.save(session, person, data, settings)
    except access.Refused:
        raise  # not a wrong answer: the form cannot be finished (handlers end it)
    except FieldError as error:
        return Confirm(spec, data, error)
    await repo.drop_draft(session, person.id)
    return saved


async def check_access(
    session: AsyncSession, person: Person, spec: FormSpec, data: dict[str, Any]
) -> None:
    """Raises access.Refused when this person may no longer fill in this form (a role
    lost, an inquiry reassigned since the form began)."""
    if spec.act is None:
        return
    if spec.subject is None:
        access.require(person, spec.act)
    else:
        await access.require_on(session, person, spec.act, data.get(spec.subject))


async def cancel(session: AsyncSession, user_id: int) -> bool:
    return await repo.drop_draft(session, user_id)
