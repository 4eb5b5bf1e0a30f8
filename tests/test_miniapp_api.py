"""The Mini App's API over real HTTP, against the bot running in-process with the fake Bot
API: initData is the only way in, the chat's permission path decides, and each action is
the chat's own (the contact is told through Telegram, the audit trail has it)."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from bot.settings import Settings
from bot.ui.i18n import t
from bot.web.initdata import sign
from storage.models import AuditEntry, Inquiry, InquiryStatus, NextStep, User
from tests.constants import ADMIN_ID, TOKEN
from tests.fakebot import FakeTelegram
from tests.harness import BotRunner
from tests.seed import special_id
from tests.test_inquiry_admin import TEACHER, seed

STAFF_CHAT = -100777
TZ = ZoneInfo("Asia/Shanghai")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Web:
    """A browser's side of the API: signs in as a Telegram user, as the page does."""

    def __init__(self, base: str, runner: BotRunner) -> None:
        self.base, self.runner = base, runner
        self.http = httpx.AsyncClient(base_url=base, timeout=10)

    def init_data(self, user_id: int, lang: str = "en", **extra: Any) -> str:
        user = {"id": user_id, "first_name": extra.pop("first_name", f"U{user_id}"),
                "language_code": lang}  # fmt: skip
        return sign(TOKEN, user, extra.pop("at", datetime.now(UTC)), query_id="AAE1")

    async def call(
        self, method: str, path: str, user: int | None = None, lang: str = "en",
        auth: str | None = None, **kwargs: Any,
    ) -> httpx.Response:  # fmt: skip
        headers = {}
        if auth is not None:
            headers["Authorization"] = auth
        elif user is not None:
            headers["Authorization"] = "tma " + self.init_data(user, lang)
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, user: int, lang: str = "en", **kw: Any) -> Any:
        response = await self.call("GET", path, user, lang, **kw)
        assert response.status_code == 200, response.text
        return response.json()

    async def post(self, path: str, user: int, body: Any, lang: str = "en") -> httpx.Response:
        return await self.call("POST", path, user, lang, json=body)


@pytest.fixture
async def web(tg: FakeTelegram, make_settings: Callable[..., Settings]) -> AsyncIterator[Web]:
    tg.group(STAFF_CHAT, title="Cooperation office")
    port = free_port()
    settings = make_settings(
        tg, staff_chat_id=STAFF_CHAT, webapp_url="https://miniapp.example/app",
        webapp_listen="127.0.0.1", webapp_port=port,
    )  # fmt: skip
    runner = BotRunner(settings)
    await runner.start()
    client = Web(f"http://127.0.0.1:{port}", runner)
    try:
        yield client
    finally:
        await client.http.aclose()
        await runner.stop()


def plain(lang: str, key: str, **values: object) -> str:
    return re.sub(r"<[^>]+>", "", t(lang, key, **values))


def column(board: dict[str, Any], status: str) -> list[int]:
    found = [c for c in board["columns"] if c["status"] == status]
    assert len(found) == 1
    return [item["id"] for item in found[0]["items"]]


async def users_count(web: Web) -> int:
    async with web.runner.sessions() as session:
        return int(await session.scalar(select(func.count(User.id))) or 0)


