"""The one permission path, tried as an attacker would: a contact, a teacher outside the
inquiry's scope and an admin forge buttons of every prefix with other people's ids and
with ids beyond every column's range. Nothing changes, nothing leaks, nothing raises, and
every press gets the same polite answer as a stale button. Then the scopes themselves:
a teacher sees their programmes' inquiries only and loses them the moment an admin
removes the role; saved searches are their author's and expire; unpublished programmes
never reach a contact. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.catalog import service as catalog
from bot.engines.housekeeping import purge
from bot.inquiries import service as inquiries
from bot.inquiries.board import ListState
from bot.inquiries.board import page as inquiry_page
from bot.next_steps import service as next_steps
from bot.people import roles as access
from bot.people.person import Person
from bot.settings import Settings
from bot.ui.i18n import t
from storage import inquiries as inquiries_repo
from storage.models import (
    AuditEntry,
    Department,
    EnterpriseProfile,
    FormDraft,
    Inquiry,
    InquiryEvent,
    InquiryKind,
    InquiryStatus,
    Program,
    ProgramKind,
    ProgramStatus,
    Role,
    SavedSearch,
    User,
    utcnow,
)
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotRunner
from tests.seed import add_teacher, seed_catalog, special_id

STAFF_CHAT = -100555
OWNER, OUTSIDER = 5101, 5102  # teachers: 王老师 owns the lab; 李老师 owns nothing
CONTACT, ATTACKER = 6101, 6102
SECRET_PHONE = "+8613911112222"
SECRET_ORG = "Secretive Dynamics Ltd"
SECRET_TEXT = "Please call our CEO on her private line"
SECRET_SEARCH = "13911112222 confidential tender"
STALE = {t("en", "button.stale"), t("zh", "button.stale")}
ERROR_TEXTS = {t("en", "error.generic"), t("zh", "error.generic")}
BEYOND = ("2147483648", "99999999999", "9223372036854775808", "99999999999999999999999")


class ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def errors() -> Iterator[ErrorRecords]:
    handler = ErrorRecords()
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)


@dataclass
class Scene:
    runner: BotRunner
    tg: FakeTelegram
    lab: int
    closed: int
    draft: int
    inquiry: int
    step: int
    search: int

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.runner.sessions


def person(user_id: int, role: Role, lang: str = "en") -> Person:
    return Person(user_id, f"P{user_id}", lang, role)


@pytest.fixture
async def scene(tg: FakeTelegram, make_settings: Callable[..., Settings]) -> AsyncIterator[Scene]:
    """A catalogue with an open lab (王老师's), a closed and a draft programme (also
    hers); a contact's interest in the lab with a phone number in its message, a next
    step on it owned by 王老师, and the contact's saved search holding the number."""
    tg.group(STAFF_CHAT, title="Cooperation office")
    settings = make_settings(tg, staff_chat_id=str(STAFF_CHAT))
    runner = BotRunner(settings)
    await runner.start()
    sessions = runner.sessions
    await seed_catalog(sessions, count=1)
    await add_teacher(sessions, OWNER, "王老师")
    await add_teacher(sessions, OUTSIDER, "李老师")
    lab = await special_id(sessions, "LAB-AI")
    closed = await special_id(sessions, "OLD-1")
    contact = person(CONTACT, Role.ENTERPRISE)
    async with sessions() as session, session.begin():
        session.add(User(id=CONTACT, first_name="Cee", language="en"))
        session.add(User(id=ATTACKER, first_name="Dee", language="en"))
        session.add(User(id=ADMIN_ID, first_name="Admin", language="en", role=Role.ADMIN))
        department = await session.scalar(select(Department).limit(1))
        assert department is not None
        draft = Program(
            code="DRAFT-1", kind=ProgramKind.TRAINING, department_id=department.id,
            status=ProgramStatus.DRAFT, title_en="Unannounced draft class",
            title_zh="未公布的培训班", owner_id=OWNER,
        )  # fmt: skip
        session.add(draft)
        for program_id in (lab, closed):
            found = await session.get(Program, program_id)
            assert found is not None
            found.owner_id = OWNER
        await session.flush()
        session.add(
            EnterpriseProfile(
                user_id=CONTACT, organization=SECRET_ORG, contact_person="Cee",
                phone=SECRET_PHONE, email="cee@secret.example", consent_at=utcnow(),
            )
        )  # fmt: skip
        await session.flush()
        result = await inquiries.register_interest(
            session, settings, contact, [lab], f"{SECRET_TEXT}: {SECRET_PHONE}"
        )
        inquiry = result.created[0].id
        step = await next_steps.create(
            session, settings, person(ADMIN_ID, Role.ADMIN), inquiry_id=inquiry,
            title="Send the contract draft", owner_id=OWNER,
            due_at=utcnow() + timedelta(days=2),
        )  # fmt: skip
        ref = await catalog.search(session, contact, SECRET_SEARCH)
        assert ref is not None and ref.id_value("s") is not None
        search = ref.id_value("s") or 0
        draft_id = draft.id
    try:
        yield Scene(runner, tg, lab, closed, draft_id, inquiry, step.id, search)
    finally:
        await runner.stop()


