"""Typed ORM models. Each feature's tables arrive with it, each with its migration."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    false,
)
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back an aware UTC datetime (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Role(enum.StrEnum):
    ENTERPRISE = "enterprise"
    TEACHER = "teacher"
    ADMIN = "admin"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings (no native ENUM type) so adding a value needs no DDL dance.
    return Enum(cls, name=name, native_enum=False, length=20, values_callable=_values)


def _values(cls: type[enum.Enum]) -> list[str]:
    return [str(m.value) for m in cls]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_name: Mapped[str] = mapped_column(String(256), default="")
    last_name: Mapped[str | None] = mapped_column(String(256))
    username: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    language_chosen: Mapped[bool] = mapped_column(default=False)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.ENTERPRISE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opted_out: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (Index("ix_users_role", "role"),)


class Invite(Base):
    """A one-time deep-link token that turns whoever opens it into a teacher (or admin)."""

    __tablename__ = "invites"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    created_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # by an admin, /invites


class ProgramKind(enum.StrEnum):
    JOINT_RESEARCH = "joint_research"
    TECH_TRANSFER = "tech_transfer"
    INTERNSHIP = "internship"
    CO_BUILT_MAJOR = "co_built_major"
    INCUBATION = "incubation"
    TRAINING = "training"
    TEACHER_PRACTICE = "teacher_practice"
    EXPERT_LECTURE = "expert_lecture"


class ProgramStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    name_en: Mapped[str] = mapped_column(String(200), default="")


class Program(Base):
    """A cooperation programme. `code` is the stable key that imports upsert by."""

    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[ProgramKind] = mapped_column(_enum(ProgramKind, "program_kind"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    status: Mapped[ProgramStatus] = mapped_column(
        _enum(ProgramStatus, "program_status"), default=ProgramStatus.DRAFT
    )
    title_zh: Mapped[str] = mapped_column(String(200), default="")
    title_en: Mapped[str] = mapped_column(String(200), default="")
    summary_zh: Mapped[str] = mapped_column(Text, default="")
    summary_en: Mapped[str] = mapped_column(Text, default="")
    benefits_zh: Mapped[str] = mapped_column(Text, default="")
    benefits_en: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[str] = mapped_column(String(500), default="")
    contact: Mapped[str] = mapped_column(String(300), default="")
    owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    # Lower-cased title, summary, tags and department in both languages: one LIKE finds
    # Chinese substrings and English words alike.
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_programs_status_kind_id", "status", "kind", "id"),
        Index("ix_programs_status_department_id_id", "status", "department_id", "id"),
        Index("ix_programs_owner_id", "owner_id"),
        Index("ix_programs_updated_at", "updated_at"),  # the search cache's version check
    )


class SavedSearch(Base):
    """A search someone ran; result buttons refer to it by id (queries don't fit in
    callback data), so paging still works after a restart."""

    __tablename__ = "saved_searches"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    query: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FormDraft(Base):
    """A half-filled form, one per user, saved at every step so it survives a restart
    and can be continued by any instance."""

    __tablename__ = "form_drafts"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    form: Mapped[str] = mapped_column(String(40))
    step: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # Left for a command, a menu button or a link: the next text is not an answer.
    paused: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The last question sent, so its buttons can be taken off when the next one comes.
    prompt_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    prompt_message_id: Mapped[int | None] = mapped_column(BigInteger)


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed under a lease; an expired lease makes it claimable again
    SENT = "sent"
    FAILED = "failed"  # gave up after bounded retries; the error is kept
    BLOCKED = "blocked"  # the recipient blocked the bot (403)
    CANCELLED = "cancelled"
    HELD = "held"  # a paused broadcast's delivery, waiting to be resumed


class OutboxMessage(Base):
    """Everything the bot sends on its own goes through here and one sender."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(30), default="sendMessage")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    priority: Mapped[int] = mapped_column(default=5)  # lower goes first
    not_before: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    state: Mapped[OutboxState] = mapped_column(
        _enum(OutboxState, "outbox_state"), default=OutboxState.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(60))
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    ref: Mapped[str | None] = mapped_column(String(60))  # what it is about: "inquiry:12"
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_outbox_claim", "state", "priority", "not_before", "id"),
        Index("ix_outbox_chat_message", "chat_id", "message_id"),
        Index("ix_outbox_ref", "ref"),
    )


class InquiryStatus(enum.StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    MEETING = "meeting"
    AGREEMENT = "agreement"
    DECLINED = "declined"
    CLOSED = "closed"


OPEN_INQUIRY_STATUSES = (
    InquiryStatus.NEW,
    InquiryStatus.CONTACTED,
    InquiryStatus.MEETING,
)


class InquiryKind(enum.StrEnum):
    INTEREST = "interest"
    QUESTION = "question"


class EnterpriseProfile(Base):
    __tablename__ = "enterprise_profiles"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    organization: Mapped[str] = mapped_column(String(200))
    contact_person: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    industry: Mapped[str] = mapped_column(String(100), default="")
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Inquiry(Base):
    __tablename__ = "inquiries"

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL once the contact used /forget: the inquiry stays, anonymous.
    user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id", ondelete="SET NULL"))
    kind: Mapped[InquiryKind] = mapped_column(_enum(InquiryKind, "inquiry_kind"))
    message: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str | None] = mapped_column(String(64))
    organization: Mapped[str] = mapped_column(String(200), default="")  # as it was then
    status: Mapped[InquiryStatus] = mapped_column(
        _enum(InquiryStatus, "inquiry_status"), default=InquiryStatus.NEW
    )
    assignee_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalation: Mapped[int] = mapped_column(default=0)  # 0 none, 1 owner reminded, 2 admins
    # When the last quiet spell was nudged (bot/inquiries/stale.py): an event after it
    # starts a new spell.
    quiet_nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_inquiries_user_id", "user_id"),
        Index("ix_inquiries_status_created_at", "status", "created_at"),
        Index("ix_inquiries_program_id", "program_id"),
        # The Mini App's board counts its columns under programme and assignee filters
        # from this one, and its charts read the weeks from the next, never the rows
        # (migration 0016).
        Index("ix_inquiries_status_program_assignee", "status", "program_id", "assignee_id"),
        Index("ix_inquiries_created_response", "created_at", "first_response_at"),
    )