async def test_only_a_valid_fresh_init_data_gets_in(web: Web) -> None:
    good = web.init_data(5555)
    fields = dict(parse_qsl(good))
    forged_user = dict(fields, user=fields["user"].replace("5555", "9001"))  # be the admin
    stale = web.init_data(5555, at=datetime.now(UTC) - timedelta(days=2))
    future = web.init_data(5555, at=datetime.now(UTC) + timedelta(hours=1))
    other_bot = sign("999:OTHER", {"id": 5555, "first_name": "x"}, datetime.now(UTC))
    attempts = [
        None,  # no header
        good,  # the right data without the "tma " scheme
        "tma x",
        "tma " + urlencode(forged_user),
        "tma " + good[:-1] + ("0" if good[-1] != "0" else "1"),  # one character of the hash
        "tma " + stale,
        "tma " + future,
        "tma " + other_bot,
        "tma " + good + "&hash=" + fields["hash"],  # a field twice
        "tma " + good + "&x=" + "a" * 5000,
        "Bearer " + good,
    ]
    before = await users_count(web)
    for auth in attempts:
        for method, path in (("GET", "/api/me"), ("GET", "/api/board"), ("POST", "/api/export")):
            response = await web.call(method, path, auth=auth)
            assert response.status_code == 401, (auth, path, response.text)
            assert response.json() == {"error": "unauthorized"}
    assert await users_count(web) == before  # nobody was created by a refused request
    me = await web.get("/api/me", 5555, "zh-hans")
    assert (me["id"], me["lang"], me["role"], me["staff"], me["reports"]) == (
        5555, "zh", "enterprise", False, False,
    )  # fmt: skip
    assert me["zone"] == "北京时间"
    page = await web.http.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_admin_moves_an_inquiry_and_the_contact_is_told(
    web: Web, tg: FakeTelegram, lang: str
) -> None:
    await seed(web.runner.sessions)
    bob = tg.user(7001, first_name="Bob", language_code="en")
    board = await web.get("/api/board", ADMIN_ID, lang)
    assert [c["status"] for c in board["columns"]] == [s.value for s in InquiryStatus]
    assert column(board, "new") == [14, 6, 5, 4, 3, 2, 1]
    assert board["columns"][0]["label"] == plain(lang, "istatus.new")
    assert board["columns"][0]["count"] == 7

    response = await web.post("/api/inquiries/2/status", ADMIN_ID, {"status": "contacted"}, lang)
    assert response.status_code == 200, response.text
    moved = response.json()
    contacted = plain(lang, "istatus.contacted")
    assert moved["inquiry"]["status"] == "contacted"
    assert moved["text"] == plain(lang, "webapp.moved", status=contacted)
    told = await bob.expect_message(timeout=10)  # the chat's own status message, in Bob's
    assert t("en", "istatus.contacted") in told.text and "#2" in told.text
    async with web.runner.sessions() as session:
        row = await session.get(Inquiry, 2)
        audit = (
            await session.scalars(select(AuditEntry).where(AuditEntry.subject == "inquiry:2"))
        ).all()
    assert row is not None and row.status is InquiryStatus.CONTACTED
    assert [a.actor_id for a in audit] == [ADMIN_ID]
    board = await web.get("/api/board", ADMIN_ID, lang)
    assert 2 in column(board, "contacted") and 2 not in column(board, "new")
    # A status the page never offers is refused, and nothing changes.
    forged = await web.post("/api/inquiries/2/status", ADMIN_ID, {"status": "won"}, lang)
    assert forged.status_code == 403
    assert forged.json()["error"] == plain(lang, "webapp.refused")


async def test_a_teacher_sees_and_works_only_their_scope(web: Web) -> None:
    await seed(web.runner.sessions)  # the teacher is #13's assignee, and nothing else's
    board = await web.get("/api/board", TEACHER)
    shown = [i for c in board["columns"] for i in column(board, c["status"])]
    assert shown == [13]
    assert [a["id"] for a in board["filters"]["assignees"]] == [TEACHER]
    for method, path, body in (
        ("GET", "/api/inquiries/2", None),
        ("POST", "/api/inquiries/2/status", {"status": "closed"}),
        ("POST", "/api/inquiries/2/reply", {"text": "hello"}),
        ("POST", "/api/inquiries/13/assign", {"assignee_id": ADMIN_ID}),  # only themselves
        ("GET", "/api/stats", None),
        ("POST", "/api/export", {"format": "csv"}),
    ):
        response = await web.call(method, path, TEACHER, json=body)
        assert response.status_code == 403, (path, response.text)
    async with web.runner.sessions() as session:
        row = await session.get(Inquiry, 2)
    assert row is not None and row.status is InquiryStatus.NEW
    detail = await web.get("/api/inquiries/13", TEACHER)
    assert detail["inquiry"]["organization"] == "天津智造有限公司"
    assert [a["id"] for a in detail["inquiry"]["assignees"]] == [TEACHER]


async def test_a_contact_reaches_no_staff_endpoint_and_no_forged_id(web: Web) -> None:
    await seed(web.runner.sessions)
    for path in ("/api/board", "/api/inquiries/1", "/api/inquiries/14", "/api/stats"):
        assert (await web.call("GET", path, 7001)).status_code == 403, path
    for path in ("/api/inquiries/99999999999999999999", "/api/inquiries/-1",
                 "/api/inquiries/0x10", "/api/programs/１２"):  # fmt: skip
        assert (await web.call("GET", path, ADMIN_ID)).status_code == 403, path
    for query in ("kind=nope", "age=5", "assignee=-3", "department=abc"):
        assert (await web.call("GET", "/api/board?" + query, ADMIN_ID)).status_code == 400
    bad = await web.call("POST", "/api/inquiries/2/status", ADMIN_ID, content=b"{not json")
    assert bad.status_code == 400
    huge = await web.call("POST", "/api/inquiries/2/reply", ADMIN_ID,
                          json={"text": "x" * 100_000})  # fmt: skip
    assert huge.status_code == 413