def forged(s: Scene, attacker: int) -> list[str]:
    """Buttons of every prefix, pointing at other people's things or beyond any range."""
    i, st, p = s.inquiry, s.step, s.draft
    state = ":".join(ListState().args())
    data = [
        f"c:p:{p}", f"c:l:s-{s.search}:f0", f"c:share:{p}", f"c:l:d-{BEYOND[0]}:f0",
        f"c:l:k-joint_research:f{BEYOND[1]}", f"c:l:s-{BEYOND[0]}:f0",
        f"ca:status:{s.lab}:closed", f"ca:field:{s.lab}:title_en", f"ca:owner:{s.lab}:{attacker}",
        f"ca:owners:{s.lab}:1", "ca:new", f"ca:status:{BEYOND[0]}:open",
        f"i:one:{p}", f"i:add:{p}", f"i:add:{s.closed}", f"i:ask:{p}", f"i:one:{BEYOND[0]}",
        f"my:open:{i}", f"my:reply:{i}", f"my:open:{BEYOND[1]}",
        f"iq:assign:{i}", f"iq:status:{i}", f"iq:set:{i}:closed", f"iq:reply:{i}",
        f"iq:step:{i}", f"iq:set:{BEYOND[0]}:closed",
        f"ia:o:{i}:{state}", f"ia:o:{BEYOND[1]}:{state}", f"ia:l:-:-:0:{BEYOND[0]}:1",
        f"ia:a:{i}:{state}", f"ia:a:{i}:{attacker}:{state}", f"ia:s:{i}:{state}",
        f"ia:r:{i}:{state}", f"ia:n:{i}:{state}",
        f"ns:done:{st}", f"ns:sn:{st}:h", f"ns:cancel:{st}", f"ns:move:{st}", f"ns:view:{st}",
        f"ns:inq:{i}", f"ns:done:{BEYOND[0]}",
        "bc:go:1", "bc:pause:1", "bc:failed:1", "bc:sched:1", f"bc:go:{BEYOND[0]}",
        "bc:open:1", "bc:cancel:1", "bc:resume:1",  # (bc:stop is anyone's own opt-out)
        "au:p", f"au:p:{BEYOND[1]}", "au:x",
        "adm:invite:teacher", "adm:invite:admin", "adm:invs:0", "adm:invrev:0123456789abcdef:0",
        "st:l:1", f"st:o:{OWNER}:1", f"st:set:{attacker}:admin", f"st:set:{OWNER}:enterprise",
        "f:save", "f:pick:x:y", "f:skip:message", "f:resume", "f:discard", "t:ask", "t:file",
        "lang:set:xx", "fg:maybe", "m:nothing", "zz:top",
    ]  # fmt: skip
    return data


async def state_of(s: Scene) -> tuple[object, ...]:
    async with s.sessions() as session:
        inquiry = await session.get(Inquiry, s.inquiry)
        assert inquiry is not None
        return (
            inquiry.status, inquiry.assignee_id,
            await session.scalar(select(func.count()).select_from(InquiryEvent)),
            await session.scalar(select(func.count()).select_from(AuditEntry)),
            await session.scalar(select(func.count()).select_from(FormDraft)),
            tuple(await session.scalars(select(Program.status).order_by(Program.id))),
            tuple(await session.scalars(select(User.role).order_by(User.id))),
        )  # fmt: skip


