"""The audit trail: admin actions recorded with who and when, read with /audit, exported."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.broadcasts import service as broadcasts
from bot.catalog import service as catalog
from bot.catalog.files import COLUMNS as PROGRAM_COLUMNS
from bot.catalog.files import write_rows
from bot.formats.spreadsheets import FileFormat
from bot.inquiries import pipeline
from bot.next_steps import service as next_steps
from bot.people import audit
from bot.people import identity as roles
from bot.people.audit import Action, shown_detail
from bot.people.person import Person
from bot.settings import Settings
from bot.ui.i18n import format_clock, t
from storage.models import (
    AuditEntry,
    Inquiry,
    InquiryKind,
    InquiryStatus,
    Invite,
    Program,
    ProgramStatus,
    Role,
    User,
)
from tests.constants import ADMIN_ID, TOKEN
from tests.fakebot import FakeTelegram, FakeUser, SentMessage
from tests.harness import BotRunner
from tests.seed import add_teacher, seed_catalog, special_id

TEACHER_ID = 5001
CONTACT_ID = 6100
NEWCOMER_ID = 5002


async def wait_text(user: FakeUser, needle: str, tries: int = 8) -> SentMessage:
    """The next message with `needle` (broadcast progress edits may come in between)."""
    for _ in range(tries):
        message = await user.expect_message(timeout=10)
        if needle in message.text:
            return message
    raise AssertionError(f"no message with {needle!r}; last: {user.messages()[-3:]!r}")


async def entries(bot: BotRunner) -> list[AuditEntry]:
    async with bot.sessions() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


async def seed_inquiry(bot: BotRunner, program_id: int) -> None:
    async with bot.sessions() as session, session.begin():
        session.add(User(id=CONTACT_ID, first_name="Li", language="en"))
        await session.flush()
        session.add(
            Inquiry(
                user_id=CONTACT_ID, program_id=program_id, kind=InquiryKind.INTEREST,
                message="Visit?", status=InquiryStatus.NEW, escalation=2,
            )
        )  # fmt: skip


async def test_admin_actions_are_recorded_and_shown_in_both_languages(
    bot: BotRunner, tg: FakeTelegram
) -> None:
    await seed_catalog(bot.sessions, count=1)
    await add_teacher(bot.sessions, TEACHER_ID, "王老师")
    lab = await special_id(bot.sessions, "LAB-AI")
    await seed_inquiry(bot, lab)
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")

    # A programme created through the form, with markup in its title.
    await admin.send_and_wait("/newprogram")
    await admin.press("Customised training")
    await admin.expect_message()
    await admin.press("School of Economics")
    await admin.expect_message()
    await admin.send_and_wait("-")
    await admin.send_and_wait("Robots <b>& Co")
    for _ in range(6):
        confirm = await admin.send_and_wait("-")
    assert "Please check before saving" in confirm.text
    await admin.press("✅ Save")
    assert "Programme saved" in (await admin.expect_message()).text
    await admin.expect_message()  # its card

    # Edited and closed.
    await admin.send_and_wait(f"/start p_{lab}")
    await admin.press("✏️ Edit")
    await admin.expect_message()
    await admin.press("Title (English)")
    await admin.expect_message()
    await admin.send_and_wait("Intelligent Manufacturing Lab")
    await admin.press("✅ Save")
    await admin.expect_message()
    await admin.expect_message()
    await admin.press("⛔ Close programme")
    assert "Status: closed" in (await admin.expect_message()).text

    # The inquiry moved on, and a next step agreed.
    menu = await admin.send_and_wait("/start")
    await admin.press_data(menu.message_id, "iq:status:1")
    await admin.expect_message()
    await admin.press("meeting arranged")
    await admin.expect_callback_answer()
    await admin.press_data(menu.message_id, "iq:step:1")
    await wait_text(admin, "What is to be done?")
    await admin.send("Send the lab's equipment list")
    await wait_text(admin, "Who does it?")
    await admin.press("王老师")
    await wait_text(admin, "By when?")
    await admin.send("2030-12-03 9:30")
    await wait_text(admin, "note")
    await admin.send("-")
    await wait_text(admin, "Please check before saving")
    await admin.press("✅ Save")
    await wait_text(admin, "Next step #1 saved")

    # An invite, redeemed by a newcomer (a role change), then an announcement.
    invite = await admin.send_and_wait("/invite")
    token = re.search(r"inv_([A-Za-z0-9_\-]+)", invite.text)
    assert token is not None
    newcomer = tg.user(NEWCOMER_ID, first_name="Zhang", language_code="zh")
    await newcomer.send_and_wait(f"/start inv_{token.group(1)}")
    await admin.send_and_wait("/broadcast")
    await admin.send_and_wait("Open day on <b>3 Dec</b>")
    await admin.send_and_wait("-")
    await admin.send_and_wait("-")
    await admin.press("Everyone (")
    await admin.expect_message()
    await admin.press("✅ Save")
    await wait_text(admin, "Ready to send")
    await admin.press("🚀 Send now")
    await wait_text(admin, "sending")

    stored = await entries(bot)
    assert [(e.action, e.actor_id) for e in stored] == [
        (Action.PROGRAM_CREATE, ADMIN_ID),
        (Action.PROGRAM_EDIT, ADMIN_ID),
        (Action.PROGRAM_STATUS, ADMIN_ID),
        (Action.INQUIRY_STATUS, ADMIN_ID),
        (Action.STEP_CREATE, ADMIN_ID),
        (Action.INVITE_CREATE, ADMIN_ID),
        (Action.ROLE_TEACHER, NEWCOMER_ID),
        (Action.BROADCAST_SEND, ADMIN_ID),
    ]
    assert stored[2].subject == f"program:{lab}"
    assert stored[2].detail.endswith("⟦status.open⟧ → ⟦status.closed⟧")
    assert stored[3].detail == "⟦istatus.new⟧ → ⟦istatus.meeting⟧"
    assert stored[3].subject == "inquiry:1"
    assert token.group(1) not in stored[5].subject + stored[5].detail  # the link stays secret

    await admin.send("/audit")
    page = await wait_text(admin, "Audit trail")
    assert "Page 1 of 1 · 8 entries · times in Beijing time" in page.text
    shown = page.text
    order = [
        "Announcement sent", "Became a teacher (invite)", "Invite link created",
        "Next step added", "Inquiry status changed", "Programme opened/closed",
        "Programme edited", "Programme created",
    ]  # fmt: skip
    positions = [shown.index(name) for name in order]
    assert positions == sorted(positions)  # newest first
    assert shown.count("Admin (9001)") == 7 and "Zhang (5002)" in shown
    assert "inquiry:1" in shown and "new → meeting arranged" in shown and "⟦" not in shown
    # What an admin typed is shown as text, never as markup.
    assert "Robots &lt;b&gt;&amp; Co" in (page.raw_text or "")
    assert "Robots <b>& Co" in page.text
    assert page.button_labels() == ["⬇️ Export (CSV and XLSX)"]  # one page: no paging
    local = format_clock(stored[0].at, "en", bot.settings.tz)
    assert local in shown

    await admin.send_and_wait("/language")
    await admin.press("简体中文")
    await admin.expect_message()
    await admin.send("/audit")
    zh = await wait_text(admin, "操作记录")
    assert "第 1/1 页 · 共 8 条 · 时间为北京时间" in zh.text
    assert "新提交 → 已约洽谈" in zh.text and "⟦" not in zh.text  # details in Chinese too
    for action in Action:
        if action in {e.action for e in stored}:
            assert t("zh", f"audit.act.{action.value}") in zh.text
    assert "Admin（9001）" in zh.text and "发送公告" in zh.text and "新建项目" in zh.text


async def test_paging_export_and_escaping(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    await admin.send_and_wait("/start")  # the admin's user record, for the name
    empty = await admin.send_and_wait("/audit")
    assert "Nothing recorded yet" in empty.text and empty.button_labels() == []
    moment = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)  # 16:00 in Asia/Shanghai
    async with bot.sessions() as session, session.begin():
        for n in range(1, 26):
            with time_machine.travel(moment + timedelta(minutes=n), tick=False):
                detail = "=1+2 <b>& not bold" if n == 3 else f"entry {n}"
                actor = None if n == 1 else ADMIN_ID
                await audit.record(session, actor, Action.PROGRAM_EDIT, f"program:{n}", detail)

    first = await admin.send_and_wait("/audit")
    assert "Page 1 of 3 · 25 entries" in first.text
    assert "entry 25" in first.text and "entry 16" in first.text and "entry 15" not in first.text
    assert re.search(r"Sun 1 Mar( 2026)?, 16:25 · Admin \(9001\)", first.text), first.text
    assert first.button_labels() == ["Next ▶️", "⬇️ Export (CSV and XLSX)"]

    await admin.press("Next ▶️")
    second = await admin.expect_message()
    assert second.message_id == first.message_id  # the same message, edited
    assert "Page 2 of 3" in second.text
    assert "entry 15" in second.text and "entry 6" in second.text
    assert "entry 16" not in second.text and "entry 5" not in second.text
    assert second.button_labels()[:2] == ["◀️ Previous", "Next ▶️"]

    await admin.press("Next ▶️")
    third = await admin.expect_message()
    assert "Page 3 of 3" in third.text and "entry 5" in third.text
    assert "Next ▶️" not in third.button_labels()
    assert "command line (system)" in third.text  # entry 1 had no actor
    assert "=1+2 &lt;b&gt;&amp; not bold" in (third.raw_text or "")

    await admin.press("◀️ Previous")
    back = await admin.expect_message()
    assert "Page 2 of 3" in back.text and "entry 15" in back.text
    await admin.press("◀️ Previous")
    top = await admin.expect_message()
    assert "Page 1 of 3" in top.text and "◀️ Previous" not in top.button_labels()
    assert top.message_id == first.message_id

    await admin.press("⬇️ Export (CSV and XLSX)")
    csv_doc = await admin.expect_message()
    xlsx_doc = await admin.expect_message()
    assert csv_doc.document_name is not None and csv_doc.document_name.endswith(".csv")
    assert xlsx_doc.document_name is not None and xlsx_doc.document_name.endswith(".xlsx")
    assert "25 entries" in (csv_doc.caption or "")
    assert csv_doc.document_bytes is not None and xlsx_doc.document_bytes is not None
    table = list(csv.reader(io.StringIO(csv_doc.document_bytes.decode("utf-8-sig"))))
    headers = [t("en", f"export.audit.{c}") for c in audit.COLUMNS]  # the admin's language
    assert table[0] == headers and headers[0] == "No."
    rows = [dict(zip(audit.COLUMNS, r, strict=True)) for r in table[1:]]
    assert len(rows) == 25
    assert [r["id"] for r in rows] == [str(n) for n in range(1, 26)]  # oldest first
    assert rows[0]["actor_id"] == "" and rows[0]["actor"] == "command line (system)"
    assert rows[1]["actor"] == "Admin" and rows[1]["actor_id"] == str(ADMIN_ID)
    assert rows[1]["action"] == "program.edit" and rows[1]["action_name"] == "Programme edited"
    assert rows[1]["at_utc"] == "2026-03-01T08:02:00Z"
    assert rows[1]["at_local"] == "2026-03-01T16:02:00+08:00"
    assert rows[2]["detail"] == "'=1+2 <b>& not bold"  # a spreadsheet would run it
    sheet = load_workbook(io.BytesIO(xlsx_doc.document_bytes)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 26 and values[0] == tuple(headers)
    assert values[3][8] == "=1+2 <b>& not bold"  # kept as text in XLSX


async def test_non_admins_are_refused(bot: BotRunner, tg: FakeTelegram) -> None:
    async with bot.sessions() as session, session.begin():
        await audit.record(session, ADMIN_ID, Action.PROGRAM_EDIT, "program:1", "secret detail")
    await add_teacher(bot.sessions, TEACHER_ID, "王老师")
    for user, lang in (
        (tg.user(7001, first_name="Bob", language_code="en"), "en"),
        (tg.user(TEACHER_ID, first_name="Wang", language_code="zh"), "zh"),  # a teacher
    ):
        own = await user.send_and_wait("/audit")
        assert t(lang, "admin.only") in own.text and "secret detail" not in own.text
        for data in ("au:p", "au:p:1", "au:x"):
            await user.press_data(own.message_id, data)
            answer = await user.expect_callback_answer()
            assert answer["text"] == t(lang, "button.stale")
        assert all(m.document is None for m in user.messages())
        assert all("secret detail" not in m.text for m in user.messages())


async def test_rejected_import_is_not_recorded_and_cli_import_is(
    bot: BotRunner, tg: FakeTelegram, tmp_path: Path
) -> None:
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    good = {name: "" for name in PROGRAM_COLUMNS} | {
        "code": "AU-1", "kind": "training", "department_code": "AU",
        "department_en": "Audit School", "title_en": "Audit training",
    }  # fmt: skip
    bad = good | {"kind": "nonsense"}
    await admin.send_document(write_rows([bad], FileFormat.CSV), "bad.csv")
    assert "was not imported" in (await admin.expect_message()).text
    assert await entries(bot) == []  # nothing imported, nothing recorded

    path = tmp_path / "catalogue.csv"
    path.write_bytes(write_rows([good], FileFormat.CSV))
    env = {k: v for k, v in os.environ.items() if k not in ("ADMIN_IDS", "LOG_LEVEL")}
    env |= {"BOT_TOKEN": TOKEN, "DATABASE_URL": bot.settings.database_url, "LOG_LEVEL": "WARNING"}
    # In a thread: the running bot keeps serving (and releasing its locks) meanwhile.
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", "programs", "import", str(path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [entry] = await entries(bot)
    assert entry.action == "programs.import" and entry.actor_id is None
    assert entry.detail.startswith("catalogue.csv: 1 rows: 1 created")
    shown = await admin.send_and_wait("/audit")
    assert "Programmes imported · programs" in shown.text
    assert "command line (system)" in shown.text


ADMIN = Person(ADMIN_ID, "Admin", "en", Role.ADMIN)


# --- The services, without Telegram (real databases) ---------------------------------------


def test_every_action_has_words_in_both_languages() -> None:
    for action in Action:
        for lang in ("en", "zh"):
            assert audit.action_name(lang, action.value) != action.value, (lang, action)
    assert audit.action_name("en", "gone.away") == "gone.away"  # old codes shown as they are


async def test_a_rolled_back_action_leaves_no_entry(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed_catalog(sessions, count=1)
    lab = await special_id(sessions, "LAB-AI")
    with pytest.raises(RuntimeError):
        async with sessions() as session, session.begin():
            closed = await catalog.set_status(session, ADMIN, lab, ProgramStatus.CLOSED.value)
            assert closed is not None
            raise RuntimeError("the unit of work fails after the change")
    async with sessions() as session:
        program = await session.get(Program, lab)
        assert program is not None and program.status is ProgramStatus.OPEN
        assert list(await session.scalars(select(AuditEntry))) == []
    async with sessions() as session, session.begin():  # the same change, committed
        await catalog.set_status(session, ADMIN, lab, ProgramStatus.CLOSED.value)
        await catalog.set_status(session, ADMIN, lab, ProgramStatus.CLOSED.value)
    async with sessions() as session:
        [entry] = await session.scalars(select(AuditEntry))  # closing twice: one change
    assert (entry.action, entry.actor_id) == ("program.status", ADMIN_ID)


async def test_steps_broadcasts_assignments_and_admin_invites(
    sessions: async_sessionmaker[AsyncSession], make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    admin = Person(ADMIN_ID, "Admin", "en", Role.ADMIN)
    await seed_catalog(sessions, count=1)
    await add_teacher(sessions, TEACHER_ID, "王老师")
    async with sessions() as session, session.begin():
        session.add_all([User(id=ADMIN_ID, first_name="Admin", language="en"),
                         User(id=CONTACT_ID, first_name="Li", language="en")])  # fmt: skip
        await session.flush()
        session.add(Inquiry(user_id=CONTACT_ID, kind=InquiryKind.QUESTION, message="Visit?"))
    due = datetime(2030, 1, 2, 3, 0, tzinfo=UTC)
    async with sessions() as session, session.begin():
        await pipeline.assign_to(session, settings, admin, 1)
        await pipeline.staff_reply(session, settings, admin, 1, "Welcome!")
        first = await next_steps.create(
            session, settings, admin, inquiry_id=1, title="Visit <lab>", owner_id=TEACHER_ID,
            due_at=due,
        )  # fmt: skip
        second = await next_steps.create(
            session, settings, admin, inquiry_id=1, title="Sign", owner_id=TEACHER_ID, due_at=due
        )
    teacher = Person(TEACHER_ID, "王老师", "zh", Role.TEACHER)
    async with sessions() as session, session.begin():
        await next_steps.reschedule(session, settings, teacher, first.id, due + timedelta(days=1))
        await next_steps.complete(session, settings, teacher, first.id)
        await next_steps.cancel(session, settings, admin, second.id)
        draft = await broadcasts.create_draft(
            session, settings, admin, {"text": "Hello", "audience": "all"}
        )
        await broadcasts.schedule(session, settings, admin, draft.id, due)
        await broadcasts.send_now(session, settings, admin, draft.id, "bot", None)
        for how in ("pause", "resume", "cancel"):
            await broadcasts.steer(session, settings, admin, draft.id, how)
        invite = await roles.create_invite(
            session, admin=admin, role=Role.ADMIN, ttl=timedelta(hours=1)
        )
        assert isinstance(invite, Invite)
        await roles.redeem_invite(
            session, token=invite.token, user_id=TEACHER_ID, admin_ids=settings.admin_ids
        )
    async with sessions() as session:
        stored = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.action, e.actor_id, e.subject) for e in stored] == [
        ("inquiry.assign", ADMIN_ID, "inquiry:1"),
        ("inquiry.reply", ADMIN_ID, "inquiry:1"),
        ("step.create", ADMIN_ID, f"step:{first.id}"),
        ("step.create", ADMIN_ID, f"step:{second.id}"),
        ("step.edit", TEACHER_ID, f"step:{first.id}"),
        ("step.done", TEACHER_ID, f"step:{first.id}"),
        ("step.cancel", ADMIN_ID, f"step:{second.id}"),
        ("broadcast.schedule", ADMIN_ID, f"broadcast:{draft.id}"),
        ("broadcast.send", ADMIN_ID, f"broadcast:{draft.id}"),
        ("broadcast.pause", ADMIN_ID, f"broadcast:{draft.id}"),
        ("broadcast.resume", ADMIN_ID, f"broadcast:{draft.id}"),
        ("broadcast.cancel", ADMIN_ID, f"broadcast:{draft.id}"),
        ("invite.create", ADMIN_ID, f"invite:{invite.token[:4]}…"),
        ("role.admin", TEACHER_ID, f"user:{TEACHER_ID}"),
    ]
    details = [e.detail for e in stored]
    assert details[1] == "⟦istatus.new⟧ → ⟦istatus.contacted⟧"
    assert details[2] == (
        f"⟦audit.w.inquiry⟧ #1: Visit <lab> · ⟦audit.w.owner⟧ {TEACHER_ID} · "
        "⟦audit.w.due⟧ ⟦t:2030-01-02 03:00Z⟧"
    )
    assert details[4] == (
        "Visit <lab>: ⟦audit.w.due⟧ ⟦t:2030-01-02 03:00Z⟧ → ⟦t:2030-01-03 03:00Z⟧"
    )
    assert details[8] == "⟦bc.seg_all⟧: 3 ⟦audit.w.recipients⟧ · Hello"
    assert details[13] == f"⟦role.teacher⟧ → ⟦role.admin⟧ · ⟦audit.w.invited_by⟧ {ADMIN_ID}"
    # Each reader reads them in their language and zone (Asia/Shanghai here).
    tz = ZoneInfo("Asia/Shanghai")
    assert shown_detail("en", details[2], tz) == (
        f"inquiry #1: Visit <lab> · owner {TEACHER_ID} · due Wed 2 Jan 2030, 11:00"
    )
    assert shown_detail("zh", details[2], tz) == (
        f"咨询 #1: Visit <lab> · 负责人 {TEACHER_ID} · 截止 2030年1月2日（周三）11:00"
    )
    assert shown_detail("zh", details[13], tz) == f"教师 → 管理员 · 邀请人 {ADMIN_ID}"
    assert invite.token not in "".join(e.subject + e.detail for e in stored)


async def test_a_crowded_page_still_fits_one_message(bot: BotRunner, tg: FakeTelegram) -> None:
    long_name = "Alexandra-" + "😀" * 54  # Telegram allows 64 characters per name
    admin = tg.user(ADMIN_ID, first_name=long_name, last_name="Q" * 64, language_code="en")
    await admin.send_and_wait("/start")
    async with bot.sessions() as session, session.begin():
        for n in range(10):
            detail = f"#{n} " + "🎉&<" * 160  # the whole 500 kept, emoji count twice
            await audit.record(session, ADMIN_ID, Action.PROGRAM_EDIT, f"program:{n}", detail)
    page = await admin.send_and_wait("/audit")  # the fake server refuses over 4096
    assert "Page 1 of 1 · 10 entries" in page.text and page.text.count(f"({ADMIN_ID})") == 10
    assert "#9 🎉&<" in page.text  # details shortened, not dropped, while they fit
