"""Who someone is: the user record, their effective role, language, and invites."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot import access, audit
from bot.access import Act
from bot.audit import Action
from bot.errors import FieldError
from bot.i18n import LANGUAGES, pick_language
from bot.person import Person, effective_role
from storage import forms as forms_repo
from storage import users as repo
from storage.models import Invite, Role, User, utcnow

SEEN_RESOLUTION = timedelta(minutes=5)  # last_seen is refreshed at most this often


@dataclass(frozen=True, slots=True)
class TelegramProfile:
    id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None


async def recognize(
    session: AsyncSession,
    profile: TelegramProfile,
    *,
    default_language: str,
    admin_ids: frozenset[int],
    now: datetime | None = None,
) -> Person:
    """Load the person for an update, creating them on first contact."""
    now = now or utcnow()
    user = await repo.get_user(session, profile.id)
    if user is None:
        user = await repo.add_user(
            session,
            User(
                id=profile.id,
                first_name=profile.first_name,
                last_name=profile.last_name,
                username=profile.username,
                language=pick_language(profile.language_code, default_language),
                role=Role.ENTERPRISE,
                created_at=now,
                last_seen_at=now,
            ),
        )
    elif _stale(user, now):
        user.last_seen_at = now
        user.blocked_at = None  # they wrote to us, so they no longer block the bot
        user.first_name, user.last_name = profile.first_name, profile.last_name
        user.username = profile.username
        if not user.language_chosen:
            user.language = pick_language(profile.language_code, user.language)
    return _person(user, await forms_repo.active_form(session, user.id), admin_ids)


async def recognize_known(
    session: AsyncSession, user_id: int, *, admin_ids: frozenset[int], now: datetime | None = None
) -> Person | None:
    """The person, read only, when there is nothing to write about them (the usual case:
    someone seen in the last few minutes); None when `recognize` must run instead."""
    found = await repo.get_user_and_form(session, user_id)
    if found is None or _stale(found[0], now or utcnow()):
        return None
    user, form = found
    return _person(user, form, admin_ids)


def _stale(user: User, now: datetime) -> bool:
    return now - user.last_seen_at >= SEEN_RESOLUTION or user.blocked_at is not None


def _person(user: User, form: str | None, admin_ids: frozenset[int]) -> Person:
    return Person(
        id=user.id,
        first_name=user.first_name,
        language=user.language,
        role=effective_role(user.id, user.role, admin_ids),
        form=form,
    )


async def current_role(session: AsyncSession, user_id: int, admin_ids: frozenset[int]) -> Role:
    """The role read fresh from the database; admin paths call this on every update."""
    user = await repo.get_user(session, user_id)
    return effective_role(user_id, user.role if user else Role.ENTERPRISE, admin_ids)


async def choose_language(session: AsyncSession, user_id: int, language: str) -> bool:
    if language not in LANGUAGES:
        return False
    await repo.set_language(session, user_id, language)
    return True


class InviteError(enum.Enum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    ALREADY = "already"


@dataclass(frozen=True, slots=True)
class InviteResult:
    role: Role | None = None
    error: InviteError | None = None


async def create_invite(
    session: AsyncSession,
    *,
    admin: Person,
    role: Role,
    ttl: timedelta,
    now: datetime | None = None,
) -> Invite:
    access.require(admin, Act.INVITE)
    admin_id = admin.id
    now = now or utcnow()
    invite = Invite(
        token=secrets.token_urlsafe(12),  # 16 chars, fits a deep-link payload (≤ 64)
        role=role,
        created_by=admin_id,
        created_at=now,
        expires_at=now + ttl,
    )
    await repo.add_invite(session, invite)
    detail = f"{role.value}, valid until {audit.stamp(invite.expires_at)}"
    await audit.record(
        session, admin_id, Action.INVITE_CREATE, f"invite:{invite.token[:4]}…", detail
    )
    return invite


async def redeem_invite(
    session: AsyncSession,
    *,
    token: str,
    user_id: int,
    admin_ids: frozenset[int],
    now: datetime | None = None,
) -> InviteResult:
    now = now or utcnow()
    invite = await repo.claim_invite(session, token, user_id, now)
    if invite is None:
        existing = await repo.get_invite(session, token)
        if existing is None:
            return InviteResult(error=InviteError.UNKNOWN)
        if existing.used_by == user_id:
            return InviteResult(role=existing.role, error=InviteError.ALREADY)
        if existing.used_by is not None:
            return InviteResult(error=InviteError.USED)
        return InviteResult(error=InviteError.EXPIRED)
    current = await current_role(session, user_id, admin_ids)
    if current is Role.ADMIN and invite.role is not Role.ADMIN:
        # An admin opening a teacher link keeps admin rights; the link is spent anyway.
        return InviteResult(role=current)
    await repo.set_role(session, user_id, invite.role)
    action = Action.ROLE_ADMIN if invite.role is Role.ADMIN else Action.ROLE_TEACHER
    detail = f"{current.value} → {invite.role.value}, invited by {invite.created_by}"
    await audit.record(session, user_id, action, f"user:{user_id}", detail)
    return InviteResult(role=invite.role)


# Staff roles, changed by an admin --------------------------------------------------------

CHANGEABLE_ROLES = (Role.ADMIN, Role.TEACHER, Role.ENTERPRISE)


@dataclass(frozen=True, slots=True)
class StaffMember:
    user: User
    role: Role  # effective: ADMIN_IDS win
    fixed: bool  # an admin through ADMIN_IDS: only the settings can change that


async def staff_members(
    session: AsyncSession, admin: Person, admin_ids: frozenset[int]
) -> list[StaffMember]:
    """Teachers and admins, admins first, then by name."""
    access.require(admin, Act.MANAGE_STAFF)
    users = await repo.staff_users(session, admin_ids)
    members = [
        StaffMember(u, effective_role(u.id, u.role, admin_ids), u.id in admin_ids) for u in users
    ]
    return sorted(members, key=lambda m: (m.role is not Role.ADMIN, m.user.first_name, m.user.id))


async def staff_member(
    session: AsyncSession, admin: Person, admin_ids: frozenset[int], user_id: int
) -> StaffMember:
    access.require(admin, Act.MANAGE_STAFF)
    user = await repo.get_user(session, user_id)
    if user is None:
        raise access.Refused()
    return StaffMember(user, effective_role(user.id, user.role, admin_ids), user.id in admin_ids)


async def change_role(
    session: AsyncSession, admin: Person, admin_ids: frozenset[int], user_id: int, role: Role
) -> StaffMember:
    """Make someone a teacher or an admin, or remove their staff role. Takes effect at
    their next update: the role is read from the database on every one."""
    member = await staff_member(session, admin, admin_ids, user_id)
    if member.fixed:
        raise FieldError("staff.fixed_admin")
    if user_id == admin.id:
        raise FieldError("staff.not_self")  # an admin cannot lock themselves out by a tap
    if member.user.role is role:
        return member
    previous = member.user.role
    await repo.set_role(session, user_id, role)
    detail = f"{previous.value} → {role.value}"
    await audit.record(session, admin.id, Action.ROLE_CHANGE, f"user:{user_id}", detail)
    return StaffMember(member.user, role, fixed=False)
