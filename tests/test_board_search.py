"""The staff board's search and charts against an oracle: whatever the board answers is
what Python computes from the stored rows (on SQLite and PostgreSQL), for the searches
an attacker or a careless typist would type: wildcards, any case, two words, a number,
the title of a closed programme, a title renamed since the last search."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select, update

from storage.models import Inquiry, InquiryKind, InquiryStatus, Program, ProgramStatus
from tests.constants import ADMIN_ID
from tests.seed import special_id
from tests.test_inquiry_admin import seed
from tests.test_miniapp_api import TZ, Web
from tests.test_miniapp_api import web as web  # the fixture, reused by import

ODD = {  # organisation → message of the extra inquiries
    "Percent 100% Ltd": "we offer 100% of the funding",
    "Under_score Co": "snake_case names",
    "Slash/Works": "a/b testing",
    "ROBOTICS LAB GMBH": "Robotics",
}


async def add_odd_ones(web: Web) -> int:
    """The extra inquiries, one about the closed OLD-1 programme; its id."""
    old = await special_id(web.runner.sessions, "OLD-1")
    now = datetime.now(UTC)
    async with web.runner.sessions() as session, session.begin():
        for n, (org, message) in enumerate(ODD.items()):
            session.add(
                Inquiry(
                    user_id=None, program_id=old if n == 0 else None, message=message,
                    kind=InquiryKind.QUESTION, status=InquiryStatus.CONTACTED,
                    organization=org, created_at=now - timedelta(minutes=n + 1),
                )
            )  # fmt: skip
    return old


async def oracle(web: Web, q: str) -> tuple[set[int], Counter[str]]:
    """Every word in the organisation, message or programme title (any case of Latin
    letters), or the inquiry's own number when the query is one."""
    words = q.lstrip("#").lower().split()
    number = int(words[0]) if len(words) == 1 and words[0].isdigit() else None
    found: set[int] = set()
    statuses: Counter[str] = Counter()
    async with web.runner.sessions() as session:
        rows = (
            await session.execute(
                select(Inquiry, Program).outerjoin(Program, Inquiry.program_id == Program.id)
            )
        ).all()
    for inquiry, program in rows:
        texts = [inquiry.organization.lower(), inquiry.message.lower()]
        if program is not None:
            texts += [program.title_zh.lower(), program.title_en.lower()]
        if inquiry.id == number or all(any(w in t for t in texts) for w in words):
            found.add(inquiry.id)
            statuses[inquiry.status.value] += 1
    return found, statuses


def shown(board: dict[str, Any]) -> tuple[set[int], Counter[str]]:
    ids = {item["id"] for column in board["columns"] for item in column["items"]}
    counts = Counter({c["status"]: c["count"] for c in board["columns"] if c["count"]})
    return ids, counts


async def test_the_board_finds_what_the_rows_hold_and_no_more(web: Web) -> None:
    await seed(web.runner.sessions)
    await add_odd_ones(web)
    queries = [
        "acme", "ACME", "Acme &", "100%", "%", "_", "under_", "/", "slash/w", "robotics",
        "项目00003", "孵化平台", "已结束", "closed training", "project 7", "#13", "13", "2",
        "智造 bold", "nothing-like-this", "联合项目 acme", "'; drop table inquiries; --",
    ]  # fmt: skip
    for q in queries:
        board = await web.get(f"/api/board?q={quote(q)}", ADMIN_ID)
        assert shown(board) == await oracle(web, q), q
    # The wildcards are letters: "%" is not everything, "_" not any one character.
    every = await web.get("/api/board", ADMIN_ID)
    assert len(shown(await web.get("/api/board?q=%25", ADMIN_ID))[0]) == 1
    assert len(shown(await web.get("/api/board?q=_", ADMIN_ID))[0]) == 1  # Under_score Co
    assert len(shown(every)[0]) == 18
    # A search with the other filters: both apply.
    board = await web.get("/api/board?q=acme&age=30", ADMIN_ID)
    ids, _ = shown(board)
    assert ids and ids < (await oracle(web, "acme"))[0]


async def test_a_renamed_or_closed_programme_is_found_by_its_title_now(web: Web) -> None:
    await seed(web.runner.sessions)
    await add_odd_ones(web)
    assert shown(await web.get("/api/board?q=quantum", ADMIN_ID))[0] == set()
    async with web.runner.sessions() as session:
        inquiry = await session.get(Inquiry, 1)
        assert inquiry is not None and inquiry.program_id is not None
        program_id = inquiry.program_id
    # As an admin's edit does: the title and updated_at (which the search copy watches).
    async with web.runner.sessions() as session, session.begin():
        renamed = {"title_en": "Quantum Widgets", "status": ProgramStatus.CLOSED,
                   "updated_at": datetime.now(UTC)}  # fmt: skip
        await session.execute(update(Program).where(Program.id == program_id).values(renamed))
    assert shown(await web.get("/api/board?q=QUANTUM", ADMIN_ID))[0] == {1}
    assert shown(await web.get("/api/board?q=widgets", ADMIN_ID)) == await oracle(web, "widgets")
    old_title = shown(await web.get("/api/board?q=joint%20project%2000001", ADMIN_ID))[0]
    assert 1 not in old_title


async def test_the_weeks_count_from_monday_in_the_colleges_zone(web: Web) -> None:
    await seed(web.runner.sessions)
    now = datetime.now(UTC)
    today = now.astimezone(TZ).date()
    monday = datetime.combine(today - timedelta(days=today.weekday()), datetime.min.time(), TZ)
    async with web.runner.sessions() as session, session.begin():
        for at, answered in (
            (monday + timedelta(minutes=1), timedelta(hours=3)),  # this week, in Beijing
            (monday - timedelta(minutes=1), None),  # Sunday 23:59: the week before
            (monday - timedelta(weeks=11, minutes=1), None),  # just before the 12 weeks
        ):
            created = min(at.astimezone(UTC), now - timedelta(seconds=1))
            session.add(
                Inquiry(
                    user_id=None, program_id=None, kind=InquiryKind.QUESTION, message="w",
                    status=InquiryStatus.NEW, organization="Week Co", created_at=created,
                    first_response_at=created + answered if answered else None,
                )
            )  # fmt: skip
    stats = await web.get("/api/stats", ADMIN_ID)
    first = monday.date() - timedelta(weeks=11)
    expected = [0] * 12
    async with web.runner.sessions() as session:
        for created in await session.scalars(select(Inquiry.created_at)):
            week = (created.astimezone(TZ).date() - first).days // 7
            if 0 <= week < 12:
                expected[week] += 1
    assert [w["count"] for w in stats["weeks"]] == expected
    assert expected[-1] >= 2 and expected[-2] >= 1  # the seed's two and this Monday's
    # Answered: #13 after 2 h (seed) and this Monday's after 3 h.
    assert "2.5 h (2 of" in stats["median_first_response"]
    # The funnel: how far each got, history included (#13 was closed from "new").
    assert [s["count"] for s in stats["funnel"]][:2] == [17, 5]
