"""Who someone is: the user record, their effective role, language, and invites."""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.people import audit
from bot.people import roles as access
from bot.people.audit import Action
from bot.people.person import Person, draft_state, effective_role
from bot.people.roles import Act
from bot.people.senders import changed
from bot.ui.errors import FieldError
from bot.ui.i18n import LANGUAGES, pick_language
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


def _role(role: Role) -> str:
    """A role inside an audit detail, in the reader's language."""
    return audit.term(f"role.{role.value}")


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
    draft = draft_state(await forms_repo.active_form(session, user.id), now)
    return _person(user, draft, admin_ids)


async def recognize_known(
    session: AsyncSession, user_id: int, *, admin_ids: frozenset[int], now: datetime | None = None
) -> Person | None:
    """The person, read only, when there is nothing to write about them (the usual case:
    someone seen in the last few minutes); None when `recognize` must run instead."""
    now = now or utcnow()
    found = await repo.get_user_and_form(session, user_id)
    if found is None or _stale(found[0], now):
        return None
    user, draft = found
    return _person(user, draft_state(draft, now), admin_ids)


def _stale(user: User, now: datetime) -> bool:
    return now - user.last_seen_at >= SEEN_RESOLUTION or user.blocked_at is not None


def _person(user: User, draft: tuple[str | None, bool], admin_ids: frozenset[int]) -> Person:
    form, paused = draft
    return Person(
        id=user.id,
        first_name=user.first_name,
        language=user.language,
        role=effective_role(user.id, user.role, admin_ids),
        form=form,
        paused=paused,
    )


async def current_role(session: AsyncSession, user_id: int, admin_ids: frozenset[int]) -> Role:
    """The role read fresh from the database; admin paths call this on every update."""
    user = await repo.get_user(session, user_id)
    return effective_role(user_id, user.role if user else Role.ENTERPRISE, admin_ids)


async def choose_language(session: AsyncSession, user_id: int, language: str) -> bool:
    if language not in LANGUAGES:
        return False
    await repo.set_language(session, user_id, language)
    changed(session, user_id)
    return True


