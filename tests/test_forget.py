"""/forget means forgotten: after it, no column of any table holds the person's name,
username, organisation, phone, e-mail, the texts they wrote or the answers they got, nor
their Telegram id (except, for a demoted teacher, as the actor of their staff actions in
the audit trail). Everything is done through the bot, then every table is dumped."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import JSON, Text, cast, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.engines import outbox
from bot.next_steps import views as step_views
from bot.people.senders import SENDER_TTL
from bot.settings import Settings
from storage import outbox as outbox_repo
from storage.forget import MASK, Scrubber
from storage.models import (
    AuditEntry,
    Base,
    EnterpriseProfile,
    FormDraft,
    Inquiry,
    InquiryEvent,
    Invite,
    NextStep,
    OutboxMessage,
    OutboxState,
    Program,
    Reminder,
    ReminderState,
    Role,
    User,
)
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotRunner, start_staffed
from tests.seed import add_teacher, special_id

TEACHER_ID = 5001
STAFF_CHAT = -100500
CONTACT = 7_770_123_456
FORMER = 7_770_654_321
OTHER = 6201

FIRST, LAST, USERNAME = "Quillon", "Ferrowind", "qferrowind_77"
ORG = "Zephyrine & <Vortex> Robotics Ltd"
PERSON = "Marisol Quillon-Ferrowind"
PHONE_TYPED, PHONE = "+86 139 8765 4321", "+8613987654321"
EMAIL = "marisol.qf@zephyrine-vortex.example"
INDUSTRY = "Precision gearing"
INTEREST = "Xylophonic gearboxes for the lab, please"
QUESTION = "Can the lab test Vortexan actuators?"
REPLY_1 = "Kumquatrix: send us the drawings"
REPLY_2 = "Bathyscaphe tests run on Tuesdays"
FOLLOW_UP = "Obelisque drawings attached"
DRAFT = "Obsidian flywheel tolerances"
STAFF_DRAFT = "Tesseractine answer being typed"
SEARCH = "Hyperborean quasar looms"
STEP_TITLE = f"Visit {ORG} with the drawings"
STEP_NOTE = f"Ring {PHONE} before"
# Every fragment that would give them away; looked for case-insensitively, raw and
# HTML-escaped, in every text and JSON column.
CONTACT_NEEDLES = (
    FIRST, LAST, USERNAME, "Zephyrine", "Vortex", "Marisol", "13987654321", "139 8765 4321",
    "marisol.qf", INDUSTRY, "Xylophonic", "Kumquatrix", "Bathyscaphe", "Obelisque",
    "Obsidian", "Tesseractine", "Hyperborean", str(CONTACT),
)  # fmt: skip
LONG_AGO = datetime(2031, 3, 4, 2, 0, tzinfo=UTC)  # the steps' due time, 10:00 Shanghai


@pytest.fixture
async def staffed(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> AsyncIterator[BotRunner]:
    settings = make_settings(tg, staff_chat_id=str(STAFF_CHAT), safety_tick_seconds=0.2)
    runner = await start_staffed(tg, settings, STAFF_CHAT)
    await add_teacher(runner.sessions, TEACHER_ID, "王老师")
    lab = await special_id(runner.sessions, "LAB-AI")
    async with runner.sessions() as session, session.begin():
        await session.execute(update(Program).where(Program.id == lab).values(owner_id=TEACHER_ID))
    try:
        yield runner
    finally:
        await runner.stop()


# Dumping every table ------------------------------------------------------------------


async def drained(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Wait until only the rows queued for later (and the one held elsewhere) are left:
    the staff card's edits go out paced, 3.2 s apart in a group."""
    for _ in range(600):
        async with sessions() as session:
            due = await session.scalar(
                select(OutboxMessage.id).where(
                    ((OutboxMessage.state == OutboxState.PENDING)
                     & (OutboxMessage.not_before <= datetime.now(UTC) + timedelta(minutes=1)))
                    | ((OutboxMessage.state == OutboxState.SENDING)
                       & (OutboxMessage.lease_owner != "elsewhere:1:abc"))
                ).limit(1)
            )  # fmt: skip
        if due is None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the outbox never drained")