def seen_by(user: FakeUser) -> str:
    return "\n".join(m.text for m in user.messages())


@pytest.mark.parametrize("who", ["contact", "teacher"])
async def test_forged_buttons_of_every_prefix_change_nothing_and_leak_nothing(
    scene: Scene, errors: ErrorRecords, who: str
) -> None:
    attacker_id = ATTACKER if who == "contact" else OUTSIDER
    attacker = scene.tg.user(attacker_id, first_name="Mallory", language_code="en")
    menu = await attacker.send_and_wait("/start")
    before = await state_of(scene)
    must_refuse = [d for d in forged(scene, attacker_id) if not d.startswith(("m:", "ia:l"))]
    for data in forged(scene, attacker_id):
        await attacker.press_data(menu.message_id, data)
        answer = await attacker.expect_callback_answer()
        if data in must_refuse:
            assert answer["text"] in STALE, (data, answer)
    assert await state_of(scene) == before
    shown = seen_by(attacker)
    for secret in (SECRET_PHONE, SECRET_ORG, SECRET_TEXT, SECRET_SEARCH, "Unannounced draft"):
        assert secret not in shown, secret
    assert not ERROR_TEXTS & {m.text for m in attacker.messages()}
    assert not errors.records, [r.getMessage() for r in errors.records]
    # No report of any failure reached the staff chat either.
    assert all("error occurred" not in m.text for m in scene.tg.chat(STAFF_CHAT))


async def test_admin_with_ids_beyond_every_range(scene: Scene, errors: ErrorRecords) -> None:
    admin = scene.tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    menu = await admin.send_and_wait("/start")
    state = ":".join(ListState().args())
    for big in BEYOND:
        for data in (
            f"c:p:{big}", f"ia:o:{big}:{state}", f"iq:set:{big}:closed", f"ns:done:{big}",
            f"ca:status:{big}:closed", f"bc:go:{big}", f"au:p:{big}", f"st:o:{big}:1",
            f"ca:owner:{scene.lab}:{big}", f"i:add:{big}", f"c:l:d-{big}:f0",
        ):  # fmt: skip
            await admin.press_data(menu.message_id, data)
            answer = await admin.expect_callback_answer()
            assert answer["text"] in STALE or data.startswith("au:p"), (data, answer)
        reply = await admin.send_and_wait(f"/start p_{big}")
        assert "does not exist" in reply.text
    assert not errors.records, [r.getMessage() for r in errors.records]


async def test_teacher_scope_and_demotion(scene: Scene) -> None:
    tg = scene.tg
    owner = tg.user(OWNER, first_name="王老师", language_code="en")
    outsider = tg.user(OUTSIDER, first_name="李老师", language_code="en")
    state = ":".join(ListState().args())

    mine = await owner.send_and_wait("/inquiries")
    assert f"#{scene.inquiry} ·" in " ".join(mine.button_labels())
    await owner.press_data(mine.message_id, f"ia:o:{scene.inquiry}:{state}")
    card = await owner.expect_message()
    assert SECRET_ORG in card.text  # the staff card, with the contact's details

    theirs = await outsider.send_and_wait("/inquiries")
    assert f"#{scene.inquiry}" not in " ".join(theirs.button_labels())
    assert t("zh", "ia.none") in theirs.text  # teachers were added speaking Chinese
    await outsider.press_data(theirs.message_id, f"ia:o:{scene.inquiry}:{state}")
    assert (await outsider.expect_callback_answer())["text"] in STALE
    assert SECRET_ORG not in seen_by(outsider)

    await owner.press_data(card.message_id, f"iq:set:{scene.inquiry}:meeting")
    await owner.expect_callback_answer()
    async with scene.sessions() as session:
        found = await session.get(Inquiry, scene.inquiry)
        assert found is not None and found.status is InquiryStatus.MEETING

    # An admin removes 王老师's staff role through /staff: her next press is refused.
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    listing = await admin.send_and_wait("/staff")
    await admin.press(next(b for b in listing.button_labels() if "王老师" in b))
    await admin.expect_message()
    await admin.press("🚫 Remove the staff role")
    assert "enterprise contact" in (await admin.expect_callback_answer())["text"]
    await owner.press_data(card.message_id, f"iq:set:{scene.inquiry}:closed")
    assert (await owner.expect_callback_answer())["text"] in STALE
    refused = await owner.send_and_wait("/inquiries")
    assert t("zh", "inquiry.staff_only") in refused.text
    async with scene.sessions() as session:
        found = await session.get(Inquiry, scene.inquiry)
        assert found is not None and found.status is InquiryStatus.MEETING
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "role.change"))
        assert entry is not None and entry.subject == f"user:{OWNER}"
        assert entry.detail == "⟦role.teacher⟧ → ⟦role.enterprise⟧"
    # Her chat's own command menu went with the role: Telegram's default one applies.
    assert (f"chat:{OWNER}", None) not in tg.commands
    # ADMIN_IDS admins cannot be changed in chat, nor can an admin change themselves.
    await admin.send_and_wait("/staff")
    await admin.press(next(b for b in admin.messages()[-1].button_labels() if "Admin" in b))
    fixed = await admin.expect_message()
    assert "ADMIN_IDS" in fixed.text and "⭐" not in " ".join(fixed.button_labels())


