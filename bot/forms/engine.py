"""A small form engine whose state lives in the database (form_drafts).

Every answered step is saved in the same unit of work as the update that answered it,
so a half-filled form survives a crash or restart and any instance can continue it.
A form is a list of fields; a field parses typed text (or takes a button's value) and
either returns the value or raises FieldError with a message key for the user.

The engine knows no feature: each wing defines its FormSpecs, and the composition root
(bot/app.py) registers them in one `Forms` (kept on the Runtime). Buttons of a question
are resolved here, with the session at hand, so rendering a step needs no database.
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
from bot.people.person import PAUSED_FORM_TTL, Person
from bot.people.roles import Act
from bot.settings import Settings
from bot.ui.errors import FieldError
from bot.ui.text import Html
from storage import forms as repo
from storage.models import utcnow

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

    @classmethod
    def now_in(cls, tz: ZoneInfo, lang: str) -> ParseContext:
        return cls(utcnow(), tz, lang)


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
    # A check of the answer against the others (given the data with the answer in it,
    # or without it when skipped), so a refusal comes at this step, not at save: raises
    # FieldError.
    check: Callable[[dict[str, Any]], None] | None = None


@dataclass(frozen=True)
class Saved:
    key: str
    values: dict[str, object] = field(default_factory=dict)
    made: int | None = None  # the id of what the form made (its feature's after-save hook)
    html: str | None = None  # a ready (escaped) text to show instead of `key`
    then_form: str | None = None  # a form to start right after (e.g. interest after profile)
    then_data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Start:
    """How a form begins: which, with what data, and at which step (None: the first)."""

    spec: FormSpec
    data: dict[str, Any] = field(default_factory=dict)
    start_at: str | None = None


@dataclass(frozen=True)
class FormSpec:
    name: str
    fields: tuple[Field, ...]
    # The check screen's body: HTML, or pieces (bot/ui/text.py) so long answers fit.
    summary: Callable[[str, dict[str, Any]], str | Html]
    save: Save
    title: str  # message key
    # Who may fill it in (bot/access.py): an act, and the data key that holds the id of
    # the thing it acts on (None: an act on no particular thing). Asked at every step.
    act: Act | None = None
    subject: str | None = None
    validate: Callable[[dict[str, Any]], None] | None = None  # whole-form check at confirm
    verb: str = "form.save"  # the last screen's button says what happens: Save, Send…
    # Files sent at any step of this form are added to its data (a question's spec
    # sheet): the hook adds one to data["attachments"] or raises FieldError.
    attach: Callable[[dict[str, Any], dict[str, Any]], None] | None = None

    def field_named(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def after(self, name: str) -> str:
        names = [f.name for f in self.fields]
        index = names.index(name) + 1
        return names[index] if index < len(names) else CONFIRM


@dataclass(frozen=True)
class Ask:
    """The next question (with the error that sent us back to it, if any) and, for a
    question answered with buttons, its options (label, value), already resolved."""

    spec: FormSpec
    field: Field
    data: dict[str, Any]
    error: FieldError | None = None
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Confirm:
    spec: FormSpec
    data: dict[str, Any]
    error: FieldError | None = None


Step = Ask | Confirm


def typed_text(text: str) -> str:
    """Typed text without control characters, line breaks and tabs kept: a NUL in an
    answer crashed PostgreSQL on save (text cannot hold it), and none is ever meant."""
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")


class Forms:
    """The forms the bot knows, and what can be done with a person's draft. One per
    process, built by the composition root; every method works inside the caller's unit
    of work and never talks to Telegram."""

    def __init__(self, specs: Sequence[FormSpec] = ()) -> None:
        self._specs: dict[str, FormSpec] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: FormSpec) -> FormSpec:
        if spec.name in self._specs:
            raise ValueError(f"two forms named {spec.name!r}")
        self._specs[spec.name] = spec
        return spec

    def get(self, name: str | None) -> FormSpec | None:
        return self._specs.get(name) if name else None

    async def begin(
        self, session: AsyncSession, person: Person, spec: FormSpec,
        data: dict[str, Any] | None = None, *, start_at: str | None = None,
    ) -> Step:  # fmt: skip
        """Start (or restart) a form; Refused when this person may not fill it in."""
        if self.get(spec.name) is not spec:
            raise ValueError(f"form {spec.name!r} is not registered")
        await check_access(session, person, spec, data or {})
        first = start_at or spec.fields[0].name
        draft = await repo.put_draft(session, person.id, spec.name, first, data or {})
        return await _step(session, spec, draft.step, draft.data, None, person.language)

    async def current(self, session: AsyncSession, user_id: int, lang: str) -> Step | None:
        draft = await repo.get_draft(session, user_id)
        if draft is None:
            return None
        spec = self.get(draft.form)
        if spec is None:  # a form that no longer exists: forget it
            await repo.drop_draft(session, user_id)
            return None
        return await _step(session, spec, draft.step, draft.data, None, lang)

    async def give(
        self, session: AsyncSession, user_id: int, ctx: ParseContext, *,
        text: str | None = None, choice: str | None = None,
        expected_step: str | None = None, media: dict[str, Any] | None = None,
    ) -> Step | None:  # fmt: skip
        """Answer the current question with typed text, a button's value or a file."""
        draft = await repo.get_draft(session, user_id)
        spec = self.get(draft.form) if draft else None
        if draft is None or spec is None:
            return None
        if expected_step is not None and expected_step != draft.step:
            return None  # a button from an earlier question: stale
        data = dict(draft.data)
        current = spec.field_named(draft.step)
        if media is not None and spec.attach is not None:
            return await self._attach(session, user_id, spec, draft.step, data, media, ctx)
        if current is None:
            return await _step(session, spec, draft.step, data, None, ctx.lang)
        options = await _options(session, current, data, ctx.lang)
        try:
            if choice not in (None, SKIP) and choice not in {value for _, value in options}:
                return None  # not one of this question's buttons: stale or forged
            _answer(current, data, ctx, text=text, choice=choice, media=media, options=options)
        except FieldError as error:
            return Ask(spec, current, data, error, options)
        back_to_confirm = bool(data.pop("_return_to_confirm", False))
        next_step = CONFIRM if back_to_confirm else spec.after(current.name)
        await repo.put_draft(session, user_id, spec.name, next_step, data)
        return await _step(session, spec, next_step, data, None, ctx.lang)

    async def _attach(
        self, session: AsyncSession, user_id: int, spec: FormSpec, step: str,
        data: dict[str, Any], media: dict[str, Any], ctx: ParseContext,
    ) -> Step:  # fmt: skip
        """A file for a form that takes files: kept, and the same step asked again."""
        assert spec.attach is not None
        try:
            spec.attach(data, media)
        except FieldError as error:
            return await _step(session, spec, step, data, error, ctx.lang)
        await repo.put_draft(session, user_id, spec.name, step, data)
        return await _step(session, spec, step, data, None, ctx.lang)

    async def reopen(
        self, session: AsyncSession, user_id: int, field_name: str, lang: str
    ) -> Step | None:
        """From the confirmation, go back to one field; answering it returns to confirm."""
        draft = await repo.get_draft(session, user_id)
        spec = self.get(draft.form) if draft else None
        if draft is None or spec is None or draft.step != CONFIRM:
            return None
        if spec.field_named(field_name) is None:
            return None
        data = dict(draft.data, _return_to_confirm=True)
        await repo.put_draft(session, user_id, spec.name, field_name, data)
        return await _step(session, spec, field_name, data, None, lang)

    async def finish(
        self, session: AsyncSession, person: Person, settings: Settings
    ) -> Saved | Confirm | None:
        """Save a confirmed form; Confirm again (with the error) if it does not validate;
        access.Refused when it cannot be finished at all."""
        draft = await repo.get_draft(session, person.id)
        spec = self.get(draft.form) if draft else None
        if draft is None or spec is None or draft.step != CONFIRM:
            return None
        await check_access(session, person, spec, draft.data)
        # Bookkeeping keys stay out; `_then` (what follows the form) is passed on.
        data = {k: v for k, v in draft.data.items() if not k.startswith("_") or k == "_then"}
        try:
            if spec.validate is not None:
                spec.validate(data)
            saved = await spec.save(session, person, data, settings)
        except access.Refused:
            raise  # not a wrong answer: the form cannot be finished (handlers end it)
        except FieldError as error:
            return Confirm(spec, dict(draft.data), error)  # labels kept for the check screen
        await repo.drop_draft(session, person.id)
        return saved

    async def allowed(self, session: AsyncSession, person: Person) -> bool:
        """May this person go on with their draft? (A role lost, an inquiry reassigned
        since the form began: no.) True when there is no draft."""
        draft = await repo.get_draft(session, person.id)
        spec = self.get(draft.form) if draft else None
        if draft is None or spec is None:
            return True
        try:
            await check_access(session, person, spec, draft.data)
        except access.Refused:
            return False
        return True

    async def cancel(self, session: AsyncSession, user_id: int) -> bool:
        return await repo.drop_draft(session, user_id)

    async def pause(self, session: AsyncSession, user_id: int) -> bool:
        """The person left the form (a command, a menu button, a link): it waits, and
        their next text is not taken as its answer. True if it was running."""
        return await repo.set_paused(session, user_id, True)

    async def resume(self, session: AsyncSession, user_id: int, lang: str) -> Step | None:
        """Take a paused form up again at the step it was left; None when there is none
        or it waited longer than PAUSED_FORM_TTL (then it is dropped)."""
        draft = await repo.get_draft(session, user_id)
        if draft is None:
            return None
        if draft.paused and utcnow() - draft.updated_at > PAUSED_FORM_TTL:
            await repo.drop_draft(session, user_id)
            return None
        await repo.set_paused(session, user_id, False)
        return await self.current(session, user_id, lang)

    async def last_prompt(self, session: AsyncSession, user_id: int) -> tuple[int, int] | None:
        """(chat, message) of the form's last question, whose buttons must go next."""
        draft = await repo.get_draft(session, user_id)
        if draft is None or draft.prompt_chat_id is None or draft.prompt_message_id is None:
            return None
        return draft.prompt_chat_id, draft.prompt_message_id

    async def prompted(
        self, session: AsyncSession, user_id: int, chat_id: int, message_id: int
    ) -> None:
        await repo.set_prompt(session, user_id, chat_id, message_id)