class InquiryEvent(Base):
    """The timeline of an inquiry; `public` events are shown to the contact in /my."""

    __tablename__ = "inquiry_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(20))  # created, status, assigned, reply, follow_up
    status: Mapped[InquiryStatus | None] = mapped_column(_enum(InquiryStatus, "inquiry_status"))
    text: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Files sent with it, forwarded by file_id (never downloaded): a list of
    # {"kind", "file_id", "name", "size"} (bot/inquiries/attachments.py).
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # The contact's own Telegram message this event came from (its receipt is a reaction).
    message_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_inquiry_events_inquiry_id", "inquiry_id", "id"),
        # An inquiry's last event in one index step (bot/inquiries/stale.py).
        Index("ix_inquiry_events_inquiry_created", "inquiry_id", "created_at"),
    )


class StaffCard(Base):
    """Where an inquiry's card is in a staff chat: its message, and its forum topic."""

    __tablename__ = "staff_cards"

    inquiry_id: Mapped[int] = mapped_column(
        ForeignKey("inquiries.id", ondelete="CASCADE"), primary_key=True
    )
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger)  # None: not (or no more) posted
    thread_id: Mapped[int | None] = mapped_column(BigInteger)  # None: no topic (yet)
    edits: Mapped[int] = mapped_column(default=0)  # versions of the card queued as edits
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_staff_cards_thread", "chat_id", "thread_id"),)


class BasketItem(Base):
    """Programmes a contact collected to register interest in together."""

    __tablename__ = "interest_basket"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    program_id: Mapped[int] = mapped_column(
        ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StepStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class NextStep(Base):
    """An agreed next step on an inquiry: what, who, by when."""

    __tablename__ = "next_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    note: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[StepStatus] = mapped_column(
        _enum(StepStatus, "step_status"), default=StepStatus.OPEN
    )
    created_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_next_steps_owner_status_due", "owner_id", "status", "due_at"),
        Index("ix_next_steps_inquiry_id", "inquiry_id"),
        Index("ix_next_steps_status_due", "status", "due_at"),
    )


class ReminderState(enum.StrEnum):
    PENDING = "pending"
    QUEUED = "queued"  # handed to the outbox (which delivers it at least once)
    MERGED = "merged"  # fell due together with a later one of its step: said in that one
    CANCELLED = "cancelled"


class Reminder(Base):
    """One reminder of a next step; the database is the truth for what is due."""

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("next_steps.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # before:<seconds> | due | overdue:<n> | snooze
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[ReminderState] = mapped_column(
        _enum(ReminderState, "reminder_state"), default=ReminderState.PENDING
    )
    late: Mapped[bool] = mapped_column(default=False)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outbox_id: Mapped[int | None] = mapped_column()

    __table_args__ = (
        Index("ix_reminders_state_due_at", "state", "due_at"),
        Index("ix_reminders_step_id", "step_id"),
    )


class EngineMark(Base):
    """Once-only work (a day's digest, a week's overview): the first instance to insert
    the key does it; everyone else sees the key and does nothing."""

    __tablename__ = "engine_marks"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BroadcastStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


class Broadcast(Base):
    """An announcement. Its deliveries are outbox rows (ref "broadcast:<id>", one per
    recipient by dedupe key), so they share the outbox's crash safety and rate limit."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text)
    media_kind: Mapped[str | None] = mapped_column(String(10))  # photo | document
    media_file_id: Mapped[str | None] = mapped_column(String(200))
    button_text: Mapped[str | None] = mapped_column(String(64))
    button_url: Mapped[str | None] = mapped_column(String(300))
    segment: Mapped[str] = mapped_column(String(60))
    status: Mapped[BroadcastStatus] = mapped_column(
        _enum(BroadcastStatus, "broadcast_status"), default=BroadcastStatus.DRAFT
    )
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    total: Mapped[int] = mapped_column(default=0)
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_broadcasts_status_scheduled_at", "status", "scheduled_at"),)


class AuditEntry(Base):
    """Who did what to what, and when: one row per admin or staff action, written in the
    same transaction as the action. `actor_id` is a plain id, not a foreign key, so the
    trail outlives the people in it; None means the command line or the system."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(40))  # a stable code, "program.create"
    subject: Mapped[str] = mapped_column(String(60), default="")  # "program:12"
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_audit_log_at", "at"),)


class SenderInstance(Base):
    """A running process that sends (bot or worker), seen at its last heartbeat. The
    processes split SEND_RATE between those seen lately: Telegram's limit is per bot,
    not per process."""

    __tablename__ = "sender_instances"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # host:pid:random
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BotState(Base):
    """Small facts the bot learns at run time that every process must share: the staff
    chat's new id after Telegram migrated it, whether the bot was removed from it."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeliveryFailure(Base):
    """Outbox rows that failed for good, counted per minute and kind until the admins
    are told (bot/delivery_report.py): one report per minute, not one per row."""

    __tablename__ = "delivery_failures"

    period: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch s of the minute
    kind: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