async def dump(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, Any]]:
    """(table, column, value) for every column of every row of every table; JSON columns
    also as the text the database stores."""
    cells: list[tuple[str, str, Any]] = []
    async with sessions() as session:
        in_db = await (await session.connection()).run_sync(
            lambda conn: set(inspect(conn).get_table_names())
        )
        assert in_db - {"alembic_version"} == set(Base.metadata.tables), "tables not in models"
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                cells += [(table.name, c.name, row[c.name]) for c in table.columns]
            json_columns = [c for c in table.columns if isinstance(c.type, JSON)]
            if json_columns:
                raw = select(*(cast(c, Text).label(c.name) for c in json_columns))
                for row in (await session.execute(raw)).mappings():
                    cells += [(table.name, c.name + " (stored)", row[c.name]) for c in json_columns]
    return cells


def leaks(
    cells: list[tuple[str, str, Any]], needles: tuple[str, ...], telegram_id: int,
    allowed_id_columns: frozenset[str] = frozenset(),
) -> list[str]:  # fmt: skip
    forms = {n.lower() for n in needles} | {html.escape(n).lower() for n in needles}
    found = []
    for table, column, value in cells:
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int):
            if value == telegram_id and f"{table}.{column}" not in allowed_id_columns:
                found.append(f"{table}.{column} = {value}")
            continue
        if isinstance(value, dict | list):
            text = json.dumps(value, ensure_ascii=False)
        else:
            text = str(value)
        for form in forms:
            if form in text.lower():
                found.append(f"{table}.{column} holds {form!r}: {text[:200]!r}")
    return found


# Acting through the bot -----------------------------------------------------------------


async def register_interest(contact: FakeUser, lab: int) -> None:
    await contact.send_and_wait(f"/start p_{lab}")
    await contact.press("✋ I'm interested")
    await contact.expect_message()  # what we collect, and consent
    await contact.press("✅ I agree")
    await contact.expect_message()
    await contact.send_and_wait(ORG)
    await contact.send_and_wait(PERSON)
    await contact.send_contact(PHONE_TYPED)
    await contact.expect_message()  # the share keyboard goes with a word…
    await contact.expect_message()  # …then the email question
    await contact.send_and_wait(EMAIL)
    confirm = await contact.send_and_wait(INDUSTRY)
    assert "Please check before saving" in confirm.text
    await contact.press("✅ Save")
    await contact.expect_message()  # profile saved
    await contact.expect_message()  # the interest's message
    await contact.send_and_wait(INTEREST)
    await contact.press("📨 Send")
    await contact.expect_message()  # sent


async def ask(contact: FakeUser, text: str) -> None:
    await contact.send_and_wait("/ask")
    await contact.send_and_wait(text)
    await contact.press("📨 Send")
    assert "Your question was sent" in (await contact.expect_message()).text


async def add_step(tg: FakeTelegram, inquiry_id: int, title: str, owner: str, note: str) -> None:
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    menu = await admin.send_and_wait("/start")
    await admin.press_data(menu.message_id, f"iq:step:{inquiry_id}")
    assert "What is to be done?" in (await admin.expect_message()).text
    await admin.send_and_wait(title)
    await admin.press(owner)
    await admin.expect_message()
    await admin.send_and_wait("2031-03-04 10:00")
    confirm = await admin.send_and_wait(note)
    assert "Please check before saving" in confirm.text
    await admin.press("✅ Save")
    assert "saved" in (await admin.expect_message()).text


async def the_only(session: AsyncSession, stmt: Any) -> Any:
    rows = list(await session.scalars(stmt))
    assert len(rows) == 1, rows
    return rows[0]


# The contact ------------------------------------------------------------------------------