async def _options(
    session: AsyncSession, current: Field, data: dict[str, Any], lang: str
) -> tuple[tuple[str, str], ...]:
    if current.choices is None:
        return ()
    return tuple(await current.choices(session, lang, data))


async def _step(
    session: AsyncSession, spec: FormSpec, step: str, data: dict[str, Any],
    error: FieldError | None, lang: str,
) -> Step:  # fmt: skip
    if step == CONFIRM:
        return Confirm(spec, data, error)
    current = spec.field_named(step) or spec.fields[0]  # a form that changed shape: start
    return Ask(spec, current, data, error, await _options(session, current, data, lang))


def _answer(
    current: Field, data: dict[str, Any], ctx: ParseContext, *, text: str | None,
    choice: str | None, media: dict[str, Any] | None, options: tuple[tuple[str, str], ...],
) -> None:  # fmt: skip
    """Put the answer into `data`, or raise FieldError with what is wrong with it."""
    if media is not None:
        if not current.accepts_media:
            raise FieldError("form.text_please")
        data[current.name] = media
    elif choice == SKIP:
        if not current.optional:
            raise FieldError("form.required")
        data.pop(current.name, None)
    elif choice is not None:
        data[current.name] = choice
        data[f"_{current.name}_label"] = dict((v, k) for k, v in options)[choice]
    else:
        _typed(current, data, ctx, text or "")
    if current.check is not None:
        current.check(data)


def _typed(current: Field, data: dict[str, Any], ctx: ParseContext, text: str) -> None:
    if current.choices is not None and not current.free_text:
        raise FieldError("form.use_buttons")
    value = typed_text(text).strip()
    if not value:
        raise FieldError("form.required")
    if current.optional and value == "-":
        data.pop(current.name, None)
    elif current.parse_in is not None:
        data[current.name] = current.parse_in(value, ctx)
    else:
        data[current.name] = current.parse(value)


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
