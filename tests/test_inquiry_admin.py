"""Admin views of the inquiry pipeline: /inquiries, /stats, /export_inquiries and the CLI export."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.inquiries.board import ListState
from bot.inquiries.export import COLUMNS
from bot.ui.i18n import format_time, t
from storage.models import (
    EnterpriseProfile,
    Inquiry,
    InquiryEvent,
    InquiryKind,
    InquiryStatus,
    Role,
    User,
)
from storage.next_steps import claim_mark
from tests.constants import ADMIN_ID, TOKEN
from tests.fakebot import FakeTelegram, FakeUser
from tests.fakebot.models import SentMessage, image_size
from tests.harness import BotRunner
from tests.seed import seed_catalog, special_id

Sessions = async_sessionmaker[AsyncSession]
TZ = ZoneInfo("Asia/Shanghai")
USERNAME = "acme_secret_handle"
TEACHER = 8001
NOW = datetime.now(UTC).replace(microsecond=0)
# Inquiry 13's times, for the timeline and the export.
CREATED_13 = NOW - timedelta(days=3)
NEW, CONTACTED, MEETING = InquiryStatus.NEW, InquiryStatus.CONTACTED, InquiryStatus.MEETING
# Inquiries 1..12: interest in JR-00001..12, this status each, 39..28 days old.
# Already escalated: the first-response reminders (another feature) leave them be, so the
# only messages in the admin's chat are the ones these tests ask for.
ESCALATED = 2
STATUSES = [NEW] * 6 + [CONTACTED] * 3 + [
    MEETING, InquiryStatus.AGREEMENT, InquiryStatus.DECLINED,
]  # fmt: skip


async def seed(sessions: Sessions) -> None:
    """14 inquiries: 12 about joint research, 1 about incubation (closed, with a full
    timeline), 1 general question; 11 open. Ids 1..14 in that order."""
    ids = await seed_catalog(sessions, count=12)
    incubation = await special_id(sessions, "INC-1")
    async with sessions() as session, session.begin():
        session.add_all(
            [
                User(id=7001, first_name="Bob", username=USERNAME, language="en"),
                User(id=7002, first_name="雷", username="li_lei_tg", language="zh"),
                User(id=TEACHER, first_name="Wang", last_name="Fang", language="en",
                     role=Role.TEACHER),
            ]
        )  # fmt: skip
        await session.flush()
        session.add_all(
            [
                EnterpriseProfile(
                    user_id=7001, organization="Acme & Sons", contact_person="Bob Smith",
                    phone="022-1234 5678", email="bob@acme.example", consent_at=NOW,
                ),
                EnterpriseProfile(
                    user_id=7002, organization="天津智造有限公司", contact_person="李雷",
                    phone="+86 138 0000 0000", email="li@example.cn", consent_at=NOW,
                ),
            ]
        )  # fmt: skip
        await session.flush()
        for n, (program_id, status) in enumerate(zip(ids, STATUSES, strict=True), start=1):
            forgotten = n == 12  # the contact used /forget: anonymous, message blanked
            session.add(
                Inquiry(
                    user_id=None if forgotten else 7001, program_id=program_id,
                    kind=InquiryKind.INTEREST, status=status,
                    message="" if forgotten else f"Interested in project {n}",
                    organization="Acme & Sons",
                    created_at=NOW - timedelta(days=40 - n, hours=1), escalation=ESCALATED,
                )
            )  # fmt: skip
            await session.flush()
        closed = Inquiry(
            user_id=7002, program_id=incubation, kind=InquiryKind.INTEREST,
            status=InquiryStatus.CLOSED, message="We want <b>bold</b> plans & more",
            organization="天津智造有限公司", assignee_id=TEACHER, created_at=CREATED_13,
            first_response_at=CREATED_13 + timedelta(hours=2), escalation=ESCALATED,
        )  # fmt: skip
        session.add(closed)
        await session.flush()
        session.add_all(
            [
                InquiryEvent(inquiry_id=closed.id, actor_id=7002, kind="created",
                             created_at=CREATED_13),
                InquiryEvent(inquiry_id=closed.id, actor_id=TEACHER, kind="assigned",
                             public=False, created_at=CREATED_13 + timedelta(hours=2)),
                InquiryEvent(inquiry_id=closed.id, actor_id=TEACHER, kind="reply",
                             text="我们下周联系您", created_at=CREATED_13 + timedelta(hours=3)),
                InquiryEvent(inquiry_id=closed.id, actor_id=TEACHER, kind="status",
                             status=InquiryStatus.CLOSED,
                             created_at=CREATED_13 + timedelta(days=1)),
            ]
        )  # fmt: skip
        session.add(
            Inquiry(
                user_id=7001, program_id=None, kind=InquiryKind.QUESTION, status=NEW,
                message="有哪些实习岗位？", organization="Acme & Sons",
                created_at=NOW - timedelta(hours=2), escalation=ESCALATED,
            )
        )  # fmt: skip
        # Weeks-old inquiries would have the quiet nudges and the morning digest come in
        # between, depending on the hour the suite runs (test_quiet tests those): this
        # spell counts as nudged, and the digests of these days as sent.
        await session.flush()
        await session.execute(update(Inquiry).values(quiet_nudged_at=datetime.now(UTC)))
        today = datetime.now(TZ).date()
        for n in (-1, 0, 1):  # yesterday's, today's and tomorrow's (a run across midnight)
            await claim_mark(session, f"digest:{(today + timedelta(days=n)).isoformat()}")


def status(value: InquiryStatus) -> str:
    return t("en", f"istatus.{value.value}")


def label(n: int) -> str:
    if n == 14:
        return f"#14 · General question · {status(NEW)}"
    if n == 13:
        return f"#13 · 天开高教科创园孵化平台 · {status(InquiryStatus.CLOSED)}"
    return f"#{n} · Joint project {n:05d} · {status(STATUSES[n - 1])}"


def items(labels: list[str]) -> list[str]:
    return [x for x in labels if x.startswith("#")]


async def admin_of(bot: BotRunner, tg: FakeTelegram, lang: str = "en") -> FakeUser:
    await seed(bot.sessions)
    return tg.user(ADMIN_ID, first_name="Admin", language_code=lang)


async def test_list_pages_and_filters(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = await admin_of(bot, tg)
    first = await admin.send_and_wait("/inquiries")
    assert "Page 1 of 2 · 14 inquiries" in first.text
    assert items(first.button_labels()) == [label(n) for n in range(14, 6, -1)]
    assert "◀️ Previous" not in first.button_labels()
    await admin.press("Next ▶️")
    second = await admin.expect_message()
    assert second.message_id == first.message_id  # edited in place
    assert "Page 2 of 2" in second.text
    assert items(second.button_labels()) == [label(n) for n in range(6, 0, -1)]
    assert "Next ▶️" not in second.button_labels()
    await admin.press("◀️ Previous")
    again = await admin.expect_message()
    assert "Page 1 of 2" in again.text

    # Status: contacted only.
    await admin.press("Status: all")
    picker = await admin.expect_message()
    assert picker.button_labels()[:2] == ["✅ all", "open only"]
    await admin.press(status(CONTACTED))
    contacted = await admin.expect_message()
    assert contacted.message_id == first.message_id
    assert "Page 1 of 1 · 3 inquiries" in contacted.text
    assert items(contacted.button_labels()) == [label(9), label(8), label(7)]
    # … and of the incubation kind: nothing.
    await admin.press("Kind: all")
    await admin.expect_message()
    await admin.press(t("en", "kind.incubation"))
    none = await admin.expect_message()
    assert "No inquiries match these filters." in none.text
    assert items(none.button_labels()) == []
    # Any status, incubation: the closed one.
    await admin.press("Status: ")
    await admin.expect_message()
    await admin.press("all")
    incubation = await admin.expect_message()
    assert items(incubation.button_labels()) == [label(13)]
    # Open only, any kind.
    await admin.press("Kind: ")
    await admin.expect_message()
    await admin.press("✅ " + t("en", "kind.incubation"))  # choosing it again is harmless
    await admin.expect_message()
    await admin.press("Kind: ")
    await admin.expect_message()
    await admin.press("all")
    await admin.expect_message()
    await admin.press("Status: ")
    await admin.expect_message()
    await admin.press("open only")
    opened = await admin.expect_message()
    assert "Page 1 of 2 · 11 inquiries" in opened.text
    assert items(opened.button_labels())[:2] == [label(14), label(10)]
    # Older than 30 days: inquiries 1..10 (39..30 days old), 8 of the open ones.
    await admin.press("Age: any")
    await admin.expect_message()
    await admin.press("older than 30 days")
    old = await admin.expect_message()
    assert "Status: open only · Kind: all · Age: older than 30 days" in old.text
    assert "Page 1 of 2 · 10 inquiries" in old.text
    await admin.press("Next ▶️")
    old2 = await admin.expect_message()
    assert items(old2.button_labels()) == [label(2), label(1)]


async def test_program_filter_and_staff_view(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = await admin_of(bot, tg)
    one = await admin.send_and_wait("/inquiries program JR-00003")
    assert "Programme: JR-00003" in one.text
    assert items(one.button_labels()) == [label(3)]
    await admin.press("✖ Programme JR-00003")
    everything = await admin.expect_message()
    assert "14 inquiries" in everything.text
    unknown = await admin.send_and_wait("/inquiries program NOPE<1>")
    assert "No programme has the code NOPE<1>." in unknown.text
    usage = await admin.send_and_wait("/inquiries whatever")
    assert "Usage: /inquiries" in usage.text

    listing = await admin.send_and_wait("/inquiries")
    await admin.press(label(13))
    view = await admin.expect_message()
    assert view.message_id == listing.message_id
    text = view.text
    assert "Inquiry #13 · interest in a programme" in text
    assert f"Status: {status(InquiryStatus.CLOSED)}" in text
    assert "Programme: INC-1 · 天开高教科创园孵化平台 (" in text
    assert "Organisation: 天津智造有限公司" in text
    assert "Contact person: 李雷" in text
    assert "Assigned to: Wang Fang" in text
    assert "We want <b>bold</b> plans & more" in text  # shown as typed…
    assert "&lt;b&gt;bold&lt;/b&gt; plans &amp; more" in str(view.raw_text)  # …escaped
    assert f"• {format_time(CREATED_13, 'en', TZ)} — received" in text
    assert "taken on by Wang Fang (internal)" in text  # internal events are shown to staff
    assert "answer from Wang Fang: 我们下周联系您" in text
    assert f"status set to {status(InquiryStatus.CLOSED)} by Wang Fang" in text
    assert USERNAME not in text and "li_lei_tg" not in text
    await admin.press("⬅️ Back")
    back = await admin.expect_message()
    assert items(back.button_labels()) == items(listing.button_labels())

    # Page 2, open #1, Back: page 2 again.
    await admin.press("Next ▶️")
    await admin.expect_message()
    await admin.press(label(1))
    first = await admin.expect_message()
    assert "Inquiry #1 ·" in first.text and "Message:" in first.text
    await admin.press("⬅️ Back")
    page2 = await admin.expect_message()
    assert "Page 2 of 2" in page2.text


async def test_forged_and_stale_buttons(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = await admin_of(bot, tg)
    listing = await admin.send_and_wait("/inquiries")
    here = listing.message_id
    good = ListState().args()
    forged = [
        "ia:l:bogus:-:0:0:1",
        "ia:l:-:99:0:0:1",
        "ia:l:-:-:5:0:1",
        "ia:l:-:-:0:0:0",
        "ia:l:-:-:0",
        "ia:f:x:" + ":".join(good),
        "ia:o:999999:" + ":".join(good),
        "ia:o:abc:" + ":".join(good),
        "ia:zz",
        "ia:l:-:-:0:0:1:extra",
    ]
    await admin.press_data(here, "ia:l:-:-:0:0:2")
    assert "Page 2 of 2" in (await admin.expect_message()).text
    for data in forged:
        await admin.press_data(here, data)
        answer = await admin.expect_callback_answer()
        assert answer.get("text") == "This button is no longer valid.", data
        # The page pressed on stays as it was: a refusal changes nothing.
        assert "Page 2 of 2" in admin.messages()[-1].text, data
    # A page past the end shows the last page.
    await admin.press_data(here, "ia:l:-:-:0:0:1")
    assert "Page 1 of 2" in (await admin.expect_message()).text
    await admin.press_data(here, "ia:l:-:-:0:0:99")
    last = await admin.expect_message()
    assert "Page 2 of 2" in last.text


PNG = b"\x89PNG\r\n\x1a\n"
CHART_SECONDS = 30  # the first chart of a fresh machine waits for matplotlib's font cache


def check_chart(message: SentMessage) -> None:
    """A PNG of the chart's size (1200 × 420), no pixel checks."""
    assert message.photo is not None and message.photo_file is not None, message
    assert message.photo[:8] == PNG
    assert image_size(message.photo) == (1200, 420)
    assert 10_000 < len(message.photo) < 500_000