async def test_staff_reply_assign_and_next_step_as_in_the_chat(web: Web, tg: FakeTelegram) -> None:
    await seed(web.runner.sessions)
    bob = tg.user(7001, first_name="Bob", language_code="en")
    answered = await web.post(
        "/api/inquiries/3/reply", ADMIN_ID, {"text": "Let's meet <b>Monday</b> & talk"}
    )
    assert answered.status_code == 200, answered.text
    told = await bob.expect_message(timeout=10)
    assert "Let's meet <b>Monday</b> & talk" in told.text  # escaped, shown as typed
    assert answered.json()["inquiry"]["status"] == "contacted"  # the first answer moves it

    assigned = await web.post("/api/inquiries/3/assign", ADMIN_ID, {"assignee_id": TEACHER})
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["inquiry"]["assignee"] == {"id": TEACHER, "name": "Wang Fang"}

    in_two_days = datetime.now(TZ) + timedelta(days=2)
    due_local = in_two_days.replace(hour=10, minute=0, second=0, microsecond=0)
    asked = {"title": "Send the lab's price list", "due": f"{due_local:%Y-%m-%dT%H:%M}"}
    step = await web.post("/api/inquiries/3/steps", ADMIN_ID, asked)
    assert step.status_code == 200, step.text
    assert "10:00" in step.json()["text"] and "Beijing time" in step.json()["text"]
    async with web.runner.sessions() as session:
        stored = (await session.scalars(select(NextStep).where(NextStep.inquiry_id == 3))).one()
    assert stored.due_at == due_local.astimezone(UTC) and stored.owner_id == ADMIN_ID
    assert [s["title"] for s in step.json()["inquiry"]["steps"]] == ["Send the lab's price list"]
    past = await web.post(
        "/api/inquiries/3/steps", ADMIN_ID, {"title": "x", "due": "2020-01-01T10:00"}
    )
    assert past.status_code == 422 and past.json()["error"] == plain("en", "webapp.step_past")
    odd = await web.post("/api/inquiries/3/steps", ADMIN_ID, {"title": "x", "due": "tomorrow"})
    assert odd.status_code == 422 and odd.json()["field"] == "due"


async def test_a_contact_registers_interest_from_the_page(web: Web, tg: FakeTelegram) -> None:
    from tests.seed import seed_catalog

    ids = await seed_catalog(web.runner.sessions, count=3)
    newcomer = tg.user(6100, first_name="Mei", language_code="zh-hans")
    catalog = await web.get("/api/catalog", 6100, "zh-hans")
    assert catalog["total"] >= 3 and all(item["title"] for item in catalog["items"])
    program_id = ids[0]
    card = await web.get(f"/api/programs/{program_id}", 6100, "zh-hans")
    assert card["interested"] is False
    profile = await web.get("/api/profile", 6100, "zh-hans")
    assert profile["profile"] is None and profile["consent"]

    path = f"/api/programs/{program_id}/interest"
    no_consent = await web.post(path, 6100, {"profile": {"organization": "天津某公司"}}, "zh-hans")
    assert no_consent.status_code == 422 and no_consent.json()["field"] == "consent"
    person = {"organization": "天津某公司", "contact_person": "梅", "email": "not-an-email"}
    bad_email = await web.post(path, 6100, {"consent": True, "profile": person}, "zh-hans")
    assert bad_email.status_code == 422 and bad_email.json()["field"] == "email"
    person["email"] = "mei@example.cn"
    done = await web.post(
        path, 6100, {"consent": True, "profile": person, "message": "想了解合作方式"}, "zh-hans"
    )
    assert done.status_code == 200, done.text
    inquiry_id = done.json()["inquiry_id"]
    async with web.runner.sessions() as session:
        row = await session.get(Inquiry, inquiry_id)
    assert row is not None and row.program_id == program_id and row.source == "miniapp"
    assert row.organization == "天津某公司" and row.message == "想了解合作方式"
    confirmation = await newcomer.expect_message(timeout=10)  # the chat hears of it too
    assert f"#{inquiry_id}" in confirmation.text
    await tg.wait_for(
        lambda: any(f"#{inquiry_id}" in m.text for m in tg.chat(STAFF_CHAT)), 10, "staff card"
    )
    again = await web.post(path, 6100, {"consent": True, "profile": person}, "zh-hans")
    assert again.status_code == 409
    assert (await web.get(f"/api/programs/{program_id}", 6100))["interested"] is True


