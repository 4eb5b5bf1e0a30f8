"""The forms of the pipeline: enterprise profile (with consent), register interest,
ask a question, a contact's follow-up, and a staff answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.formats import validate
from bot.forms import engine as forms
from bot.forms import views as form_views
from bot.forms.engine import Field, FormSpec, Saved, Start
from bot.inquiries import attachments, pipeline
from bot.inquiries import service as inquiries
from bot.inquiries.limits import message_limit
from bot.people import roles as access
from bot.people.person import Person
from bot.people.roles import Act
from bot.settings import Settings
from bot.ui.errors import FieldError
from bot.ui.i18n import localized, t
from bot.ui.text import Html, Part, Plain, labelled, tr
from storage import inquiries as repo
from storage.models import EnterpriseProfile, utcnow

# Refused over the limit at the form step, before anything is confirmed: a message is
# relayed whole or not at all (bot/inquiry_limits.py computes how long it may be).
MESSAGE = validate.long_text(message_limit, "form.message_too_long")
PROFILE_FIELDS = ("organization", "contact_person", "phone", "email", "industry")


async def _consent_choices(
    _session: AsyncSession, lang: str, _data: dict[str, Any]
) -> Sequence[tuple[str, str]]:
    return [(t(lang, "profile.agree"), "yes")]


def _profile_summary(lang: str, data: dict[str, Any]) -> Html:
    return Html.join(
        "\n",
        [
            labelled(lang, "pfield." + name, Plain(str(data[name])))
            for name in PROFILE_FIELDS
            if data.get(name)
        ],
    )


def _phone_or_email(data: dict[str, Any]) -> None:
    if not (data.get("phone") or data.get("email")):
        raise FieldError("profile.need_contact")


async def save_profile(
    session: AsyncSession, person: Person, data: dict[str, Any], settings: Settings
) -> Saved:
    await repo.put_profile(
        session,
        EnterpriseProfile(
            user_id=person.id,
            organization=str(data["organization"]),
            contact_person=str(data["contact_person"]),
            phone=str(data.get("phone", "")),
            email=str(data.get("email", "")),
            industry=str(data.get("industry", "")),
            consent_at=utcnow(),
            updated_at=utcnow(),
        ),
    )
    then = str(data.get("_then", ""))
    if then.startswith("interest:"):
        ids = [int(x) for x in then.split(":", 1)[1].split(",") if x.isdigit()]
        then_data = await _about_programs(session, ids, {"program_ids": ids})
        return Saved("profile.saved", then_form="interest", then_data=then_data)
    return Saved("profile.saved")


async def _about_programs(
    session: AsyncSession, ids: list[int], data: dict[str, Any]
) -> dict[str, Any]:
    """The form data with the programmes' titles (both languages) for its check screen,
    which is drawn without a database."""
    found = await repo.programs_by_ids(session, ids)
    titles = [[found[i].title_zh, found[i].title_en] for i in ids if i in found]
    return dict(data, _programs=titles)


def _programs_line(lang: str, data: dict[str, Any]) -> list[Part]:
    titles = data.get("_programs") or []
    if not titles:
        return []
    names = "; ".join(localized(lang, str(zh), str(en)) for zh, en in titles)
    return [tr(lang, "form.about_programs", titles=Plain(names)), ""]


PROFILE = FormSpec(
    name="profile",
    title="profile.form_title",
    fields=(
        Field("consent", "profile.ask_consent", choices=_consent_choices),
        Field("organization", "profile.ask_organization", validate.short_text(200)),
        Field("contact_person", "profile.ask_contact_person", validate.short_text(100)),
        Field("phone", "profile.ask_phone", validate.phone, optional=True,
              accepts_contact=True),
        # Phone or email: asked here, where it concerns, not at Save.
        Field("email", "profile.ask_email", validate.email, optional=True,
              check=_phone_or_email),
        Field("industry", "profile.ask_industry", validate.short_text(100), optional=True),
    ),
    summary=_profile_summary,
    save=save_profile,
    validate=_phone_or_email,
)  # fmt: skip


async def profile_data(session: AsyncSession, user_id: int) -> dict[str, Any] | None:
    """An existing profile as form data (to edit it from the confirmation screen)."""
    profile = await repo.get_profile(session, user_id)
    if profile is None:
        return None
    data: dict[str, Any] = {"consent": "yes"}
    for name in PROFILE_FIELDS:
        value = getattr(profile, name)
        if value:
            data[name] = value
    return data


def _message_summary(lang: str, data: dict[str, Any]) -> Html | str:
    """The message (and, for an interest or a question on one, the programmes named)."""
    text = str(data.get("message", ""))
    body: Html | str = (
        tr(lang, "interest.your_message", text=Plain(text))
        if text
        else t(lang, "interest.no_message")
    )
    lines = _programs_line(lang, data)
    files = form_views.attached(lang, data)
    tail: list[Part] = [files] if files is not None else []
    return Html.join("\n", [*lines, body, *tail]) if lines or tail else body


def _interest_summary(lang: str, data: dict[str, Any]) -> Html | str:
    return _message_summary(lang, data)


async def save_interest(
    session: AsyncSession, person: Person, data: dict[str, Any], settings: Settings
) -> Saved:
    ids = [int(x) for x in data.get("program_ids", [])]
    result = await inquiries.register_interest(
        session, settings, person, ids, str(data.get("message", "")),
        source=str(data.get("source") or "") or None,
    )  # fmt: skip
    programs = await repo.programs_by_ids(session, ids)
    lang = person.language
    lines: list[Part] = []
    if result.created:
        lines.append(t(lang, "interest.sent_head"))
        for inquiry in result.created:
            program = programs.get(inquiry.program_id or 0)
            title = localized(lang, program.title_zh, program.title_en) if program else ""
            lines.append(Html(f"• #{inquiry.id} ", Plain(title)))
        if data.get("message"):
            lines.append(tr(lang, "interest.your_message", text=Plain(str(data["message"]))))
        hours = f"{settings.first_response_hours:g}"
        lines.append("\n" + t(lang, "interest.next_steps", hours=hours))
    for program, inquiry in result.already:
        title = localized(lang, program.title_zh, program.title_en)
        lines.append(tr(lang, "interest.already", id=inquiry.id, title=Plain(title)))
    if not lines:
        lines.append(t(lang, "interest.nothing"))
    await repo.clear_basket(session, person.id, [i.program_id or 0 for i in result.created])
    # A long basket and a long message together may not fit: titles and the echo give
    # way (the inquiries themselves hold everything).
    return Saved("interest.sent_head", html=Html.join("\n", lines).fit())


INTEREST = FormSpec(
    name="interest",
    title="interest.form_title",
    fields=(
        Field("message", "interest.ask_message", MESSAGE,
              optional=True),
    ),
    summary=_interest_summary,
    save=save_interest,
    verb="form.send",
)  # fmt: skip


def _message_form(
    name: str, title: str, prompt: str, save: forms.Save, act: Act | None = None,
    attach: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
) -> FormSpec:  # fmt: skip
    """A one-question form whose answer is a message (refused if too long to relay);
    with `act`, one on the inquiry in the data's `inquiry_id`."""
    return FormSpec(
        name=name,
        title=title,
        act=act,
        subject="inquiry_id" if act is not None else None,
        fields=(Field("message", prompt, MESSAGE),),
        summary=_message_summary,
        save=save,
        verb="form.send",
        attach=attach,
    )


