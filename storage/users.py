"""Queries for users and invites. Callers own the transaction; nothing here commits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import FormDraft, Invite, Role, User


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_user_and_form(
    session: AsyncSession, user_id: int
) -> tuple[User, tuple[str, bool, datetime] | None] | None:
    """The user and the form they are filling in, if any (its name, whether it is
    paused, when it was last touched), in one round trip."""
    stmt = (
        select(User, FormDraft.form, FormDraft.paused, FormDraft.updated_at)
        .outerjoin(FormDraft, FormDraft.user_id == User.id)
        .where(User.id == user_id)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return row[0], ((row[1], bool(row[2]), row[3]) if row[1] is not None else None)


async def add_user(session: AsyncSession, user: User) -> User:
    session.add(user)
    await session.flush()
    return user


async def set_language(session: AsyncSession, user_id: int, language: str) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(language=language, language_chosen=True)
    )


async def set_role(session: AsyncSession, user_id: int, role: Role) -> None:
    await session.execute(update(User).where(User.id == user_id).values(role=role))


async def add_invite(session: AsyncSession, invite: Invite) -> None:
    session.add(invite)
    await session.flush()


async def claim_invite(
    session: AsyncSession, token: str, user_id: int, now: datetime
) -> Invite | None:
    """Mark an unused, unexpired invite as used by `user_id`; None if it is not claimable.

    One UPDATE with the conditions in its WHERE, so two people racing for one token
    cannot both win it.
    """
    result = await session.execute(
        update(Invite)
        .where(Invite.token == token, *_open(now))
        .values(used_by=user_id, used_at=now)
        .returning(Invite.role)
    )
    if result.first() is None:
        return None
    return await session.get(Invite, token)


async def get_invite(session: AsyncSession, token: str) -> Invite | None:
    return await session.get(Invite, token)


def _open(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """An invite that can still be redeemed (or revoked): unused, unexpired, unrevoked."""
    return (Invite.used_by.is_(None), Invite.revoked_at.is_(None), Invite.expires_at > now)


async def open_invites(
    session: AsyncSession, now: datetime, *, limit: int | None = None, offset: int = 0
) -> list[Invite]:
    """Open invites, newest first (all of them without `limit`)."""
    stmt = (
        select(Invite)
        .where(*_open(now))
        .order_by(Invite.created_at.desc(), Invite.token)
        .offset(offset)
        .limit(limit)
    )
    return list(await session.scalars(stmt))


async def count_open_invites(session: AsyncSession, now: datetime) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(Invite).where(*_open(now))) or 0
    )


async def revoke_invite(session: AsyncSession, token: str, now: datetime) -> bool:
    """Revoke an open invite. One UPDATE with the conditions of `claim_invite`, so of a
    revoke and a redeem racing for one token exactly one wins."""
    result = await session.execute(
        update(Invite)
        .where(Invite.token == token, *_open(now))
        .values(revoked_at=now)
        .returning(Invite.token)
    )
    return result.first() is not None


async def users_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, User]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {u.id: u for u in await session.scalars(select(User).where(User.id.in_(wanted)))}


async def users_with_role(session: AsyncSession, role: Role) -> list[User]:
    return list(await session.scalars(select(User).where(User.role == role).order_by(User.id)))


async def staff_users(session: AsyncSession, admin_ids: frozenset[int]) -> list[User]:
    """Users with a staff role in the database, and those of ADMIN_IDS we have met."""
    stmt = select(User).where(
        or_(User.role.in_((Role.TEACHER, Role.ADMIN)), User.id.in_(sorted(admin_ids)))
    )
    return list(await session.scalars(stmt.order_by(User.id)))


async def mark_blocked(session: AsyncSession, user_id: int, now: datetime) -> None:
    await session.execute(update(User).where(User.id == user_id).values(blocked_at=now))


async def lock_user(session: AsyncSession, user_id: int) -> None:
    """Lock this person's row (PostgreSQL) so that two requests of theirs write one after
    the other (SQLite's write transactions already do)."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())
