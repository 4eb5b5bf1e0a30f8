"""The staff's own menu rows (tasks, calendar, their inquiries) and /help per role, which
names every command of that role (the lists bot/app.py registers with Telegram)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import update
from telegram.ext import CommandHandler

from bot import app
from bot.ui import commands
from bot.ui.i18n import t
from storage.models import User
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram
from tests.harness import BotRunner
from tests.test_inquiry_admin import TEACHER, items, seed

LANGS = {"en": "en", "zh": "zh-hans"}
STAFF_ROWS = ("btn.tasks", "btn.calendar", "btn.inquiries")
TEACHER_COMMANDS = (*commands.USER_COMMANDS, "overdue", "inquiries")


async def speaks(bot: BotRunner, user_id: int, lang: str) -> None:
    """The seeded teacher's stored language (it wins over Telegram's)."""
    async with bot.sessions() as session, session.begin():
        await session.execute(update(User).where(User.id == user_id).values(language=lang))


def listed(text: str) -> set[str]:
    """The commands a help text lists, one a line: "/name — what it does"."""
    return set(re.findall(r"^/([a-z_]+) — \S", text, flags=re.MULTILINE))


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_teacher_menu(bot: BotRunner, tg: FakeTelegram, lang: str) -> None:
    await seed(bot.sessions)  # the teacher is assigned inquiry #13 only
    await speaks(bot, TEACHER, lang)
    wang = tg.user(TEACHER, first_name="Wang", language_code=LANGS[lang])
    menu = await wang.send_and_wait("/start")
    labels = menu.button_labels()
    for key in STAFF_ROWS:
        assert t(lang, key) in labels, key

    await wang.press(t(lang, "btn.tasks"))
    tasks = await wang.expect_message()
    assert tasks.text == t(lang, "step.none")  # a new message: the menu stays
    assert tasks.message_id != menu.message_id

    await wang.press_data(menu.message_id, "m:cal")
    calendar = await wang.expect_message()
    assert calendar.document is not None
    assert str(calendar.document.filename).endswith(".ics")
    assert b"BEGIN:VCALENDAR" in calendar.document.content

    await wang.press_data(menu.message_id, "m:inq")
    board = await wang.expect_message()
    assert board.message_id == menu.message_id  # the list in place of the menu
    assert [x.split(" · ")[0] for x in items(board.button_labels())] == ["#13"]


async def test_contacts_have_no_staff_rows(bot: BotRunner, tg: FakeTelegram) -> None:
    someone = tg.user(5555, first_name="Zhang", language_code="zh-hans")
    menu = await someone.send_and_wait("/start")
    for key in STAFF_ROWS:
        assert t("zh", key) not in menu.button_labels(), key
    await someone.press_data(menu.message_id, "m:inq")  # a forged staff button
    refused = await someone.expect_callback_answer()
    assert refused.get("text") == t("zh", "button.stale")
    assert someone.messages()[-1].edits == 0
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    admin_menu = await admin.send_and_wait("/start")
    for key in STAFF_ROWS:
        assert t("en", key) in admin_menu.button_labels(), key


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_help_lists_every_command_of_the_role(
    bot: BotRunner, tg: FakeTelegram, lang: str
) -> None:
    await seed(bot.sessions)
    await speaks(bot, TEACHER, lang)
    people = {
        "enterprise": (tg.user(5555, first_name="Zhang", language_code=LANGS[lang]),
                       set(commands.USER_COMMANDS)),
        "teacher": (tg.user(TEACHER, first_name="Wang", language_code=LANGS[lang]),
                    set(TEACHER_COMMANDS)),
        "admin": (tg.user(ADMIN_ID, first_name="Admin", language_code=LANGS[lang]),
                  set(commands.ADMIN_COMMANDS)),
    }  # fmt: skip
    for role, (user, names) in people.items():
        shown = await user.send_and_wait("/help")
        assert listed(shown.text) == names, role
        for name in names:  # each with the description the command menu has
            assert f"/{name} — {t(lang, f'cmd.{name}')}" in shown.text, (role, name)
        if lang == "zh":
            assert "How this bot works" not in shown.text
    # The command menu Telegram shows admins is the same list.
    registered = tg.commands.get((f"chat:{ADMIN_ID}", None), [])
    assert {c["command"] for c in registered} == set(commands.ADMIN_COMMANDS)


def test_the_lists_name_every_command_the_bot_answers(make_settings: Any) -> None:
    """Every command a handler answers is in the admins' list (the widest), aliases apart."""
    application = app.build_application(make_settings(), migrate=False, engines=False)
    answered = {
        name
        for handlers in application.handlers.values()
        for handler in handlers
        if isinstance(handler, CommandHandler)
        for name in handler.commands
    }
    assert answered - set(commands.ALIASES) == set(commands.ADMIN_COMMANDS)
    assert set(TEACHER_COMMANDS) == set(commands.TEACHER_COMMANDS)