async def save_question(
    session: AsyncSession, person: Person, data: dict[str, Any], settings: Settings
) -> Saved:
    program_id = data.get("program_id")
    inquiry = await inquiries.ask_question(
        session, settings, person, int(program_id) if program_id else None,
        str(data.get("message", "")), attachments=attachments.kept(data.get("attachments")),
    )  # fmt: skip
    return Saved("question.sent", {"id": inquiry.id})


# A file sent while asking goes with the question (bot/inquiries/attachments.py).
QUESTION = _message_form(
    "question", "question.form_title", "question.ask", save_question,
    attach=attachments.attach,
)  # fmt: skip


async def save_follow_up(
    session: AsyncSession, person: Person, data: dict[str, Any], settings: Settings
) -> Saved:
    inquiry = await inquiries.follow_up(
        session, settings, person, int(data["inquiry_id"]), str(data["message"])
    )
    return Saved("followup.sent", {"id": inquiry.id})


FOLLOW_UP = _message_form(
    "follow_up", "followup.form_title", "followup.ask", save_follow_up, Act.OWN_INQUIRY
)


async def save_staff_reply(
    session: AsyncSession, person: Person, data: dict[str, Any], settings: Settings
) -> Saved:
    inquiry = await pipeline.staff_reply(
        session, settings, person, int(data["inquiry_id"]), str(data["message"])
    )
    return Saved("staffreply.sent", {"id": inquiry.id})


STAFF_REPLY = _message_form(
    "staff_reply",
    "staffreply.form_title",
    "staffreply.ask",
    save_staff_reply,
    Act.WORK_INQUIRY,
)


# How each of these forms begins ------------------------------------------------------------


async def interest_start(session: AsyncSession, person: Person, program_ids: list[int]) -> Start:
    """Interest in open programmes the person may see (access.Refused otherwise); the
    profile first when there is none yet, with the interest to follow."""
    # A repeat is caught here, before the form (raises InquiryError when all are).
    program_ids = await inquiries.repeat_interest(session, person, program_ids)
    if await repo.get_profile(session, person.id) is not None:
        return Start(INTEREST, await _about_programs(session, program_ids, {
            "program_ids": program_ids}))  # fmt: skip
    return Start(PROFILE, {"_then": "interest:" + ",".join(str(i) for i in program_ids)})


async def basket_start(session: AsyncSession, person: Person) -> Start | None:
    """Interest in every programme of the person's list; None when the list is empty."""
    ids = [p.id for p in await inquiries.basket_programs(session, person)]
    return await interest_start(session, person, ids) if ids else None


async def question_start(
    session: AsyncSession, person: Person, program_id: int | None,
    files: list[dict[str, Any]] | None = None, text: str | None = None,
) -> Start:  # fmt: skip
    """A question, general (None or 0) or about a programme the person may see; with
    `files` (sent outside a form) already attached, and with `text` (their caption)
    straight to the check screen."""
    data: dict[str, Any] = {"program_id": None}
    if program_id:
        await access.program(session, person, program_id)
        data = await _about_programs(session, [program_id], {"program_id": program_id})
    for file in files or []:
        attachments.attach(data, file)
    if text and text.strip():
        data["message"] = MESSAGE(forms.typed_text(text).strip())
        return Start(QUESTION, data, start_at=forms.CONFIRM)
    return Start(QUESTION, data)


async def follow_up_start(session: AsyncSession, person: Person, inquiry_id: int) -> Start:
    await access.inquiry(session, person, Act.OWN_INQUIRY, inquiry_id)
    return Start(FOLLOW_UP, {"inquiry_id": inquiry_id})


async def profile_start(session: AsyncSession, person: Person) -> Start:
    """The profile form; with a profile already, straight to its check screen, where any
    answer can be changed."""
    data = await profile_data(session, person.id)
    if data is None:
        return Start(PROFILE)
    return Start(PROFILE, data, start_at=forms.CONFIRM)