async def test_catalog_filters_and_chinese_substrings(web: Web) -> None:
    await seed(web.runner.sessions)
    everything = await web.get("/api/catalog", 6200)
    incubation = [k for k in everything["kinds"] if k["value"] == "incubation"]
    assert incubation and incubation[0]["count"] >= 1
    incubator = await special_id(web.runner.sessions, "INC-1")
    found = await web.get("/api/catalog", 6200, "zh-hans", params={"q": "科创"})  # mid-word
    assert [i["id"] for i in found["items"]] == [incubator]
    assert found["items"][0]["title"] == "天开高教科创园孵化平台"
    both = await web.get("/api/catalog", 6200, params={"q": "科创", "kind": "training"})
    assert both["items"] == [] and both["total"] == 0  # the search and the kind together
    by_kind = await web.get("/api/catalog", 6200, params={"kind": "incubation"})
    assert by_kind["items"] and all(i["kind"] == "incubation" for i in by_kind["items"])
    beyond = await web.get("/api/catalog", 6200, params={"page": "999"})
    assert beyond["page"] == beyond["pages"] and beyond["items"]


async def test_stats_and_export_for_admins(web: Web, tg: FakeTelegram) -> None:
    await seed(web.runner.sessions)
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="zh-hans")
    stats = await web.get("/api/stats", ADMIN_ID, "zh-hans")
    assert [s["status"] for s in stats["funnel"]] == ["new", "contacted", "meeting", "agreement"]
    assert len(stats["weeks"]) == 12 and stats["weeks"][-1]["label"].endswith("日")
    sent = await web.post("/api/export", ADMIN_ID, {"format": "xlsx"}, "zh-hans")
    assert sent.status_code == 200 and sent.json()["text"] == plain("zh", "webapp.export_sent")
    document = await admin.expect_message(timeout=10)
    assert (document.document_name or "").endswith(".xlsx")


async def test_start_offers_the_mini_app_when_it_is_configured(web: Web, tg: FakeTelegram) -> None:
    # WEBAPP_URL is taken as a folder (…/app/): the page asks for api/… beside itself.
    contact = tg.user(6300, first_name="Ann", language_code="en")
    welcome = await contact.send_and_wait("/start")
    assert welcome.buttons()[0] == (t("en", "webapp.open"), "https://miniapp.example/app/")
    admin = tg.user(ADMIN_ID, first_name="Admin", language_code="zh-hans")
    menu = await admin.send_and_wait("/start")
    assert menu.buttons()[0] == (t("zh", "webapp.open_staff"), "https://miniapp.example/app/")
    # The chat stays complete: every row of the menu without the app is still there.
    assert t("en", "btn.catalog") in welcome.button_labels()


async def test_without_webapp_url_nothing_is_offered_or_served(
    bot: BotRunner, tg: FakeTelegram
) -> None:
    contact = tg.user(6301, first_name="Ann", language_code="en")
    welcome = await contact.send_and_wait("/start")
    assert all(data != "https://miniapp.example/app/" for _, data in welcome.buttons())
    assert t("en", "webapp.open") not in welcome.button_labels()
    assert bot.app is not None and "miniapp" not in bot.app.bot_data.extras


async def test_the_catalogue_counts_follow_a_change_at_once(web: Web) -> None:
    """The counts are cached per catalogue version: a programme closed is gone from the
    next page's total and its kind's count."""
    from sqlalchemy import update as sql_update

    from storage.models import Program, ProgramStatus, utcnow

    await seed(web.runner.sessions)
    before = await web.get("/api/catalog", 6600)
    incubation = await special_id(web.runner.sessions, "INC-1")
    async with web.runner.sessions() as session, session.begin():
        await session.execute(
            sql_update(Program)
            .where(Program.id == incubation)
            .values(status=ProgramStatus.CLOSED, updated_at=utcnow())
        )
    after = await web.get("/api/catalog", 6600)
    assert after["total"] == before["total"] - 1

    def kind_count(page: dict[str, Any]) -> int:
        return sum(k["count"] for k in page["kinds"] if k["value"] == "incubation")

    assert kind_count(after) == kind_count(before) - 1
    assert incubation not in [
        i["id"] for i in (await web.get("/api/catalog?kind=incubation", 6600))["items"]
    ]
