"""Admins from ADMIN_IDS, teachers through one-time invite links, forged buttons refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from bot.people.senders import SENDER_TTL
from bot.ui import commands
from bot.ui.i18n import t
from storage.models import Invite, Role, User
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram
from tests.harness import BotRunner

LINK = re.compile(r"https://t\.me/(\w+)\?start=(inv_[A-Za-z0-9_\-]+)")


async def make_invite(tg: FakeTelegram, command: str = "/invite") -> str:
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    reply = await admin.send_and_wait(command)
    match = LINK.search(reply.text)
    assert match, reply.text
    assert match.group(1) == tg.bot_username
    return match.group(2)


async def role_of(bot: BotRunner, user_id: int) -> Role | None:
    async with bot.sessions() as session:
        user = await session.scalar(select(User).where(User.id == user_id))
    return user.role if user else None


async def test_admin_sees_admin_menu_and_help(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    reply = await admin.send_and_wait("/start")
    assert "➕ Invite a teacher" in reply.button_labels()
    help_reply = await admin.send_and_wait("/help")
    assert "For admins" in help_reply.text
    for command in ("/inquiries", "/broadcast", "/invite", "/audit", "/overdue", "/newprogram"):
        assert command in help_reply.text, command


async def test_teacher_joins_through_invite_once(bot: BotRunner, tg: FakeTelegram) -> None:
    payload = await make_invite(tg)
    wang = tg.user(2001, first_name="王老师", language_code="zh-hans")
    reply = await wang.send_and_wait(f"/start {payload}")
    assert "欢迎加入" in reply.text and "教师" in reply.text
    assert await role_of(bot, 2001) is Role.TEACHER
    # Her command menu is a teacher's, in Chinese, in her chat.
    menu = {c["command"]: c["description"] for c in tg.commands[("chat:2001", None)]}
    assert set(menu) == set(commands.TEACHER_COMMANDS)
    assert menu["inquiries"] == t("zh", "cmd.inquiries") and "broadcast" not in menu

    # The same person again: told politely; someone else: the link is spent.
    again = await wang.send_and_wait(f"/start {payload}")
    assert "已使用过" in again.text
    other = tg.user(2002, first_name="Other", language_code="en")
    spent = await other.send_and_wait(f"/start {payload}")
    assert "already been used" in spent.text
    assert await role_of(bot, 2002) is Role.ENTERPRISE


async def test_admin_invite_button_makes_an_admin(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    await admin.send_and_wait("/start")
    await admin.press("Invite an admin")
    reply = await admin.expect_message()
    match = LINK.search(reply.text)
    assert match and "admin" in reply.text
    newcomer = tg.user(2003, first_name="Zhao", language_code="en")
    welcome = await newcomer.send_and_wait(f"/start {match.group(2)}")
    assert "registered as a admin" in welcome.text or "registered as an admin" in welcome.text
    assert await role_of(bot, 2003) is Role.ADMIN
    # The new admin may now create invites themselves.
    reply = await newcomer.send_and_wait("/invite")
    assert LINK.search(reply.text)


async def test_invite_expires(bot: BotRunner, tg: FakeTelegram) -> None:
    payload = await make_invite(tg)
    later = datetime.now(UTC) + timedelta(hours=73)
    with time_machine.travel(later, tick=True):
        late = tg.user(2004, first_name="Late", language_code="en")
        reply = await late.send_and_wait(f"/start {payload}")
    assert "expired" in reply.text
    assert await role_of(bot, 2004) is Role.ENTERPRISE


async def test_unknown_invite_and_bad_payloads(bot: BotRunner, tg: FakeTelegram) -> None:
    someone = tg.user(2005, first_name="S", language_code="en")
    assert "not valid" in (await someone.send_and_wait("/start inv_doesnotexist")).text
    for junk in ("zzz_1", "<script>", "x" * 80, "inv_"):
        reply = await someone.send_and_wait(f"/start {junk}")
        assert "Main menu" in reply.text


async def test_non_admin_invite_command_refused(bot: BotRunner, tg: FakeTelegram) -> None:
    user = tg.user(2006, first_name="Nobody", language_code="en")
    reply = await user.send_and_wait("/invite")
    assert "only the college's admins" in reply.text
    async with bot.sessions() as session:
        assert (await session.scalars(select(Invite))).all() == []


async def test_forged_admin_button_refused(bot: BotRunner, tg: FakeTelegram) -> None:
    user = tg.user(2007, first_name="Forger", language_code="en")
    menu = await user.send_and_wait("/start")
    for data in ("adm:invite:teacher", "adm:invite:admin", "adm:invite"):
        await user.press_data(menu.message_id, data)
        answer = await user.expect_callback_answer()
        assert answer["text"] == "This button is no longer valid."
    async with bot.sessions() as session:
        assert (await session.scalars(select(Invite))).all() == []


async def test_demoted_teacher_cannot_use_admin_buttons(bot: BotRunner, tg: FakeTelegram) -> None:
    """An admin link that made someone admin, then revoked in the database by someone
    else than this bot, stops working once this process's recognition of them lapses."""
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    reply = await admin.send_and_wait("/invite admin")
    payload = LINK.search(reply.text)
    assert payload
    deputy = tg.user(2008, first_name="Deputy", language_code="en")
    await deputy.send_and_wait(f"/start {payload.group(2)}")
    menu = await deputy.send_and_wait("/start")
    assert "➕ Invite a teacher" in menu.button_labels()
    async with bot.sessions() as session, session.begin():
        user = await session.get(User, 2008)
        assert user is not None
        user.role = Role.TEACHER
    # Changed behind this process's back (the admin CLI, another instance): it holds at
    # most SENDER_TTL on to what it recognised (the bot's own role changes: at once).
    with time_machine.travel(datetime.now(UTC) + SENDER_TTL, tick=True):
        await deputy.press_data(menu.message_id, "adm:invite:teacher")
        answer = await deputy.expect_callback_answer()
    assert answer["text"] == "This button is no longer valid."