async def test_forget_leaves_nothing_of_the_contact(staffed: BotRunner, tg: FakeTelegram) -> None:
    lab = await special_id(staffed.sessions, "LAB-AI")
    inc = await special_id(staffed.sessions, "INC-1")
    contact = tg.user(
        CONTACT, first_name=FIRST, last_name=LAST, username=USERNAME, language_code="en"
    )
    teacher = tg.user(TEACHER_ID, first_name="王老师", language_code="zh-hans")
    group = tg.group(STAFF_CHAT)

    await register_interest(contact, lab)
    card = await teacher.expect_message(timeout=10)
    assert ORG in card.text and PHONE in card.text and "@" + USERNAME in card.text
    await ask(contact, QUESTION)
    await tg.wait_for(lambda: len(group.messages()) >= 2, 10, "both staff cards")
    async with staffed.sessions() as session:
        profile = await session.get(EnterpriseProfile, CONTACT)
        assert profile is not None and profile.phone == PHONE
        interest_id, question_id = list(
            await session.scalars(
                select(Inquiry.id).where(Inquiry.user_id == CONTACT).order_by(Inquiry.id)
            )
        )

    # Staff answer both (one by replying to the card, one with the group's Reply button);
    # the contact writes back on the first.
    await teacher.reply_to(card.message_id, REPLY_1)
    await teacher.expect_message()
    answer_1 = await contact.expect_message(timeout=10)
    assert REPLY_1 in answer_1.text
    await contact.reply_to(answer_1.message_id, FOLLOW_UP)
    await contact.expect_message()
    assert FOLLOW_UP in (await teacher.expect_message(timeout=10)).text  # the assignee
    await tg.wait_for(lambda: FOLLOW_UP in group.messages()[-1].text, 30, "the follow-up")
    # The general question is the admins' to answer (a teacher's scope is her programmes);
    # its card's Reply (the follow-up above carries the first inquiry's buttons).
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    asked = next(m for m in group.messages() if QUESTION in m.text)
    await group.press_data(admin, asked.message_id, f"iq:reply:{question_id}")
    await admin.expect_message(timeout=10)
    await admin.send_and_wait(REPLY_2)
    await admin.press("📨 Send")
    await admin.expect_message()
    assert REPLY_2 in (await contact.expect_message(timeout=10)).text

    # A next step for the contact to do, typed by an admin with their details in it.
    await add_step(tg, interest_id, STEP_TITLE, "The enterprise contact", STEP_NOTE)

    # A list, a search, and queued messages of every kind.
    await contact.send_and_wait(f"/start p_{inc}")
    await contact.press("➕ Add to my list")
    await contact.expect_message()
    await contact.send_and_wait(f"/search {SEARCH}")
    later = datetime.now(UTC) + timedelta(hours=2)
    async with staffed.sessions() as session, session.begin():
        step = await the_only(session, select(NextStep))
        inquiry = await session.get(Inquiry, interest_id)
        await outbox.queue(
            session, CONTACT, outbox.payload_text(f"For {FIRST}: {REPLY_1}"), not_before=later
        )
        await outbox.queue(
            session, STAFF_CHAT, outbox.payload_text(f"{html.escape(ORG)} still waits"),
            ref=f"inquiry:{question_id}", not_before=later,
        )  # fmt: skip
        reminder = Reminder(step_id=step.id, kind="due", due_at=step.due_at, late=False)
        text, keyboard = step_views.reminder(
            "en", step, reminder, inquiry, staffed.settings, merged=0, now=datetime.now(UTC)
        )
        step_reminder = await outbox.queue(
            session, ADMIN_ID, outbox.payload_text(text, keyboard), ref=f"step:{step.id}",
            not_before=later,
        )  # fmt: skip
        [weekly_text] = step_views.weekly(
            "en", [step], {CONTACT: FIRST}, staffed.settings, datetime.now(UTC)
        )
        weekly = await outbox.queue(
            session, ADMIN_ID, outbox.payload_text(weekly_text),
            dedupe_key=f"weekly:{ADMIN_ID}:2031-03-03", not_before=later,
        )  # fmt: skip
        in_flight = OutboxMessage(
            chat_id=CONTACT, payload=outbox.payload_text(f"Dear {FIRST}"),
            state=OutboxState.SENDING, attempts=1, lease_owner="elsewhere:1:abc",
            lease_until=datetime.now(UTC) + timedelta(minutes=5),
        )  # fmt: skip
        session.add(in_flight)
    assert "<b>Quillon</b>" in weekly_text and "Zephyrine" in weekly_text

    # A staff answer half typed, and a question of the contact's own half typed.
    await teacher.press_data(card.message_id, f"iq:reply:{interest_id}")
    await teacher.expect_message()
    await teacher.send_and_wait(STAFF_DRAFT)
    await contact.send_and_wait("/ask")
    await contact.send_and_wait(DRAFT)

    await drained(staffed.sessions)
    async with staffed.sessions() as session:
        assert await session.get(FormDraft, TEACHER_ID) is not None
        events_before = list(await session.scalars(select(InquiryEvent.kind)))
        sent_before = len(
            list(
                await session.scalars(
                    select(OutboxMessage.id).where(
                        (OutboxMessage.chat_id == CONTACT)
                        | OutboxMessage.ref.in_(
                            [f"inquiry:{interest_id}", f"inquiry:{question_id}"]
                        ),
                        OutboxMessage.state.not_in(
                            [OutboxState.PENDING, OutboxState.SENDING, OutboxState.HELD]
                        ),
                    )
                )
            )
        )
    assert len(events_before) == 5  # 2 created, 2 replies, 1 follow-up
    before = await dump(staffed.sessions)
    assert len(leaks(before, CONTACT_NEEDLES, CONTACT)) > 30  # the dump does see them

    ask_screen = await contact.send_and_wait("/forget")
    for line in (
        "your organisation's profile (organisation, contact person, phone, e-mail, industry)",
        "your Telegram name and username",
        "messages you wrote: 3",
        "answers you received: 2",
        "searches: 1",
        "programmes in your list: 1",
        "unfinished forms: 1",
        "messages waiting to go to you or about you: 3",
        "your inquiries: 2",
        "next steps you were to do: 1, handed to the college's staff",
        "This cannot be undone",
    ):
        assert line in ask_screen.text, (line, ask_screen.text.splitlines()[4:])
    assert "programmes you own" not in ask_screen.text
    assert FIRST not in ask_screen.text and "Zephyrine" not in ask_screen.text
    await contact.press("🗑 Yes, delete my data")
    done = await contact.expect_message()
    for line in (
        "Your data is deleted",
        "your organisation's profile",
        "messages you wrote: 3",
        "answers you received: 2",
        "searches: 1",
        "programmes in your list: 1",
        "unfinished forms: 1",
        "queued messages cancelled: 3",
        f"copies of sent messages erased: {sent_before}",
        "inquiries: 2",
        "next steps handed to the college's staff: 1",
        "Send /start",
    ):
        assert line in done.text, (line, done.text.splitlines())
    assert "invitations" not in done.text and "without an owner" not in done.text

    # Nothing of them anywhere: not a fragment, not their id as a value.
    found = leaks(await dump(staffed.sessions), CONTACT_NEEDLES, CONTACT)
    assert found == [], "\n".join(found)

    # What is kept, and how.
    async with staffed.sessions() as session:
        assert await session.get(User, CONTACT) is None
        kept = list(await session.scalars(select(Inquiry).order_by(Inquiry.id)))
        assert [(i.id, i.user_id, i.message, i.organization) for i in kept] == [
            (interest_id, None, "", ""),
            (question_id, None, "", ""),
        ]
        events = list(await session.scalars(select(InquiryEvent).order_by(InquiryEvent.id)))
        assert [e.kind for e in events] == events_before
        assert all(e.text == "" for e in events)
        assert {e.actor_id for e in events} == {None, TEACHER_ID, ADMIN_ID}
        step = await the_only(session, select(NextStep))
        assert (step.owner_id, step.created_by) == (ADMIN_ID, ADMIN_ID)
        assert (step.title, step.note) == (f"Visit {MASK} with the drawings", f"Ring {MASK} before")
        reminders = list(await session.scalars(select(Reminder).where(Reminder.step_id == step.id)))
        assert reminders and all(r.state is ReminderState.PENDING for r in reminders)
        assert await session.get(FormDraft, TEACHER_ID) is None  # the half-typed answer
        created = await the_only(
            session, select(AuditEntry).where(AuditEntry.action == "step.create")
        )
        assert created.detail.startswith(
            f"⟦audit.w.inquiry⟧ #{interest_id}: Visit {MASK} with the drawings"
        )
        assert f"⟦audit.w.owner⟧ {MASK}" in created.detail
        replies = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "inquiry.reply"))
        )
        assert {r.subject for r in replies} == {f"inquiry:{interest_id}", f"inquiry:{question_id}"}
        to_them = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.chat_id == 0).order_by(OutboxMessage.id)
            )
        )
        assert to_them and all(r.payload == {} and r.dedupe_key is None for r in to_them)
        assert {r.state for r in to_them} == {OutboxState.SENT, OutboxState.CANCELLED}
        row = await session.get(OutboxMessage, step_reminder)
        assert row is not None and row.state is OutboxState.PENDING  # still goes, scrubbed
        assert f"Inquiry #{interest_id} {MASK}" in row.payload["text"]
        assert f"Visit {MASK} with the drawings" in row.payload["text"]
        row = await session.get(OutboxMessage, weekly)
        assert row is not None and row.state is OutboxState.PENDING
        assert f"<b>{MASK}</b>" in row.payload["text"] and f"Visit {MASK}" in row.payload["text"]
    # The send that was in flight finishes: it cannot mark the cancelled row sent.
    async with staffed.sessions() as session, session.begin():
        await outbox_repo.mark_sent(
            session, in_flight.id, "elsewhere:1:abc", 4242, datetime.now(UTC)
        )
    async with staffed.sessions() as session:
        row = await session.get(OutboxMessage, in_flight.id)
        assert row is not None and row.state is OutboxState.CANCELLED and row.message_id is None

    # Staff answering the old card are told nobody is there; nothing is stored.
    await teacher.reply_to(card.message_id, "Hyperborean answer after all")
    refusal = await teacher.expect_message()
    assert "/forget" in refusal.text and "未予保存" in refusal.text
    found = leaks(await dump(staffed.sessions), CONTACT_NEEDLES, CONTACT)
    assert found == [], "\n".join(found)


