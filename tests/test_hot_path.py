"""The catalogue's hot path (issue 15): a press costs one round trip, its answer is
never lost silently, and the sender's cached recognition never outlives a role change."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.exc import OperationalError

from bot.ui.i18n import t
from storage.engine import create_engine, create_session_factory, unit_of_work
from storage.models import Program, Role, User
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram, FakeUser, SentMessage
from tests.harness import BotRunner
from tests.seed import seed_catalog

TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


async def open_first_page(bot: BotRunner, tg: FakeTelegram, user_id: int) -> FakeUser:
    await seed_catalog(bot.sessions, count=20)
    user = tg.user(user_id, first_name="Ada", language_code="en")
    await user.send_and_wait("/catalog")
    await user.press("By kind of cooperation")
    await user.expect_message()
    await user.press("Joint research & labs (21)")
    page = await user.expect_message()
    assert "Page 1 of 3" in page.text
    return user


async def test_press_answers_alongside_the_edit(bot: BotRunner, tg: FakeTelegram) -> None:
    user = await open_first_page(bot, tg, 4101)
    # A far-away Telegram: each call takes 0.5 s. One after the other, the edit would
    # reach it only once the answer had come back.
    tg.slow("answerCallbackQuery", 0.5)
    tg.slow("editMessageText", 0.5)
    await user.press("Next ▶️")
    page = await user.expect_message(timeout=10)
    assert "Page 2 of 3" in page.text
    assert (await user.expect_callback_answer()).get("text") is None
    answered = tg.calls_to("answerCallbackQuery")[-1]
    edited = tg.calls_to("editMessageText")[-1]
    assert abs(edited.time - answered.time) < 0.3, "the edit waited for the answer"


async def test_a_failed_answer_is_logged_and_the_press_still_works(
    bot: BotRunner, tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    user = await open_first_page(bot, tg, 4102)
    tg.fail_next("answerCallbackQuery", 400, TOO_OLD)
    with caplog.at_level(logging.WARNING, logger="bot.traffic.answers"):
        query_id = await user.press("Next ▶️")
        page = await user.expect_message()
        assert "Page 2 of 3" in page.text
        # The same person's next update runs only once this press is done, answer and all.
        await user.send_and_wait("/catalog")
    failed = [r.getMessage().lower() for r in caplog.records if r.name == "bot.traffic.answers"]
    telegram_said = TOO_OLD.split(": ", 1)[1]  # PTB drops "Bad Request: "
    assert failed == [f"answering button press {query_id} failed: {telegram_said}".lower()]
    assert query_id not in tg.callback_answers  # Telegram refused it: nothing pretends


def listed(page: SentMessage) -> str:
    """The programmes a list page shows: its buttons' labels."""
    return "\n".join(page.button_labels())


def plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


class Statements:
    """Every SQL statement the bot's engine runs while recording (SQLAlchemy's
    before_cursor_execute), for counting the hot path's work."""

    def __init__(self, bot: BotRunner) -> None:
        app = bot.app
        assert app is not None and app.bot_data.engine is not None
        self.engine = app.bot_data.engine.sync_engine
        self.seen: list[str] = []

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append(" ".join(statement.split()))

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def touching(self, table: str) -> list[str]:
        return [s for s in self.seen if re.search(rf"\b(FROM|JOIN|UPDATE|INTO) {table}\b", s)]


async def test_a_page_press_reads_nothing_while_the_catalogue_stands_still(
    bot: BotRunner, tg: FakeTelegram
) -> None:
    # SENDER_TTL and CHECK_EVERY are seconds; a loaded CI machine can take longer than
    # that between the first page and this press, so both are kept a minute here. Their
    # expiry is shown below and by tests/test_roles_invites.py and tests/test_forget.py.
    assert bot.app is not None
    bot.app.bot_data.senders.ttl = timedelta(minutes=1)
    bot.app.bot_data.search.version.check_every = 60.0
    user = await open_first_page(bot, tg, 4103)
    with Statements(bot) as sql:
        await user.press("Next ▶️")
        assert "Page 2 of 3" in (await user.expect_message()).text
        await user.expect_callback_answer()
    # The engines (outbox, reminders) poll meanwhile: only the press's own tables count.
    assert sql.touching("programs") == [], "the catalogue's version was read again"
    assert sql.touching("users") == [], "the sender was read again seconds after last time"


