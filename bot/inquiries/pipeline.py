"""The staff's side of an inquiry: answers relayed to the contact, status changes (the
contact is told), assignment, and the staff view with the contact's details. Every act
asks the permission path (bot/people/roles.py) for this inquiry, and is audited in the
same unit of work as the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.engines import outbox
from bot.inquiries import service as inquiries
from bot.inquiries import staff_thread
from bot.inquiries import views as render
from bot.inquiries.service import InquiryError, message_text
from bot.people import audit
from bot.people import roles as access
from bot.people.audit import Action
from bot.people.person import Person, effective_role
from bot.people.roles import Act
from bot.settings import Settings
from storage import inquiries as repo
from storage import next_steps as steps_repo
from storage import users as users_repo
from storage.models import (
    EnterpriseProfile,
    Inquiry,
    InquiryEvent,
    InquiryStatus,
    NextStep,
    Program,
    Role,
    User,
    utcnow,
)


def _mark_answered(inquiry: Inquiry, now: datetime) -> None:
    if inquiry.first_response_at is None:
        inquiry.first_response_at = now


def _moved(old: InquiryStatus, new: InquiryStatus) -> str:
    """A status change inside an audit detail, in the reader's language."""
    return audit.change("istatus.", old.value, new.value)


async def staff_reply(
    session: AsyncSession, settings: Settings, staff: Person, inquiry_id: int, text: str,
    *, echo: bool = True,
) -> Inquiry:  # fmt: skip
    """An answer from staff, relayed to the contact; a new inquiry becomes contacted.
    With `echo` (an answer given away from the staff chat: the Reply button) the staff
    chat sees it too, under the card."""
    inquiry = await access.inquiry(session, staff, Act.WORK_INQUIRY, inquiry_id, lock=True)
    if inquiry.user_id is None:  # the contact used /forget: nobody to answer, nothing kept
        raise InquiryError("forget.no_reply")
    body = message_text(text)
    if not body:
        raise InquiryError("question.empty")
    now = utcnow()
    _mark_answered(inquiry, now)
    first = inquiry.status is InquiryStatus.NEW  # the first answer moves it on
    moved = _moved(InquiryStatus.NEW, InquiryStatus.CONTACTED) if first else ""
    await audit.record(session, staff.id, Action.INQUIRY_REPLY, f"inquiry:{inquiry.id}", moved)
    was = inquiry.status
    if inquiry.status is InquiryStatus.NEW:
        inquiry.status = InquiryStatus.CONTACTED
    inquiry.updated_at = now
    await repo.add_event(
        session,
        InquiryEvent(inquiry_id=inquiry.id, actor_id=staff.id, kind="reply", text=body),
    )
    if inquiry.user_id is not None:
        contact = await users_repo.get_user(session, inquiry.user_id)
        if contact is not None:
            program = await inquiries.program_of(session, inquiry)
            name = staff.first_name if settings.show_staff_names else None
            text_out, keyboard = render.answer_to_contact(
                contact.language, inquiry, program, body, name
            )
            await outbox.queue(
                session, contact.id, outbox.payload_text(text_out, keyboard),
                ref=f"inquiry:{inquiry.id}",
            )  # fmt: skip
    if echo:
        posted = render.answer_for_staff(settings.default_language, inquiry, staff.first_name, body)
        await staff_thread.post_under_card(
            session, settings, inquiry.id, outbox.payload_text(posted)
        )
    await staff_thread.changed(session, settings, inquiry, was=was)
    await staff_thread.receipt(session, inquiry, staff_thread.ANSWERED)
    return inquiry


async def set_status(
    session: AsyncSession, settings: Settings, staff: Person, inquiry_id: int, value: str
) -> Inquiry:
    """A status as a button carries it ("meeting"): anything else is a forged button."""
    if value not in InquiryStatus._value2member_map_:
        raise access.Refused()
    return await change_status(session, settings, staff, inquiry_id, InquiryStatus(value))


async def change_status(
    session: AsyncSession, settings: Settings, staff: Person, inquiry_id: int,
    status: InquiryStatus,
) -> Inquiry:  # fmt: skip
    inquiry = await access.inquiry(session, staff, Act.WORK_INQUIRY, inquiry_id, lock=True)
    if inquiry.status is status:
        return inquiry
    now = utcnow()
    detail = _moved(inquiry.status, status)
    await audit.record(session, staff.id, Action.INQUIRY_STATUS, f"inquiry:{inquiry.id}", detail)
    was, inquiry.status = inquiry.status, status
    inquiry.updated_at = now
    _mark_answered(inquiry, now)
    await repo.add_event(
        session,
        InquiryEvent(inquiry_id=inquiry.id, actor_id=staff.id, kind="status", status=status),
    )
    if inquiry.user_id is not None:
        contact = await users_repo.get_user(session, inquiry.user_id)
        if contact is not None:
            program = await inquiries.program_of(session, inquiry)
            await outbox.queue(
                session, contact.id,
                outbox.payload_text(render.status_to_contact(contact.language, inquiry, program)),
                ref=f"inquiry:{inquiry.id}",
            )  # fmt: skip
    await staff_thread.changed(session, settings, inquiry, was=was)
    return inquiry