# A demoted teacher ----------------------------------------------------------------------

FORMER_NEEDLES = ("Thaddeus", "Vantablack", "tvantablack", str(FORMER))
LINK = re.compile(r"start=(inv_[A-Za-z0-9_\-]+)")


async def test_forget_a_demoted_teacher_who_owns_a_programme(
    staffed: BotRunner, tg: FakeTelegram
) -> None:
    lab = await special_id(staffed.sessions, "LAB-AI")
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    invite = LINK.search((await admin.send_and_wait("/invite")).text)
    assert invite is not None
    former = tg.user(
        FORMER, first_name="Thaddeus", last_name="Vantablack", username="tvantablack_9",
        language_code="en",
    )  # fmt: skip
    assert "teacher" in (await former.send_and_wait(f"/start {invite.group(1)}")).text
    async with staffed.sessions() as session, session.begin():
        await session.execute(update(Program).where(Program.id == lab).values(owner_id=FORMER))

    # As the programme's teacher: a contact's card arrives; they take it on and answer.
    other = tg.user(OTHER, first_name="Other", language_code="en")
    await other.send_and_wait(f"/start p_{lab}")
    await other.press("✋ I'm interested")
    await other.expect_message()
    await other.press("✅ I agree")
    await other.expect_message()
    for answer in ("Tianjin Robotics Co., Ltd.", "Li Lei, CTO", "13900001111", "-"):
        await other.send_and_wait(answer)
        if answer == "13900001111":  # the share keyboard goes with a word, then email
            await other.expect_message()
    await other.send_and_wait("-")
    await other.press("✅ Save")
    await other.expect_message()
    await other.expect_message()
    await other.send_and_wait("Other contact's own words")
    await other.press("📨 Send")
    await other.expect_message()
    card = await former.expect_message(timeout=10)
    assign = card.buttons()[0][1]  # 🙋 Assign to me
    assert assign is not None
    await former.press_data(card.message_id, assign)
    assert "Assigned to you" in (await former.expect_callback_answer())["text"]
    await former.reply_to(card.message_id, "We can host you on Tuesday")
    await former.expect_message()
    assert "We can host you on Tuesday" in (await other.expect_message(timeout=10)).text
    async with staffed.sessions() as session:
        inquiry_id = await the_only(session, select(Inquiry.id))
    await add_step(tg, inquiry_id, "Prepare the lab tour", "Thaddeus", "-")

    # Staff cannot forget themselves; demoted, they can.
    refused = await former.send_and_wait("/forget")
    assert "Staff accounts are removed by an admin" in refused.text
    async with staffed.sessions() as session, session.begin():
        await session.execute(update(User).where(User.id == FORMER).values(role=Role.ENTERPRISE))
    # Behind the bot's back: its recognition of them lapses within SENDER_TTL.
    with time_machine.travel(datetime.now(UTC) + SENDER_TTL, tick=True):
        ask_screen = await former.send_and_wait("/forget")
    assert "next steps you were to do: 1" in ask_screen.text
    assert "programmes you own: 1, left without an owner" in ask_screen.text
    assert "your organisation's profile" not in ask_screen.text  # they never had one
    await former.press("🗑 Yes, delete my data")
    done = await former.expect_message()
    for line in (
        "invitations you made or used: 1",
        "next steps handed to the college's staff: 1",
        "programmes now without an owner: 1",
        "inquiries no longer assigned to you: 1",
        "other records cleared of your name or numbers:",
    ):
        assert line in done.text, (line, done.text.splitlines())

    # Their id stays only as the actor of what they did as staff (the audit trail must
    # not be erasable by the people in it); their name is nowhere.
    cells = await dump(staffed.sessions)
    found = leaks(cells, FORMER_NEEDLES, FORMER, frozenset({"audit_log.actor_id"}))
    assert found == [], "\n".join(found)
    async with staffed.sessions() as session:
        acted = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.actor_id == FORMER).order_by(AuditEntry.id)
            )
        )
        assert [a.action for a in acted] == ["role.teacher", "inquiry.assign", "inquiry.reply"]
        assert acted[0].subject == f"user:{MASK}" and acted[1].detail == f"{MASK} ({MASK})"
        program = await session.get(Program, lab)
        assert program is not None and program.owner_id is None
        assert list(await session.scalars(select(Invite))) == []
        step = await the_only(session, select(NextStep))
        assert (step.owner_id, step.title) == (ADMIN_ID, "Prepare the lab tour")
        # The other contact's record is theirs, untouched (bar who answered it).
        inquiry = await session.get(Inquiry, inquiry_id)
        assert inquiry is not None and inquiry.user_id == OTHER and inquiry.assignee_id is None
        assert inquiry.message == "Other contact's own words"
        assert inquiry.organization == "Tianjin Robotics Co., Ltd."
        reply = await the_only(session, select(InquiryEvent).where(InquiryEvent.kind == "reply"))
        assert (reply.actor_id, reply.text) == (None, "We can host you on Tuesday")
    # The spent invite did not become redeemable again.
    stranger = tg.user(6999, first_name="Stranger", language_code="en")
    assert "not valid" in (await stranger.send_and_wait(f"/start {invite.group(1)}")).text


