"""Invites are made in private chats only; admins list the open ones (/invites) and
revoke them; a revoked link says so. Through the fake Bot API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.people.audit import Action
from bot.people.identity import InviteError, create_invite, invite_key, redeem_invite, revoke_invite
from bot.people.person import Person
from bot.settings import Settings
from storage.models import AuditEntry, Invite, Role, User, utcnow
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotRunner
from tests.test_roles_invites import LINK, make_invite

STAFF_CHAT = -100_777
REFUSAL = "Sorry, only the college's admins can do that."
STALE = "This button is no longer valid."  # forged buttons: the one refusal (bot/access.py)


@pytest.fixture
async def staff_bot(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> AsyncIterator[BotRunner]:
    tg.group(STAFF_CHAT, title="Cooperation office")
    runner = BotRunner(make_settings(tg, staff_chat_id=str(STAFF_CHAT)))
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


def admin_of(tg: FakeTelegram, language: str = "en") -> FakeUser:
    # As make_invite names them: the name the bot stores is the one of first contact.
    return tg.user(ADMIN_ID, first_name="Admin", language_code=language)


async def invites(bot: BotRunner) -> list[Invite]:
    async with bot.sessions() as session:
        return list(await session.scalars(select(Invite).order_by(Invite.created_at)))


async def test_no_invite_link_in_the_staff_group(staff_bot: BotRunner, tg: FakeTelegram) -> None:
    admin, group = admin_of(tg), tg.groups[STAFF_CHAT]
    for command in ("/invite", "/invite admin", "/invites"):
        note = await group.send_and_wait(admin, command)
        assert "private chat with me" in note.text, command
        assert "t.me" not in note.text and not LINK.search(note.text)
    # The invite buttons, pressed on a message in the group: an alert, nothing posted.
    for data in ("adm:invite:teacher", "adm:invite:admin", "adm:invs:0"):
        admin.last_query_id = group._callback(admin.user_json(), note.message_id, data)
        answer = await admin.expect_callback_answer()
        assert "private chat with me" in answer["text"] and answer.get("show_alert")
    assert all(not LINK.search(m.text) for m in group.messages())
    assert await invites(staff_bot) == []
    # Someone else in the group is refused as anywhere else, and nothing is made either.
    teacher = tg.user(5101, first_name="Teacher", language_code="en")
    teacher.last_query_id = group._callback(
        teacher.user_json(), note.message_id, "adm:invite:teacher"
    )
    assert (await teacher.expect_callback_answer())["text"] == STALE
    # In the private chat it works as before.
    assert LINK.search((await admin.send_and_wait("/invite")).text)
    assert len(await invites(staff_bot)) == 1


async def test_invites_lists_only_open_ones(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = admin_of(tg)
    used = await make_invite(tg)
    expired = await make_invite(tg)
    admin_link = await make_invite(tg, "/invite admin")
    teacher_link = await make_invite(tg)
    await tg.user(5102, first_name="Wang", language_code="en").send_and_wait(f"/start {used}")
    async with bot.sessions() as session, session.begin():
        await session.execute(
            update(Invite)
            .where(Invite.token == expired.removeprefix("inv_"))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    listing = await admin.send_and_wait("/invites")
    text = listing.text
    assert "Open invites (2)" in text, text
    lines = [line for line in text.splitlines() if re.match(r"\d+\. ", line)]
    assert len(lines) == 2, text
    # Newest first: the teacher invite, then the admin one; creator and expiry shown.
    assert "· teacher ·" in lines[0] and "· admin ·" in lines[1]
    assert all("by Admin (9001)" in line and "valid until" in line for line in lines)
    for payload in (teacher_link, admin_link):
        token = payload.removeprefix("inv_")
        assert f"{token[:4]}…" in text
        assert token[:5] not in text  # only the first four characters, ever
        for _label, data in listing.buttons():
            assert token[:5] not in str(data)  # not in the buttons' data either
    for payload in (used, expired):
        assert payload.removeprefix("inv_")[:4] + "…" not in text
    assert listing.button_labels()[:2] == [
        f"🚫 Revoke 1 · {teacher_link[4:8]}…",
        f"🚫 Revoke 2 · {admin_link[4:8]}…",
    ]


async def test_revoke_records_audit_and_the_link_says_revoked(
    bot: BotRunner, tg: FakeTelegram
) -> None:
    admin = admin_of(tg)
    payload = await make_invite(tg)
    keep = await make_invite(tg, "/invite admin")
    token = payload.removeprefix("inv_")
    await admin.send_and_wait("/invites")
    await admin.press(f"Revoke 2 · {token[:4]}…")
    assert (await admin.expect_callback_answer())["text"] == "Revoked."
    edited = await admin.expect_message()
    assert f"Invite {token[:4]}… (teacher) is revoked" in edited.text
    assert "Open invites (1)" in edited.text and f"{keep[4:8]}…" in edited.text
    assert f"{token[:4]}…" not in edited.text.split("revoked", 1)[1]  # gone from the list

    async with bot.sessions() as session:
        invite = await session.get(Invite, token)
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert invite is not None and invite.revoked_at is not None and invite.used_by is None
    last = entries[-1]
    assert (last.action, last.actor_id, last.subject) == (
        Action.INVITE_REVOKE.value,
        ADMIN_ID,
        f"invite:{token[:4]}…",
    )
    assert token not in "".join(e.subject + e.detail for e in entries)

    newcomer = tg.user(5103, first_name="Late", language_code="en")
    reply = await newcomer.send_and_wait(f"/start {payload}")
    assert "This invite was revoked" in reply.text
    zh = tg.user(5104, first_name="晚到", language_code="zh-hans")
    assert "此邀请已被撤销" in (await zh.send_and_wait(f"/start {payload}")).text
    async with bot.sessions() as session:
        assert (await session.get(User, 5103)).role is Role.ENTERPRISE  # type: ignore[union-attr]

    # The audit trail shows it in words.
    trail = await admin.send_and_wait("/audit")
    assert "Invite link revoked" in trail.text


async def test_forged_and_stale_revoke_buttons(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = admin_of(tg)
    payload = await make_invite(tg)
    token = payload.removeprefix("inv_")
    key = invite_key(token)
    listing = await admin.send_and_wait("/invites")

    # A non-admin with the real key (as if they had guessed it): the polite refusal.
    mallory = tg.user(5105, first_name="Mallory", language_code="en")
    menu = await mallory.send_and_wait("/start")
    for data in (f"adm:invrev:{key}:0", "adm:invs:0", f"adm:invrev:{key}", "adm:invrev"):
        await mallory.press_data(menu.message_id, data)
        assert (await mallory.expect_callback_answer())["text"] == STALE, data
    # An admin with an id that is no invite's: told it is not open; nothing revoked.
    for n, data in enumerate(("adm:invrev:0123456789abcdef:0", f"adm:invrev:{token[:16]}:0")):
        await admin.press_data(listing.message_id, data)
        answer = await admin.expect_callback_answer()
        assert "no longer open" in answer["text"] and answer.get("show_alert"), data
        if n == 0:  # the note above the list (the second press shows the same: no edit)
            assert "no longer open" in (await admin.expect_message()).text
    # Malformed: treated as a stale button; the list is left as it is.
    await admin.press_data(listing.message_id, f"adm:invrev:{key}:x")
    assert (await admin.expect_callback_answer())["text"] == STALE
    async with bot.sessions() as session:
        assert (await session.get(Invite, token)).revoked_at is None  # type: ignore[union-attr]

    # The real button twice (a double tap, or two admins): revoked once, then "gone".
    await admin.press_data(listing.message_id, f"adm:invrev:{key}:0")
    assert (await admin.expect_callback_answer())["text"] == "Revoked."
    assert "is revoked" in (await admin.expect_message()).text
    await admin.press_data(listing.message_id, f"adm:invrev:{key}:0")
    assert "no longer open" in (await admin.expect_callback_answer())["text"]
    assert "no longer open" in (await admin.expect_message()).text
    # A used invite cannot be revoked after the fact either.
    used = await make_invite(tg)
    await tg.user(5106, first_name="Zhou", language_code="en").send_and_wait(f"/start {used}")
    await admin.press_data(listing.message_id, f"adm:invrev:{invite_key(used[4:])}:0")
    assert "no longer open" in (await admin.expect_callback_answer())["text"]
    async with bot.sessions() as session:
        revokes = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == Action.INVITE_REVOKE.value)
        )
        assert len(list(revokes)) == 1


async def test_pages_of_invites_and_chinese(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = admin_of(tg)
    await admin.send_and_wait("/language")
    await admin.press("简体中文")
    await admin.expect_message()
    made = [await make_invite(tg) for _ in range(10)]
    first = await admin.send_and_wait("/invites")
    assert "未使用的邀请" in first.text and "共 10 个" in first.text and "第 1 / 2 页" in first.text
    assert "创建人：Admin（9001）" in first.text and "有效期至" in first.text
    assert len([b for b in first.button_labels() if "撤销" in b]) == 8
    await admin.press("下一页 ▶️")
    await admin.expect_callback_answer()
    second = await admin.expect_message()
    assert "第 2 / 2 页" in second.text
    revoke = [b for b in second.button_labels() if "撤销" in b]
    assert revoke == [f"🚫 撤销 9 · {made[1][4:8]}…", f"🚫 撤销 10 · {made[0][4:8]}…"]
    await admin.press(revoke[0])
    await admin.expect_callback_answer()
    after = await admin.expect_message()
    assert "已撤销" in after.text and "共 9 个" in after.text and "第 2 / 2 页" in after.text
    # A page past the end (the list shrank, or forged): the last page there is.
    await admin.press_data(after.message_id, "adm:invs:99999")
    await admin.expect_callback_answer()
    assert "第 2 / 2 页" in (await admin.expect_message()).text


async def test_no_open_invites_and_help(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = admin_of(tg)
    assert "There are no open invites" in (await admin.send_and_wait("/invites")).text
    assert "/invites" in (await admin.send_and_wait("/help")).text
    teacher = tg.user(5107, first_name="T", language_code="en")
    assert REFUSAL in (await teacher.send_and_wait("/invites")).text
    admin_menu = tg.commands[(f"chat:{ADMIN_ID}", None)]  # the admins' own command list
    assert "invites" in [c["command"] for c in admin_menu]


ADMIN = Person(ADMIN_ID, "Admin", "en", Role.ADMIN)


async def test_revoke_and_redeem_race_one_winner(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Two processes: one admin revokes while someone opens the link; exactly one wins."""
    admins = frozenset({ADMIN_ID})
    async with sessions() as session, session.begin():
        session.add(User(id=ADMIN_ID, first_name="Admin", language="en"))
        session.add(User(id=5108, first_name="Quick", language="en"))
    for _ in range(5):
        async with sessions() as session, session.begin():
            invite = await create_invite(
                session, admin=ADMIN, role=Role.TEACHER, ttl=timedelta(hours=1)
            )

        async def redeem(token: str = invite.token) -> bool:
            async with sessions() as session, session.begin():
                result = await redeem_invite(session, token=token, user_id=5108, admin_ids=admins)
            return result.error is None

        async def revoke(token: str = invite.token) -> bool:
            async with sessions() as session, session.begin():
                result = await revoke_invite(session, admin=ADMIN, key=invite_key(token))
            return not isinstance(result, InviteError)

        redeemed, revoked = await asyncio.gather(redeem(), revoke())
        assert redeemed != revoked
        async with sessions() as session:
            row = await session.get(Invite, invite.token)
        assert row is not None and (row.used_by is None) == revoked
        assert (row.revoked_at is None) == redeemed