def save_chart(message: SentMessage, lang: str) -> None:
    """PARTNERBOT_CHART_DIR=docs keeps the chart the README shows (docs/stats-chart-*.png)."""
    folder = os.environ.get("PARTNERBOT_CHART_DIR")
    if folder and message.photo is not None:
        (Path(folder) / f"stats-chart-{lang}.png").write_bytes(message.photo)


async def test_stats(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = await admin_of(bot, tg)
    stats = await admin.send_and_wait("/stats", timeout=CHART_SECONDS)
    check_chart(stats)
    save_chart(stats, "en")
    text = stats.text  # the caption
    assert "Inquiry statistics" in text
    for value, n in [
        (NEW, 7), (CONTACTED, 3), (MEETING, 1), (InquiryStatus.AGREEMENT, 1),
        (InquiryStatus.DECLINED, 1), (InquiryStatus.CLOSED, 1),
    ]:  # fmt: skip
        assert f"• {status(value)}: {n}" in text
    assert f"• {t('en', 'kind.joint_research')}: 12" in text
    assert f"• {t('en', 'kind.incubation')}: 1" in text
    assert f"• {t('en', 'kind.training')}: 0" in text  # zeros included
    assert "• General questions: 1" in text
    assert "Total: 14 inquiries, 11 of them open" in text
    # The funnel: how far each got (#13's history has no stage beyond "new" but its
    # close); the weeks: #13 (3 days old) and #14 (2 hours) within the last 12, #1..#12
    # are 28..39 days old, all within too; #13 alone was answered, after 2 hours.
    assert (
        f"received 14 → {status(CONTACTED)} 5 → {status(MEETING)} 2 → "
        f"{status(InquiryStatus.AGREEMENT)} 1"
    ) in text
    assert "Last 12 weeks: 14 received" in text
    assert "Median time to first response: 2.0 h (1 of 14 answered)" in text


async def test_stats_in_chinese(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = await admin_of(bot, tg, lang="zh-hans")
    stats = await admin.send_and_wait("/stats", timeout=CHART_SECONDS)
    check_chart(stats)
    save_chart(stats, "zh")
    assert "合作咨询统计" in stats.text and "按状态" in stats.text
    assert f"• {t('zh', 'kind.joint_research')}：12" in stats.text
    assert "合计：14 条咨询，其中 11 条未结" in stats.text
    assert "已收到 14 → 已联系 5 → 已约洽谈 2 → 已达成合作 1" in stats.text
    assert "近 12 周：共收到 14 条" in stats.text
    assert "首次答复用时中位数：2.0 小时（14 条中已答复 1 条）" in stats.text
    assert not re.search(r"[A-Za-z]", stats.text)  # no English on a Chinese screen
    listing = await admin.send_and_wait("/inquiries")
    assert "第 1/2 页 · 共 14 条咨询" in listing.text
    assert items(listing.button_labels())[0].startswith("#14 · 一般问题 · ")


def check_rows(rows: list[list[str]], lang: str | None = None) -> None:
    """The export as stored codes (the CLI's, for scripts), or as `lang` reads it (the
    chat's: the header row, statuses and kinds in the admin's language)."""

    def word(prefix: str, code: str) -> str:
        return code if lang is None else t(lang, prefix + code)

    headers = list(COLUMNS) if lang is None else [t(lang, f"export.inq.{c}") for c in COLUMNS]
    assert rows[0] == headers
    data = [dict(zip(COLUMNS, r, strict=True)) for r in rows[1:]]
    assert [r["id"] for r in data] == [str(n) for n in range(1, 15)]
    closed = data[12]
    assert closed["program_code"] == "INC-1"
    assert closed["program_title_zh"] == "天开高教科创园孵化平台"
    assert closed["program_kind"] == word("kind.", "incubation")
    assert closed["inquiry_kind"] == word("export.ikind.", "interest")
    assert closed["status"] == word("istatus.", "closed")
    assert closed["organization"] == "天津智造有限公司"
    assert closed["contact_person"] == "李雷"
    assert closed["phone"] == "+86 138 0000 0000"
    assert closed["email"] == "li@example.cn"
    assert closed["message"] == "We want <b>bold</b> plans & more"
    assert closed["assignee"] == "Wang Fang"
    assert closed["created_utc"] == CREATED_13.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert closed["created_local"] == CREATED_13.astimezone(TZ).isoformat(timespec="seconds")
    assert closed["created_local"].endswith("+08:00")
    assert float(closed["first_response_hours"]) == 2.0
    forgotten = data[11]
    assert forgotten["contact_person"] == forgotten["phone"] == forgotten["email"] == ""
    assert forgotten["message"] == ""
    question = data[13]
    assert question["program_code"] == ""
    assert question["inquiry_kind"] == word("export.ikind.", "question")
    assert question["message"] == "有哪些实习岗位？"
    assert question["organization"] == "Acme & Sons"


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def xlsx_rows(content: bytes) -> list[list[str]]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    sheet = book.worksheets[0]
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    return rows


async def test_export_in_chat(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = await admin_of(bot, tg)
    for arg, parse in (("csv", csv_rows), ("xlsx", xlsx_rows), ("", xlsx_rows)):
        message = await admin.send_and_wait(f"/export_inquiries {arg}".strip())
        assert message.document is not None, message
        name = str(message.document.filename)
        assert name.startswith("inquiries-") and name.endswith("." + (arg or "xlsx"))
        assert "14 inquiries" in message.text
        content = message.document.content
        check_rows(parse(content), "en")
        for secret in (USERNAME, "li_lei_tg"):
            assert secret.encode() not in content
            assert all(secret not in cell for row in parse(content) for cell in row)
    usage = await admin.send_and_wait("/export_inquiries yaml")
    assert "Usage: /export_inquiries" in usage.text
    await admin.send_and_wait("/language")
    await admin.press("简体中文")
    await admin.expect_message()
    sheet = await admin.send_and_wait("/export_inquiries")
    assert sheet.document is not None
    rows = xlsx_rows(sheet.document.content)
    check_rows(rows, "zh")  # 编号, 收到时间（UTC）… and 已结束, 合作意向
    assert rows[0][0] == "编号" and not any(c.isascii() and c.isalpha() for c in rows[0][-1])


async def test_non_admin_is_refused(bot: BotRunner, tg: FakeTelegram) -> None:
    await seed(bot.sessions)
    someone = tg.user(5555, first_name="Zhang", language_code="en")
    for command in ("/inquiries", "/inquiries program JR-00001"):
        refused = await someone.send_and_wait(command)
        assert "Only the college's teachers and admins" in refused.text, command
        assert not items(refused.button_labels())
    for command in ("/stats", "/export_inquiries csv"):
        refused = await someone.send_and_wait(command)
        assert "only the college's admins" in refused.text, command
        assert refused.document is None
        assert not items(refused.button_labels())
    here = someone.messages()[-1].message_id
    for data in ("ia:l:-:-:0:0:1", "ia:o:13:-:-:0:0:1", "ia:f:s:-:-:0:0:1", "ia:junk"):
        await someone.press_data(here, data)
        answer = await someone.expect_callback_answer()
        assert answer.get("text") == "This button is no longer valid.", data
    # The message pressed on is left as it was.
    shown = someone.messages()[-1]
    assert "Main menu" in shown.text and not items(shown.button_labels())
    assert shown.edits == 0
    # A teacher is not an admin either.
    wang = tg.user(TEACHER, first_name="Wang", language_code="en")
    refused = await wang.send_and_wait("/export_inquiries")
    assert "only the college's admins" in refused.text


# --- The CLI -----------------------------------------------------------------------------


def cli(tmp_path: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ADMIN_IDS", "LOG_LEVEL", "TIMEZONE")}
    env |= {"BOT_TOKEN": TOKEN, "DATABASE_URL": db_url, "LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


async def test_cli_export(tmp_path: Path, db_url: str, sessions: Sessions) -> None:
    await seed(sessions)
    for ext, parse in (("csv", csv_rows), ("xlsx", xlsx_rows)):
        path = tmp_path / f"out.{ext}"
        result = cli(tmp_path, db_url, "inquiries", "export", str(path))
        assert result.returncode == 0, result.stderr
        assert f"Exported 14 inquiries to {path}" in result.stdout
        assert TOKEN not in result.stdout + result.stderr
        content = path.read_bytes()
        check_rows(parse(content))
        assert USERNAME.encode() not in content
    wrong = cli(tmp_path, db_url, "inquiries", "export", str(tmp_path / "out.yaml"))
    assert wrong.returncode == 2 and "unknown file type" in wrong.stderr
    assert not (tmp_path / "out.yaml").exists()