# The scrubbing rule ---------------------------------------------------------------------


def test_scrubber_takes_whole_words_and_chinese_substrings() -> None:
    scrub = Scrubber(("Li", "李雷", "+8613900001111", html.escape("A & B"), "A & B"))
    assert scrub.text("Deliver the Lift to Li, li or LI.") == "Deliver the Lift to …, … or …."
    assert scrub.text("请联系李雷经理") == "请联系…经理"
    assert scrub.text("call +8613900001111 or 8613900001111x") == "call … or 8613900001111x"
    assert scrub.text("<b>A &amp; B</b> and A & B") == "<b>…</b> and …"
    assert scrub.json({"text": "Li", "n": 3, "rows": [["Li"]]}) == {
        "text": "…",
        "n": 3,
        "rows": [["…"]],
    }


async def test_forget_cannot_blank_out_other_peoples_records(
    sessions: async_sessionmaker[AsyncSession], make_settings: Callable[..., Settings]
) -> None:
    """A contact picks words others use (username "contract", the college's phone as
    theirs, a common organisation name): forgetting them scrubs those words from records
    about them only; other people's steps, audit entries and messages stay as they were."""
    now = datetime.now(UTC)
    common = "Send the contract to Robotics, call +862212345678"
    async with sessions() as session, session.begin():
        session.add_all(
            [
                User(id=ADMIN_ID, first_name="Admin", language="en", role=Role.ADMIN),
                User(id=CONTACT, first_name="Vandal", username="contract", language="en"),
                User(id=OTHER, first_name="Honest", language="en"),
            ]
        )
        await session.flush()
        session.add(
            EnterpriseProfile(
                user_id=CONTACT, organization="Robotics", contact_person="Robotics",
                phone="+862212345678", email="x@y.example", consent_at=now,
            )
        )  # fmt: skip
        mine, theirs = (
            Inquiry(user_id=CONTACT, kind="question"),
            Inquiry(user_id=OTHER, kind="question", message=common, organization="Robotics"),
        )
        session.add_all([mine, theirs])
        await session.flush()
        for inquiry in (mine, theirs):
            session.add(
                NextStep(
                    inquiry_id=inquiry.id, title=common, owner_id=ADMIN_ID, due_at=LONG_AGO,
                    created_by=ADMIN_ID,
                )
            )  # fmt: skip
        session.add(AuditEntry(actor_id=ADMIN_ID, action="step.done", detail=common))
        await outbox.queue(session, OTHER, outbox.payload_text(common), not_before=LONG_AGO)
    from bot.people import forget as forgetting
    from bot.people.person import Person

    async with sessions() as session, session.begin():
        person = Person(id=CONTACT, first_name="Vandal", language="en", role=Role.ENTERPRISE)
        await forgetting.forget(session, person)
    async with sessions() as session:
        steps = {s.inquiry_id: s.title for s in await session.scalars(select(NextStep))}
        assert steps[mine.id] == f"Send the {MASK} to {MASK}, call {MASK}"
        assert steps[theirs.id] == common
        assert await session.scalar(select(AuditEntry.detail)) == common
        row = await the_only(session, select(OutboxMessage))
        assert row.payload["text"] == common and row.chat_id == OTHER
        other = await session.get(Inquiry, theirs.id)
        assert other is not None and (other.message, other.organization) == (common, "Robotics")
