"""Catalogue files through the bot: an admin uploads CSV/XLSX/YAML, /export sends a file back."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.catalog.files import read_rows, write_rows
from bot.catalog.imports import export_rows
from bot.formats.spreadsheets import FileFormat
from storage.models import Program
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotRunner

GOOD = (
    "code,kind,status,department_code,department_zh,department_en,title_zh,title_en\n"
    "JR-1,joint_research,open,SIE,信息与智能工程学院,School of Information,联合实验室,Joint lab\n"
    'TR-1,training,,SIE,,,定制培训班,"Custom class, <b>evening</b>"\n'
)
BAD = (
    "code,kind,department_code,department_en,title_en\n"
    "OK-1,training,D,Dept,Fine\n"
    "BAD-1,foo<script>,D,,x\n"
    "BAD-2,training,D,,\n"
)


# The two places that speak the fake server's file API.
async def upload(user: FakeUser, filename: str, data: bytes) -> None:
    await user.send_document(filename=filename, content=data)


async def received_file(user: FakeUser) -> tuple[str, bytes]:
    message = await user.expect_message()
    assert message.document is not None, message
    return str(message.document.filename), message.document.content


async def program_count(bot: BotRunner) -> int:
    async with bot.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Program)) or 0)


async def test_admin_uploads_a_good_file(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    await upload(admin, "catalog.csv", GOOD.encode("utf-8-sig"))
    reply = await admin.expect_message()
    assert "Imported catalog.csv: 2 created, 0 updated, 0 unchanged; 1 new departments" in (
        reply.text
    )
    assert await program_count(bot) == 2
    # The catalogue as YAML, uploaded again: every programme is found unchanged.
    await upload(admin, "catalog.yml", write_rows(await exported(bot), FileFormat.YAML))
    again = await admin.expect_message()
    assert "0 created, 0 updated, 2 unchanged" in again.text


async def test_bad_rows_are_listed_and_nothing_saved(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    await upload(admin, "bad.csv", BAD.encode())
    reply = await admin.expect_message()
    assert "bad.csv was not imported: 2 of 3 rows have problems" in reply.text
    assert "Row 3: kind 'foo<script>' is not one of" in reply.text
    assert "foo&lt;script&gt;" in (reply.raw_text or "")  # file content is escaped in the HTML
    assert "Row 4: a programme needs a title" in reply.text
    assert await program_count(bot) == 0


async def test_non_admin_upload_is_refused(bot: BotRunner, tg: FakeTelegram) -> None:
    someone = tg.user(5555, first_name="Zhang", language_code="en")
    await upload(someone, "catalog.csv", GOOD.encode())
    reply = await someone.expect_message()
    # Not imported: a contact's file is offered to go to the college with a question.
    assert "✉️ Ask the college, with this file" in reply.button_labels()
    assert await program_count(bot) == 0
    export = await someone.send_and_wait("/export")
    assert "only the college's admins" in export.text


async def test_other_file_types_are_explained(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    await upload(admin, "catalog.xls", b"\xd0\xcf\x11\xe0")
    reply = await admin.expect_message()
    assert ".csv, .xlsx, .yaml, .yml" in reply.text


async def exported(bot: BotRunner) -> list[dict[str, str]]:
    async with bot.sessions() as session:
        return await export_rows(session)


async def test_export_imports_back_unchanged(bot: BotRunner, tg: FakeTelegram) -> None:
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    await upload(admin, "catalog.csv", GOOD.encode())
    await admin.expect_message()
    before = await exported(bot)
    for fmt in ("", "csv", "yaml"):
        await admin.send(f"/export {fmt}".strip())
        name, data = await received_file(admin)
        expected = FileFormat(fmt or "xlsx")
        assert name.startswith("programs-") and name.endswith(f".{expected.value}")
        assert len(read_rows(data, expected).rows) == len(before)
        await upload(admin, name, data)
        reply = await admin.expect_message()
        assert "0 created, 0 updated, 2 unchanged" in reply.text
    assert await exported(bot) == before