class InviteError(enum.Enum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    ALREADY = "already"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class InviteResult:
    role: Role | None = None
    error: InviteError | None = None


INVITABLE = {"teacher": Role.TEACHER, "admin": Role.ADMIN}  # what /invite <kind> makes


def invitable(kind: str) -> Role:
    """The role `/invite <kind>` (or an invite button) asks for; FieldError otherwise."""
    role = INVITABLE.get(kind.lower().strip())
    if role is None:
        raise FieldError("invite.bad_role")
    return role


async def invite_for(session: AsyncSession, *, admin: Person, kind: str, ttl: timedelta) -> Invite:
    """The invite `/invite <kind>` makes ("teacher" or "admin")."""
    return await create_invite(session, admin=admin, role=invitable(kind), ttl=ttl)


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
    detail = f"{_role(role)} · {audit.word('valid_until')} {audit.stamp(invite.expires_at)}"
    await audit.record(session, admin_id, Action.INVITE_CREATE, _subject(invite), detail)
    return invite


# Open invites: listed and revoked by admins (/invites) -----------------------------------

INVITES_PAGE = 8
HINT_CHARS = 4  # of the token, shown to tell invites apart; the rest is never shown again


def _subject(invite: Invite) -> str:
    return f"invite:{invite.token[:HINT_CHARS]}…"


def invite_key(token: str) -> str:
    """What a Revoke button carries: a digest, so no part of a live token sits in
    callback data (which clients keep and can show)."""
    return hashlib.sha256(b"partnerbot-invite:" + token.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class OpenInvite:
    key: str
    hint: str  # the token's first HINT_CHARS characters
    role: Role
    created_by: int
    creator: User | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class InvitePage:
    invites: list[OpenInvite]
    page: int  # 0-based
    pages: int
    total: int


def _open_invite(invite: Invite, creators: dict[int, User]) -> OpenInvite:
    return OpenInvite(
        key=invite_key(invite.token),
        hint=invite.token[:HINT_CHARS],
        role=invite.role,
        created_by=invite.created_by,
        creator=creators.get(invite.created_by),
        expires_at=invite.expires_at,
    )


async def open_invites(
    session: AsyncSession, *, admin: Person, page: int = 0, now: datetime | None = None
) -> InvitePage:
    """A page of the open invites (unused, unexpired, unrevoked), newest first."""
    access.require(admin, Act.INVITE)
    now = now or utcnow()
    total = await repo.count_open_invites(session, now)
    pages = max(1, -(-total // INVITES_PAGE))
    page = min(max(page, 0), pages - 1)  # a stale or forged page number: the nearest page
    rows = await repo.open_invites(session, now, limit=INVITES_PAGE, offset=page * INVITES_PAGE)
    creators = await repo.users_by_id(session, {r.created_by for r in rows})
    return InvitePage([_open_invite(r, creators) for r in rows], page, pages, total)


async def revoke_invite(
    session: AsyncSession, *, admin: Person, key: str, now: datetime | None = None
) -> OpenInvite | InviteError:
    """Revoke the open invite whose Revoke button carries `key`; any admin may revoke
    any admin's invite. UNKNOWN when no open invite has that key (used, expired,
    revoked meanwhile, or a forged button)."""
    access.require(admin, Act.INVITE)
    now = now or utcnow()
    found = next(
        (i for i in await repo.open_invites(session, now) if invite_key(i.token) == key), None
    )
    if found is None or not await repo.revoke_invite(session, found.token, now):
        return InviteError.UNKNOWN
    detail = (
        f"{_role(found.role)} · {audit.word('created_by')} {found.created_by} · "
        f"{audit.word('valid_until')} {audit.stamp(found.expires_at)}"
    )
    await audit.record(session, admin.id, Action.INVITE_REVOKE, _subject(found), detail)
    return _open_invite(found, await repo.users_by_id(session, [found.created_by]))


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
        if existing.revoked_at is not None:
            return InviteResult(error=InviteError.REVOKED)
        return InviteResult(error=InviteError.EXPIRED)
    current = await current_role(session, user_id, admin_ids)
    if current is Role.ADMIN and invite.role is not Role.ADMIN:
        # An admin opening a teacher link keeps admin rights; the link is spent anyway.
        return InviteResult(role=current)
    await repo.set_role(session, user_id, invite.role)
    changed(session, user_id)
    action = Action.ROLE_ADMIN if invite.role is Role.ADMIN else Action.ROLE_TEACHER
    detail = audit.change("role.", current.value, invite.role.value)
    detail += f" · {audit.word('invited_by')} {invite.created_by}"
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


async def staff_menus(
    session: AsyncSession, admin_ids: frozenset[int], default_language: str
) -> list[tuple[int, str, Role]]:
    """Each staff member's chat, language and role, for the command menu in their chat
    (ADMIN_IDS the bot has not met yet: in DEFAULT_LANGUAGE)."""
    users = {u.id: u for u in await repo.staff_users(session, admin_ids)}
    menus = [(u.id, u.language, effective_role(u.id, u.role, admin_ids)) for u in users.values()]
    menus += [(i, default_language, Role.ADMIN) for i in sorted(admin_ids) if i not in users]
    return menus


async def staff_member(
    session: AsyncSession, admin: Person, admin_ids: frozenset[int], user_id: int
) -> StaffMember:
    access.require(admin, Act.MANAGE_STAFF)
    user = await repo.get_user(session, user_id)
    if user is None:
        raise access.Refused()
    return StaffMember(user, effective_role(user.id, user.role, admin_ids), user.id in admin_ids)


async def change_role(
    session: AsyncSession, admin: Person, admin_ids: frozenset[int], user_id: int, value: str
) -> StaffMember:
    """Make someone a teacher or an admin, or remove their staff role. Takes effect at
    their next update: their recognition is dropped from bot/people/senders.py."""
    if value not in Role._value2member_map_:
        raise access.Refused()  # not a role: a forged button
    role = Role(value)
    member = await staff_member(session, admin, admin_ids, user_id)
    if member.fixed:
        raise FieldError("staff.fixed_admin")
    if user_id == admin.id:
        raise FieldError("staff.not_self")  # an admin cannot lock themselves out by a tap
    if member.user.role is role:
        return member
    previous = member.user.role
    await repo.set_role(session, user_id, role)
    changed(session, user_id)  # a demoted teacher loses staff rights at their next update
    detail = audit.change("role.", previous.value, role.value)
    await audit.record(session, admin.id, Action.ROLE_CHANGE, f"user:{user_id}", detail)
    return StaffMember(member.user, role, fixed=False)