async def assign_to(
    session: AsyncSession, settings: Settings, staff: Person, inquiry_id: int,
    assignee_id: int | None = None,
) -> Inquiry:  # fmt: skip
    """Assign the inquiry to the staff member acting (the card's "assign me"), or, when
    `assignee_id` names someone else, to that teacher or admin: admins only (a teacher
    assigning a colleague is refused, as is anyone who is not staff)."""
    inquiry = await access.inquiry(session, staff, Act.WORK_INQUIRY, inquiry_id, lock=True)
    target, name = staff.id, staff.first_name
    if assignee_id is not None and assignee_id != staff.id:
        if not staff.is_admin:
            raise access.Refused()
        user = await users_repo.get_user(session, assignee_id)
        if (
            user is None
            or effective_role(user.id, user.role, settings.admin_ids) is Role.ENTERPRISE
        ):
            raise access.Refused()
        target, name = user.id, user.first_name
    now = utcnow()
    detail = f"{name} ({target})"
    await audit.record(session, staff.id, Action.INQUIRY_ASSIGN, f"inquiry:{inquiry.id}", detail)
    inquiry.assignee_id = target
    inquiry.updated_at = now
    _mark_answered(inquiry, now)
    # Assigned to someone else: the event keeps whom (its actor is who assigned).
    await repo.add_event(
        session,
        InquiryEvent(
            inquiry_id=inquiry.id, actor_id=staff.id, kind="assigned", public=False,
            text="" if target == staff.id else str(target),
        ),
    )  # fmt: skip
    await staff_thread.changed(session, settings, inquiry)
    await staff_thread.receipt(session, inquiry, staff_thread.SEEN)
    return inquiry


@dataclass(frozen=True)
class StaffView:
    inquiry: Inquiry
    program: Program | None


async def staff_view(
    session: AsyncSession, settings: Settings, staff: Person, inquiry_id: int
) -> StaffView:
    inquiry = await access.inquiry(session, staff, Act.SEE_INQUIRY, inquiry_id)
    program = await inquiries.program_of(session, inquiry)
    return StaffView(inquiry, program)


async def relay(
    session: AsyncSession, settings: Settings, person: Person, inquiry_id: int, text: str,
    *, in_staff_chat: bool, message_id: int | None = None,
) -> str:  # fmt: skip
    """A Telegram reply to one of our messages about an inquiry: a staff answer (from
    staff, or anyone in the staff chat, whose right the permission path decides), or the
    contact writing back. Returns the key of the confirmation to show."""
    if person.is_staff or in_staff_chat:
        # Said in the staff chat, it is there already; said privately, it is echoed.
        await staff_reply(session, settings, person, inquiry_id, text, echo=not in_staff_chat)
        return "staffreply.sent"
    await inquiries.follow_up(session, settings, person, inquiry_id, text, message_id=message_id)
    return "followup.sent"


async def opened(session: AsyncSession, settings: Settings, staff: Person, inquiry_id: int) -> None:
    """A staff member opened the inquiry (a button of its card): the contact's message
    gets its 👀 receipt."""
    inquiry = await access.inquiry(session, staff, Act.SEE_INQUIRY, inquiry_id)
    await staff_thread.receipt(session, inquiry, staff_thread.SEEN)


async def topic_reply(
    session: AsyncSession, settings: Settings, person: Person, chat_id: int, thread_id: int,
    text: str,
) -> int | None:  # fmt: skip
    """A plain message in an inquiry's forum topic is an answer to its contact (the
    permission path decides, as for any answer). None if the topic is no inquiry's."""
    inquiry_id = await staff_thread.thread_inquiry(session, chat_id, thread_id)
    if inquiry_id is not None:
        await staff_reply(session, settings, person, inquiry_id, text, echo=False)
    return inquiry_id


@dataclass(frozen=True)
class StaffCard:
    """Everything the staff card of an inquiry shows."""

    inquiry: Inquiry
    program: Program | None
    profile: EnterpriseProfile | None
    contact: User | None
    steps: list[NextStep]


async def staff_card(
    session: AsyncSession, settings: Settings, staff: Person, inquiry_id: int
) -> StaffCard:
    view = await staff_view(session, settings, staff, inquiry_id)
    inquiry = view.inquiry
    profile = await repo.get_profile(session, inquiry.user_id) if inquiry.user_id else None
    contact = await users_repo.get_user(session, inquiry.user_id) if inquiry.user_id else None
    steps = await steps_repo.steps_of_inquiry(session, inquiry.id)
    return StaffCard(inquiry, view.program, profile, contact, steps)