async def test_saved_searches_are_private_and_expire(scene: Scene) -> None:
    contact = scene.tg.user(CONTACT, first_name="Cee", language_code="en")
    attacker = scene.tg.user(ATTACKER, first_name="Dee", language_code="en")
    results = await contact.send_and_wait("robotics")
    ours = next(d for _, d in results.buttons() if d and d.startswith("c:p:") and ":s-" in d)
    list_data = "c:l:" + ":".join(ours.split(":")[3:5])
    menu = await attacker.send_and_wait("/start")
    await attacker.press_data(menu.message_id, f"c:l:s-{scene.search}:f0")
    assert (await attacker.expect_callback_answer())["text"] in STALE
    assert SECRET_SEARCH not in seen_by(attacker)

    await contact.press_data(results.message_id, list_data)
    await contact.expect_callback_answer()  # their own search pages fine
    later = datetime.now(UTC) + access.SEARCH_TTL + timedelta(minutes=1)
    with time_machine.travel(later, tick=True):
        await contact.press_data(results.message_id, list_data)
        assert (await contact.expect_callback_answer())["text"] in STALE
        async with scene.sessions() as session, session.begin():
            await purge(session, utcnow())
    async with scene.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SavedSearch)) == 0


async def test_unpublished_programmes_never_reach_a_contact(scene: Scene) -> None:
    tg = scene.tg
    contact = tg.user(ATTACKER, first_name="Dee", language_code="en")
    gone = await contact.send_and_wait(f"/start p_{scene.draft}")
    assert "does not exist" in gone.text and "Unannounced" not in gone.text
    found = await contact.send_and_wait("Unannounced")
    assert "Unannounced draft" not in found.text
    await contact.press_data(found.message_id, f"i:add:{scene.draft}")
    assert (await contact.expect_callback_answer())["text"] in STALE
    async with scene.sessions() as session:
        assert (await inquiries_repo.basket(session, ATTACKER)) == []

    owner = tg.user(OWNER, first_name="王老师", language_code="en")
    assert "未公布的培训班" in (await owner.send_and_wait(f"/start p_{scene.draft}")).text
    outsider = tg.user(OUTSIDER, first_name="李老师", language_code="en")
    shown = (await outsider.send_and_wait(f"/start p_{scene.draft}")).text
    assert t("zh", "catalog.not_found") in shown and "未公布" not in shown

    # An announcement's button cannot point at it either.
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    await admin.send_and_wait("/broadcast")
    await admin.send_and_wait("Open day")
    await admin.send_and_wait("-")
    await admin.send_and_wait(f"Details | p_{scene.draft}")
    await admin.press(next(b for b in admin.messages()[-1].button_labels() if "Everyone" in b))
    await admin.expect_message()
    await admin.press("✅ Save")
    refused = await admin.expect_message()
    assert "not a published programme" in refused.text


