"""Telegram's length limits, through the fake Bot API (which counts as Telegram does:
code points after entity parsing, 4,096 in a text, 1,024 in a caption), on SQLite and
PostgreSQL: the longest things people and data can hold still arrive, whole where they
must be, clipped on their text (never in a tag or an entity) where they may be, and a
message too long to be relayed whole is refused before anything is confirmed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from bot.inquiries.limits import PROBE, message_limit, worst_cases
from bot.next_steps import service as next_steps
from bot.settings import Settings
from bot.ui.i18n import LANGUAGES
from bot.ui.text import CAPTION_LIMIT, ELLIPSIS, TEXT_LIMIT, Html, Plain, visible_len
from storage.models import (
    AuditEntry,
    Department,
    EnterpriseProfile,
    Inquiry,
    InquiryEvent,
    InquiryKind,
    InquiryStatus,
    NextStep,
    Program,
    ProgramKind,
    ProgramStatus,
    Role,
    User,
)
from storage.next_steps import claim_mark
from tests.constants import ADMIN_ID
from tests.fakebot import FakeTelegram, SentMessage
from tests.harness import BotRunner

STAFF_CHAT = -100777
MIX = "😀智&<>𝕏é"  # one code point each; the emoji and 𝕏 are two UTF-16 units


def filled(n: int, start: int = 0) -> str:
    """`n` code points of emoji, CJK, `&<>` and characters outside the BMP."""
    return "".join(MIX[(i + start) % len(MIX)] for i in range(n))


def fits(message: SentMessage, limit: int = TEXT_LIMIT) -> str:
    """The text as shown; the fake refused anything invalid or too long already."""
    assert message.raw_text is not None and visible_len(message.raw_text) == len(message.text)
    assert len(message.text) <= limit
    return message.text


@pytest.fixture
async def runner(
    tg: FakeTelegram, make_settings: Callable[..., Settings]
) -> AsyncIterator[BotRunner]:
    tg.group(STAFF_CHAT, title="Cooperation office")
    bot = BotRunner(
        make_settings(
            tg, staff_chat_id=str(STAFF_CHAT), safety_tick_seconds=0.2, show_staff_names="true"
        )
    )
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


async def long_programme(bot: BotRunner, owner_id: int | None = None) -> tuple[int, str]:
    """A programme at every limit of the admin form: 200-character titles, 4,000-character
    summaries and benefits, 500 of tags, 300 of contact."""
    title = filled(200)
    async with bot.sessions() as session, session.begin():
        dept = Department(code="XL", name_zh=filled(200, 1), name_en=filled(200, 2))
        session.add(dept)
        await session.flush()
        program = Program(
            code="XL-1", kind=ProgramKind.JOINT_RESEARCH, department_id=dept.id,
            status=ProgramStatus.OPEN, title_zh=title, title_en=title,
            summary_zh=filled(4000, 3), summary_en=filled(4000, 3),
            benefits_zh=filled(4000, 4), benefits_en=filled(4000, 4),
            tags=filled(500, 5), contact=filled(300, 6), owner_id=owner_id,
        )  # fmt: skip
        session.add(program)
        await session.flush()
        return program.id, title


def test_the_message_limit_is_computed_so_every_card_fits() -> None:
    """Every message that relays a pipeline message, each other part at its longest (in
    both languages), holds the longest allowed message whole."""
    limit = message_limit()
    assert 2000 <= limit <= TEXT_LIMIT and limit % 100 == 0
    for lang in LANGUAGES:
        for case in worst_cases(lang):
            probe = next(p for p in case.pieces if isinstance(p, Plain) and p.text == PROBE)
            longest = Html(*(Plain(filled(limit), probe.rank) if p is probe else p
                             for p in case.pieces))  # fmt: skip
            assert longest.length() <= TEXT_LIMIT
            assert longest.fit() == longest.render()  # nothing clipped at all


async def test_programme_card_of_4000_character_summaries_opens(
    runner: BotRunner, tg: FakeTelegram
) -> None:
    teacher = "W" + filled(63)
    async with runner.sessions() as session, session.begin():
        session.add(User(id=5401, first_name=teacher, language="zh", role=Role.TEACHER))
    program_id, title = await long_programme(runner, owner_id=5401)
    for user_id, lang in ((6401, "en"), (6402, "zh-hans")):
        user = tg.user(user_id, first_name="Card", language_code=lang)
        card = await user.send_and_wait(f"/start p_{program_id}", timeout=10)
        text = fits(card)
        assert text.startswith(title)  # the title whole; summaries gave way
        assert ELLIPSIS in text and filled(300, 3) in text and filled(300, 4) in text
        assert len(text) > TEXT_LIMIT - 50  # clipped only as much as needed
        assert card.raw_text is not None and "&lt;" in card.raw_text  # escaped, never cut
        await user.press("🔗")
        photo = await user.expect_message(timeout=10)
        caption = fits(photo, CAPTION_LIMIT)
        assert photo.photo_file is not None and title in caption


async def test_staff_card_answer_and_follow_up_for_the_longest_of_everything(
    runner: BotRunner, tg: FakeTelegram
) -> None:
    """A 200-character organisation, 100-character contact person, 64-character names,
    a 200-character programme title and the longest allowed message: all arrive whole."""
    limit = message_limit()
    program_id, title = await long_programme(runner)
    contact = tg.user(6403, first_name=filled(64, 1), username="a" * 32, language_code="en")
    await contact.send_and_wait("/start")
    organization = filled(200, 2)
    async with runner.sessions() as session, session.begin():
        session.add(
            EnterpriseProfile(
                user_id=contact.id, organization=organization, contact_person=filled(100, 3),
                phone="+" + "8" * 39, email=filled(200, 4), industry=filled(100, 5),
                consent_at=datetime.now(UTC),
            )
        )  # fmt: skip
    await contact.send_and_wait(f"/start p_{program_id}", timeout=10)
    await contact.press("💬 Ask a question")
    await contact.expect_message()
    question = filled(limit, 6)
    confirm = await contact.send_and_wait(question)
    assert question in fits(confirm)
    await contact.press("📨 Send")
    assert "Your question was sent" in (await contact.expect_message()).text
    group = tg.group(STAFF_CHAT)
    card = await group.expect_message(timeout=10)
    shown = fits(card)
    assert question in shown and organization in shown and title in shown
    assert "@" + "a" * 32 in shown and ELLIPSIS not in shown

    # The longest answer, from a staff member with the longest name, relayed whole.
    admin = tg.user(ADMIN_ID, first_name=filled(64, 7), language_code="en")
    await group.press(admin, "💬 Reply")
    await admin.expect_message(timeout=10)
    answer_text = filled(limit, 8)
    await admin.send_and_wait(answer_text)
    await admin.press("📨 Send")
    await admin.expect_message()
    answer = await contact.expect_message(timeout=10)
    assert answer_text in fits(answer) and filled(64, 7) in answer.text and title in answer.text
    echo = await tg.wait_for(
        lambda: [m for m in group.messages() if "answered #" in m.text], 30, "the answer's echo"
    )
    assert answer_text in fits(echo[0])  # shown whole under the card too

    # The longest follow-up reaches the staff whole; one character more is refused.
    follow = filled(limit, 9)
    await contact.reply_to(answer.message_id, follow)
    assert "Sent to the college" in (await contact.expect_message()).text
    relayed = (
        await tg.wait_for(
            # (after the card's edits: a group's messages are paced 3.2 s apart)
            lambda: [m for m in group.messages() if "Follow-up on" in m.text],
            30,
            "follow-up",
        )
    )[0]
    assert follow in fits(relayed) and organization in relayed.text
    await contact.reply_to(answer.message_id, follow + "!")
    refused = await contact.expect_message()
    assert f"{limit + 1} characters long; a message can hold at most {limit}" in refused.text
    async with runner.sessions() as session:
        kinds = list(await session.scalars(select(InquiryEvent.kind).order_by(InquiryEvent.id)))
    assert kinds == ["created", "reply", "follow_up"]
    with pytest.raises(AssertionError):  # nothing more went to the staff (the card is edited)
        await tg.wait_for(
            lambda: [m for m in group.messages() if "Follow-up on" in m.text][1:], 1, "more"
        )


async def test_question_over_the_limit_is_refused_and_nothing_stored(
    runner: BotRunner, tg: FakeTelegram
) -> None:
    limit = message_limit()
    for user_id, lang, words in (
        (6404, "en", f"That message is {limit + 1} characters long; a message can hold at most"
                     f" {limit}."),
        (6405, "zh-hans", f"这条留言有 {limit + 1} 个字符，最多只能 {limit} 个。"),
    ):  # fmt: skip
        user = tg.user(user_id, first_name="Long", language_code=lang)
        await user.send_and_wait("/ask")
        refused = await user.send_and_wait(filled(limit + 1))
        assert words in fits(refused)
        assert [label for label in refused.button_labels() if "✅" in label] == []
        await user.send_and_wait("/cancel")
    async with runner.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Inquiry)) == 0
    assert tg.chat(STAFF_CHAT) == []


async def test_digest_of_300_steps_and_a_split_weekly_overview(
    runner: BotRunner, tg: FakeTelegram
) -> None:
    settings = runner.settings
    teacher = tg.user(5402, first_name="Teacher", language_code="en")
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    await admin.send_and_wait("/start")
    local_today = datetime.now(settings.tz).date()
    monday = local_today + timedelta(days=21 + (7 - local_today.weekday()) % 7)
    async with runner.sessions() as session, session.begin():
        for n in range(-1, 40):  # the bot's own digest engine must not run meanwhile
            day = local_today + timedelta(days=n)
            if day != monday:
                await claim_mark(session, f"digest:{day.isoformat()}")
        session.add(User(id=teacher.id, first_name=filled(64), language="en", role=Role.TEACHER))
        inquiry = Inquiry(kind=InquiryKind.QUESTION, message="?", status=InquiryStatus.NEW)
        session.add(inquiry)
        await session.flush()
        due = datetime.combine(monday, time(9), settings.tz) - timedelta(days=1)
        session.add_all(
            NextStep(inquiry_id=inquiry.id, title=f"{n:03} " + filled(296, n), owner_id=teacher.id,
                     due_at=due + timedelta(minutes=n))
            for n in range(300)
        )  # fmt: skip
    now = datetime.combine(monday, time(9), settings.tz).astimezone(UTC)
    async with runner.sessions() as session, session.begin():
        assert await next_steps.send_digests(session, settings, now) >= 2

    digest = await teacher.expect_message(timeout=10)
    text = fits(digest)
    shown = text.count("(#")
    assert "300 next steps due today or overdue" in text and text.startswith("☀️")
    assert 5 <= shown < 300 and text.endswith(
        f"… and {300 - shown} more: “📋 My next steps” shows them all"
    )
    assert "000 " + filled(296, 0) in text  # the most urgent first, whole

    parts = [await admin.expect_message(timeout=15) for _ in range(5)]
    assert "Weekly overview: 300 overdue next steps" in parts[0].text
    assert filled(64) in parts[0].text  # the owner's name, with their first step
    numbers = re.findall(r"— (\d{3}) ", "\n".join(fits(part) for part in parts))
    assert numbers == [f"{n:03}" for n in range(len(numbers))]  # in order, none lost
    assert 20 < len(numbers) < 300 and parts[-1].text.endswith(f"… and {300 - len(numbers)} more")


async def test_audit_page_with_huge_details_fits(runner: BotRunner, tg: FakeTelegram) -> None:
    async with runner.sessions() as session, session.begin():
        for n in range(12):
            session.add(User(id=7000 + n, first_name=filled(256, n), last_name=filled(256, n + 1),
                             language="en"))  # fmt: skip
            session.add(
                AuditEntry(actor_id=7000 + n, action="program.edit",
                           subject=f"subject-{n:02}-" + filled(40, n), detail=filled(5000, n))
            )  # fmt: skip
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    page = await admin.send_and_wait("/audit", timeout=10)
    text = fits(page)
    assert text.count("Programme edited") == 10 and ELLIPSIS in text
    for n in range(2, 12):  # the newest ten, subjects whole, details clipped alike
        assert f"subject-{n:02}-" + filled(40, n) in text and filled(150, n) in text
    await admin.press("Next")
    older = await admin.expect_message()
    assert fits(older).count("Programme edited") == 2 and filled(400, 1) in older.text


async def test_announcement_length_counted_as_telegram_counts_it(
    runner: BotRunner, tg: FakeTelegram
) -> None:
    """With a photo the text is a caption, counted as Telegram counts it (tags nothing,
    `&lt;` one): refused at the media step when over 1,024, not at save."""
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
    await admin.send_and_wait("/broadcast")
    escaped = filled(1100).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    await admin.send_and_wait(f"<b>{escaped}</b>")  # 1,100 shown, more typed
    await admin.send_photo(b"\x89PNG fake image bytes")
    media = await admin.expect_message()
    assert "a caption holds at most 1024 characters; yours has 1100" in fits(media)
    assert "Send a photo or a document" in media.text  # the same question again
    await admin.press("Skip")
    assert "A button under it?" in (await admin.expect_message()).text