async def test_a_programme_change_shows_on_the_next_page(bot: BotRunner, tg: FakeTelegram) -> None:
    """A change committed in this process shows at once, whichever way it was written; a
    change from another process once the version is checked again (CHECK_EVERY)."""
    assert bot.app is not None and bot.app.bot_data.engine is not None
    version = bot.app.bot_data.search.version
    version.check_every = 60.0
    user = await open_first_page(bot, tg, 4106)
    # Another process's write: a bare Core connection, outside every Session here (the
    # admin CLI importing programmes, a second instance).
    async with bot.app.bot_data.engine.begin() as conn:
        await conn.execute(
            update(Program)
            .where(Program.title_en.like("Joint project%"))
            .values(title_en=Program.title_en + " (elsewhere)")
        )
    await user.press("Next ▶️")
    page = await user.expect_message()
    assert "Page 2 of 3" in page.text and "(elsewhere)" not in listed(page)  # trusted a minute
    version.check_every = 0.0  # the minute is over
    await user.press("◀️ Previous")
    assert "(elsewhere)" in listed(await user.expect_message())

    version.check_every = 60.0
    async with bot.sessions() as session, session.begin():  # a bulk update, as /forget's
        await session.execute(
            update(Program)
            .where(Program.title_en.like("Joint project%"))
            .values(title_en=Program.title_en + " (bulk)")
        )
    await user.press("Next ▶️")
    assert "(bulk)" in listed(await user.expect_message())
    async with bot.sessions() as session, session.begin():  # an object's change, as a form's
        first = await session.scalar(
            select(Program).where(Program.title_en.like("Joint project%")).order_by(Program.id)
        )
        assert first is not None
        first.title_en = "Renamed by its owner"
    await user.press("◀️ Previous")
    assert "Renamed by its owner" in listed(await user.expect_message())
    async with bot.sessions() as session, session.begin():  # rolled back: nothing to see
        await session.execute(update(Program).values(title_en="Never committed"))
        await session.rollback()
    await user.press("Next ▶️")
    assert "Never committed" not in listed(await user.expect_message())


async def test_a_demoted_teacher_loses_staff_rights_at_once(
    bot: BotRunner, tg: FakeTelegram
) -> None:
    """Through the bot's own /staff: the teacher's cached recognition is dropped with the
    change, so her very next update (seconds after her last) is an enterprise contact's."""
    teacher = tg.user(4104, first_name="Wang", language_code="en")
    async with bot.sessions() as session, session.begin():
        session.add(User(id=4104, first_name="Wang", language="en", role=Role.TEACHER))
    listed = await teacher.send_and_wait("/inquiries")
    assert t("en", "inquiry.staff_only") not in listed.text
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    listing = await admin.send_and_wait("/staff")
    await admin.press(next(b for b in listing.button_labels() if "Wang" in b))
    await admin.expect_message()
    await admin.press("🚫 Remove the staff role")
    await admin.expect_callback_answer()
    refused = await teacher.send_and_wait("/inquiries")
    assert t("en", "inquiry.staff_only") in refused.text


async def test_a_language_change_shows_at_the_next_update(bot: BotRunner, tg: FakeTelegram) -> None:
    user = tg.user(4105, first_name="Li", language_code="en")
    await user.send_and_wait("/start")
    await user.send_and_wait("/language")
    await user.press("简体中文")
    await user.expect_message()
    home = await user.send_and_wait("/catalog")  # at once: no stale recognition in English
    assert plain(t("zh", "catalog.home")) in plain(home.text)


async def test_sqlite_read_units_switch_query_only_only_when_needed(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/pragma.sqlite3")
    sessions = create_session_factory(engine)
    seen: list[str] = []  # what SQLite itself was asked to run (its trace callback)

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.run_async(lambda raw: raw.set_trace_callback(seen.append))

    event.listen(engine.sync_engine, "connect", trace)
    try:
        for write in (False, False, False, True, True, False, False):
            async with unit_of_work(sessions, write=write) as session:
                await session.execute(text("SELECT 1"))
        pragmas = [s for s in seen if "query_only" in s]
        # On for the first read, off for the first write, on again for the next read.
        assert pragmas == ["PRAGMA query_only = ON", "PRAGMA query_only = OFF",
                           "PRAGMA query_only = ON"], seen  # fmt: skip
        # A read unit is its BEGIN, its statement and COMMIT: no ROLLBACK after the COMMIT
        # (the pool's reset only rolls back what is still open).
        seen.clear()
        async with unit_of_work(sessions, write=False) as session:
            await session.execute(text("SELECT 2"))
        assert seen == ["BEGIN", "SELECT 2", "COMMIT"], seen
        # A unit that runs no statement (a page from the catalogue copy) asks nothing.
        seen.clear()
        async with unit_of_work(sessions, write=False):
            pass
        assert seen == [], seen
        with pytest.raises(OperationalError, match="readonly"):  # a read unit still cannot write
            async with unit_of_work(sessions, write=False) as session:
                await session.execute(text("CREATE TABLE sneaky (x INTEGER)"))
        # A unit left by an error is rolled back before its connection serves again.
        assert seen[-1] == "ROLLBACK", seen
        async with unit_of_work(sessions, write=True) as session:  # and a write unit can
            await session.execute(text("CREATE TABLE fine (x INTEGER)"))
    finally:
        await engine.dispose()