async def test_the_basket_holds_twenty(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    runner = BotRunner(make_settings(tg))
    await runner.start()
    try:
        ids = await seed_catalog(runner.sessions, count=21)
        contact = tg.user(6200, first_name="Gao", language_code="en")
        card = await contact.send_and_wait(f"/start p_{ids[0]}")
        for n, program_id in enumerate(ids[:20], start=1):
            await contact.press_data(card.message_id, f"i:add:{program_id}")
            assert (await contact.expect_callback_answer())["text"] == f"Added — {n} on your list."
            await contact.expect_message()
        await contact.press_data(card.message_id, f"i:add:{ids[20]}")
        full = await contact.expect_callback_answer()
        assert "already holds 20 programmes" in full["text"] and full["show_alert"]
        async with runner.sessions() as session:
            assert len(await inquiries_repo.basket(session, 6200)) == 20
    finally:
        await runner.stop()


async def test_an_answered_button_still_hears_of_an_error_and_reports_are_limited(
    scene: Scene, errors: ErrorRecords
) -> None:
    tg = scene.tg
    user = tg.user(6300, first_name="Hu", language_code="en")
    home = await user.send_and_wait("/catalog")
    group = tg.group(STAFF_CHAT)
    tg.fail_next("editMessageText", 400, "Bad Request: BUTTON_USER_INVALID", count=5)
    for _ in range(5):
        await user.press_data(home.message_id, "c:kinds")
        assert (await user.expect_callback_answer())["text"] is None  # answered first
        told = await user.expect_message()
        assert told.text == t("en", "error.generic")
    reports = [m for m in tg.chat(STAFF_CHAT) if "error occurred" in m.text]
    assert len(reports) == 1 and "BadRequest" in reports[0].text
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=61), tick=True):
        group.skip_pending()
        tg.fail_next("editMessageText", 400, "Bad Request: BUTTON_USER_INVALID")
        await user.press_data(home.message_id, "c:kinds")
        await user.expect_message()
        report = await group.expect_message()
        assert "and 4 more of the same kind" in report.text
    assert len(errors.records) == 6


async def test_the_scope_query_agrees_with_the_rule(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """storage.inquiries.teacher_scope (SQL, for lists) and bot.access.in_teacher_scope
    (Python, for one inquiry) are the same rule written twice: they must agree."""
    rng = random.Random(11)
    teachers = [7001, 7002, 7003]
    async with sessions() as session, session.begin():
        session.add_all(User(id=u, first_name=str(u), language="en", role=Role.TEACHER)
                        for u in teachers)  # fmt: skip
        session.add(User(id=7100, first_name="C", language="en"))
        session.add(Department(id=1, code="D", name_en="D"))
        await session.flush()
        programs = []
        for n in range(12):
            program = Program(code=f"P{n}", kind=ProgramKind.TRAINING, department_id=1,
                              status=ProgramStatus.OPEN, title_en=f"P{n}",
                              owner_id=rng.choice([None, *teachers]))  # fmt: skip
            session.add(program)
            programs.append(program)
        await session.flush()
        for _ in range(60):
            about = rng.choice([None, *programs])
            session.add(
                Inquiry(user_id=7100, program_id=about.id if about else None,
                        kind=InquiryKind.QUESTION, assignee_id=rng.choice([None, *teachers]))
            )  # fmt: skip
    async with sessions() as session:
        everything = list(await session.scalars(select(Inquiry)))
        owners = {p.id: p.owner_id for p in await session.scalars(select(Program))}
        for teacher in teachers:
            who = person(teacher, Role.TEACHER)
            state = ListState()
            listed: set[int] = set()
            page_no = 1
            while True:
                found = await inquiry_page(session, who, state.with_page(page_no), utcnow())
                listed |= {item.id for item in found.items}
                if page_no >= found.pages:
                    break
                page_no += 1
            expected = {
                i.id
                for i in everything
                if access.in_teacher_scope(
                    teacher,
                    access.InquiryFacts(i.user_id, i.assignee_id, owners.get(i.program_id or 0)),
                )
            }
            assert listed == expected and expected
            for i in everything:  # and the loader decides the same, one by one
                try:
                    await access.inquiry(session, who, access.Act.SEE_INQUIRY, i.id)
                except access.Refused:
                    assert i.id not in expected
                else:
                    assert i.id in expected
