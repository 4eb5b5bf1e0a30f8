"""The Mini App's API as an attacker sees it: odd paths, odd methods, odd bytes, forged
initData and ids, and two staff members at once. Each test asserts the exact status and
that nothing was stored, queued or sent that should not be (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import time_machine
from sqlalchemy import func, select

from bot.web.initdata import sign
from bot.web.miniapp import STATIC
from storage.models import (
    AuditEntry,
    EnterpriseProfile,
    Inquiry,
    InquiryEvent,
    InquiryStatus,
    NextStep,
    OutboxMessage,
    User,
)
from tests import test_miniapp_api as api
from tests.constants import ADMIN_ID, TOKEN
from tests.fakebot import FakeTelegram
from tests.seed import special_id
from tests.test_inquiry_admin import TEACHER, seed
from tests.test_miniapp_api import Web

web = api.web  # the fixture, reused by import

BOB = 7001  # the contact of inquiries 1..12 in seed()


async def counts(w: Web, *signed_in: int) -> dict[str, int]:
    """How many rows of everything an API call could leave behind (after the users named
    have opened the page once, so that their own first visit is not counted)."""
    for user in signed_in:
        await w.get("/api/me", user)
    found = {}
    async with w.runner.sessions() as session:
        for model in (
            User, Inquiry, InquiryEvent, AuditEntry, NextStep, OutboxMessage, EnterpriseProfile,
        ):  # fmt: skip
            found[model.__tablename__] = int(
                await session.scalar(select(func.count()).select_from(model)) or 0
            )
    return found


def no_secret(response: httpx.Response) -> None:
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    assert TOKEN not in response.text and TOKEN not in headers
    assert TOKEN.split(":")[1] not in response.text


async def test_static_never_serves_a_file_outside_its_folder(web: Web) -> None:
    ok = await web.http.get("/static/app.js")
    assert ok.status_code == 200 and "javascript" in ok.headers["Content-Type"]
    for path in (
        "/static/../miniapp.py",
        "/static/..%2fminiapp.py",
        "/static/%2e%2e/miniapp.py",
        "/static/%2e%2e%2fminiapp.py",
        "/static/..%5cminiapp.py",
        "/static/%2e%2e/%2e%2e/settings.py",
        "/static/....//miniapp.py",
        "/static/%252e%252e/miniapp.py",
        "/static//etc/passwd",
        "/static/%00app.js",
        "/static/app.js%00",
        "/static/",
        "/static/.",
        "/static/nope.js",
        "/static/app.js/..%2f..%2fminiapp.py",
    ):
        response = await web.http.get(path)
        wanted = 403 if path in ("/static/", "/static/.") else 404  # no folder listing
        assert response.status_code == wanted, (path, response.status_code)
        assert "from __future__" not in response.text and "root:" not in response.text, path
        no_secret(response)
    # A raw request line, which httpx would normalise: the server must refuse it too.
    reader, writer = await asyncio.open_connection("127.0.0.1", int(web.base.rsplit(":", 1)[1]))
    writer.write(b"GET /static/../miniapp.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await writer.drain()
    raw = await reader.read()
    writer.close()
    assert b"from __future__" not in raw and raw.split(b" ")[1] == b"404"
    # A link planted inside the folder is not followed (follow_symlinks=False).
    link = STATIC / "planted.py"
    link.symlink_to(STATIC.parent / "miniapp.py")
    try:
        planted = await web.http.get("/static/planted.py")
    finally:
        link.unlink()
    assert planted.status_code == 404 and "from __future__" not in planted.text


async def test_methods_the_api_does_not_offer_are_405_and_change_nothing(web: Web) -> None:
    await seed(web.runner.sessions)
    before = await counts(web, ADMIN_ID)
    for method in ("PUT", "DELETE", "PATCH"):
        for path in ("/api/me", "/api/inquiries/2", "/api/inquiries/2/status", "/api/export"):
            response = await web.call(method, path, ADMIN_ID, json={"status": "closed"})
            assert response.status_code == 405, (method, path)
            no_secret(response)
    # A GET endpoint answers no POST, a POST endpoint no GET (no state change by a link).
    assert (await web.call("POST", "/api/me", ADMIN_ID, json={})).status_code == 405
    assert (await web.call("GET", "/api/inquiries/2/status", ADMIN_ID)).status_code == 405
    assert (await web.call("GET", "/api/export", ADMIN_ID)).status_code == 405
    options = await web.call("OPTIONS", "/api/me", ADMIN_ID)
    assert options.status_code == 405 and "Access-Control-Allow-Origin" not in options.headers
    head = await web.call("HEAD", "/api/me")  # no initData: nothing about the API leaks
    assert head.status_code in (401, 405) and not head.content
    assert (await web.call("GET", "/api/nope", ADMIN_ID)).status_code == 404
    async with web.runner.sessions() as session:
        row = await session.get(Inquiry, 2)
    assert row is not None and row.status is InquiryStatus.NEW
    assert await counts(web) == before


async def test_odd_query_strings_are_refused_or_harmless(web: Web) -> None:
    await seed(web.runner.sessions)
    before = await counts(web, ADMIN_ID)
    odd = [
        "\x00", "a\x00b", "\x07\x1b[31m", "\u202eevil", "e\u0301\u0301\u0301", "🙂" * 50,
        "x" * 5_000, "%", "\ufeff", "\U0001f468\u200d\U0001f469",
    ]  # fmt: skip
    for value in odd:
        for path, name in (("/api/board", "q"), ("/api/catalog", "q"), ("/api/catalog", "kind"),
                           ("/api/board", "assignee"), ("/api/catalog", "page")):  # fmt: skip
            response = await web.call("GET", f"{path}?{name}={quote(value)}", ADMIN_ID)
            # Words are searched as typed; a NUL (which PostgreSQL cannot hold) or a filter
            # the page never offers is a malformed request.
            wanted = 200 if name == "q" and "\x00" not in value else 400
            assert response.status_code == wanted, (path, name, repr(value), response.text)
            no_secret(response)
    # 10,000 characters: past aiohttp's request line limit, refused before any handler.
    long = await web.call("GET", "/api/board?q=" + "x" * 10_000, ADMIN_ID)
    assert long.status_code == 400
    # Repeated parameters: one of them counts, never an error.
    twice = await web.call("GET", "/api/board?kind=nope&kind=joint_research", ADMIN_ID)
    assert twice.status_code in (200, 400)
    many = "&".join(f"q{n}=x" for n in range(500))
    assert (await web.call("GET", "/api/catalog?" + many, ADMIN_ID)).status_code == 200
    assert await counts(web) == before


async def test_json_bodies_of_every_odd_shape_are_400_and_change_nothing(
    web: Web,
) -> None:
    await seed(web.runner.sessions)
    before = await counts(web, ADMIN_ID)
    bodies: list[bytes] = [
        b"[]", b"[{\"status\": \"closed\"}]", b"42", b"\"closed\"", b"null", b"true", b"",
        b"[" * 20_000 + b"]" * 20_000,  # deeper than Python's parser goes
        b"{\"a\":" * 5_000 + b"1" + b"}" * 5_000,
        b"\xff\xfe{", b"{\"status\": \"closed\"", b"NaN",
    ]  # fmt: skip
    for path in ("/api/inquiries/2/status", "/api/inquiries/2/reply", "/api/inquiries/2/assign",
                 "/api/export"):  # fmt: skip
        for body in bodies:
            response = await web.call("POST", path, ADMIN_ID, content=body)
            assert response.status_code == 400, (path, body[:30], response.text)
            assert "error" in response.json()
            no_secret(response)
    # Duplicate keys: the last one counts (as json.loads reads it); a forged value is 403.
    dup = await web.call("POST", "/api/inquiries/2/status", ADMIN_ID,
                         content=b'{"status": "contacted", "status": "won"}')  # fmt: skip
    assert dup.status_code == 403
    assert await counts(web) == before


async def test_ids_that_are_not_ids_are_refused(web: Web) -> None:
    await seed(web.runner.sessions)
    before = await counts(web, ADMIN_ID)
    for forged in ("9223372036854775808", "-1", "0", "1e309", "-1e309",
                   "8001.0", "true", "false", '"8001"', "null", "[8001]", '{"id": 8001}',
                   "NaN", "Infinity", "1" + "0" * 5000):  # fmt: skip
        body = ('{"assignee_id": ' + forged + "}").encode()
        response = await web.call("POST", "/api/inquiries/2/assign", ADMIN_ID, content=body)
        assert response.status_code == 400, (forged, response.text)
    # An id in range that is nobody staff: refused as a forged button.
    for nobody in (2**31, 2 * 10**18, BOB):
        response = await web.post("/api/inquiries/2/assign", ADMIN_ID, {"assignee_id": nobody})
        assert response.status_code == 403, response.text
    for path in ("/api/inquiries/9223372036854775808", "/api/inquiries/2147483648",
                 "/api/inquiries/1e3", "/api/inquiries/%2B2", "/api/inquiries/%202",
                 "/api/inquiries/2%00", "/api/programs/-0", "/api/programs/٣"):  # fmt: skip
        response = await web.call("GET", path, ADMIN_ID)
        assert response.status_code in (403, 404), (path, response.text)
    async with web.runner.sessions() as session:
        row = await session.get(Inquiry, 2)
    assert row is not None and row.assignee_id is None
    assert await counts(web) == before


async def test_unpaired_surrogates_and_nul_in_bodies_are_400(web: Web, tg: FakeTelegram) -> None:
    await seed(web.runner.sessions)
    ids = await special_id(web.runner.sessions, "INC-1")
    before = await counts(web, ADMIN_ID, 6400)
    for text in ("\\ud800", "a\\udfffb", "\\u0000", "x\\u0000y"):
        body = ('{"text": "' + text + '"}').encode()
        response = await web.call("POST", "/api/inquiries/2/reply", ADMIN_ID, content=body)
        assert response.status_code == 400, (text, response.text)
        person = '"organization": "O' + text + '", "contact_person": "P", "email": "p@x.cn"'
        body = (
            '{"consent": true, "message": "' + text + '", "profile": {' + person + "}}"
        ).encode()
        response = await web.call("POST", f"/api/programs/{ids}/interest", 6400, content=body)
        assert response.status_code == 400, (text, response.text)
        body = ('{"title": "t' + text + '", "due": "2099-01-01T10:00"}').encode()
        response = await web.call("POST", "/api/inquiries/2/steps", ADMIN_ID, content=body)
        assert response.status_code == 400, (text, response.text)
    assert await counts(web) == before
    assert tg.chat(BOB) == []


async def test_forged_init_data_fields_are_401(web: Web) -> None:
    now = datetime.now(UTC)
    before = await counts(web, ADMIN_ID)
    users: list[Any] = [0, -5, True, 5.0, "5555", 2**53, 2**63, None, [5555]]
    attempts = [sign(TOKEN, {"id": uid, "first_name": "x"}, now) for uid in users]
    attempts += [
        sign(TOKEN, {"first_name": "no id"}, now),
        sign(TOKEN, [5555], now),  # type: ignore[arg-type]
        sign("123:ANOTHER", {"id": 5555, "first_name": "x"}, now),
        sign(TOKEN, {"id": 5555, "first_name": "x"}, now + timedelta(days=3650)),
    ]
    fields = {"user": json.dumps({"id": 5555}), "auth_date": "soon"}  # signed, not a number
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields)).encode()
    fields["hash"] = hmac.new(secret, check, hashlib.sha256).hexdigest()
    attempts.append("&".join(f"{k}={quote(v)}" for k, v in fields.items()))
    good = web.init_data(5555)
    attempts += [
        good.replace("hash=", "hash=%20"),
        good.replace("hash=", "HASH="),
        good + "&",
        good + "&=x",
        good.replace("&", "%26", 1),
        good.replace("&", ";", 1),
        good.upper(),
    ]
    for data in attempts:
        response = await web.call("GET", "/api/me", auth="tma " + data)
        assert response.status_code == 401, (data, response.text)
        assert response.json() == {"error": "unauthorized"}
        no_secret(response)
    for header in ("tma", "tma  " + good, "TMA " + good, "tma " + good + "\x00"):
        try:
            response = await web.call("GET", "/api/me", auth=header)
        except httpx.LocalProtocolError:
            continue  # the client would not even send it
        assert response.status_code == 401, header
    assert await counts(web) == before


async def test_init_data_replayed_after_the_max_age_is_401(web: Web) -> None:
    signed = "tma " + web.init_data(5555)
    assert (await web.call("GET", "/api/me", auth=signed)).status_code == 200
    before = await counts(web, ADMIN_ID)
    max_age = web.runner.settings.webapp_auth_max_age
    with time_machine.travel(datetime.now(UTC) + max_age + timedelta(seconds=5), tick=True):
        late = await web.call("GET", "/api/me", auth=signed)
        assert late.status_code == 401 and late.json() == {"error": "unauthorized"}
        posted = await web.call("POST", "/api/export", auth=signed, json={"format": "csv"})
        assert posted.status_code == 401
    assert await counts(web) == before


async def test_two_admins_move_one_inquiry_at_the_same_moment(
    web: Web,
    tg: FakeTelegram,
) -> None:
    # One admin on two devices stands for two admins: the row lock is the same either way.
    await seed(web.runner.sessions)
    bob = tg.user(BOB, first_name="Bob", language_code="en")
    await counts(web, ADMIN_ID)  # signed in already: this test is about the moves
    same = await asyncio.gather(
        *(web.post("/api/inquiries/2/status", ADMIN_ID, {"status": "contacted"}) for _ in range(4))
    )
    assert [r.status_code for r in same] == [200] * 4, [r.text for r in same]
    both = await asyncio.gather(
        web.post("/api/inquiries/3/status", ADMIN_ID, {"status": "meeting"}),
        web.post("/api/inquiries/3/status", ADMIN_ID, {"status": "declined"}),
    )
    assert [r.status_code for r in both] == [200, 200]
    async with web.runner.sessions() as session:
        two = await session.get(Inquiry, 2)
        three = await session.get(Inquiry, 3)
        audit2 = (await session.scalars(
            select(AuditEntry).where(AuditEntry.subject == "inquiry:2"))).all()  # fmt: skip
        audit3 = (await session.scalars(
            select(AuditEntry).where(AuditEntry.subject == "inquiry:3"))).all()  # fmt: skip
        queued = (await session.scalars(select(OutboxMessage).where(
            OutboxMessage.chat_id == BOB))).all()  # fmt: skip
    assert two is not None and two.status is InquiryStatus.CONTACTED
    assert len(audit2) == 1  # one real change, however many taps
    assert three is not None and three.status in (InquiryStatus.MEETING, InquiryStatus.DECLINED)
    assert len(audit3) == 2 and audit3[-1].detail.endswith(f"istatus.{three.status.value}⟧")
    assert len(queued) == 3  # the contact is told once per change
    await tg.wait_for(lambda: len(tg.chat(BOB)) >= 3, 10, "three messages to Bob")
    assert len(tg.chat(BOB)) == 3
    del bob


async def test_a_contact_and_a_teacher_with_forged_ids_change_nothing(web: Web) -> None:
    await seed(web.runner.sessions)
    before = await counts(web, BOB, TEACHER)
    for user, method, path, body in (
        (BOB, "GET", "/api/inquiries/2", None),  # Bob's own inquiry, but not a staff view
        (BOB, "POST", "/api/inquiries/2/status", {"status": "closed"}),
        (BOB, "POST", "/api/inquiries/2/assign", {"assignee_id": BOB}),
        (BOB, "POST", "/api/inquiries/2/reply", {"text": "hi"}),
        (BOB, "POST", "/api/inquiries/2/steps", {"title": "x", "due": "2099-01-01T10:00"}),
        (BOB, "POST", "/api/export", {"format": "csv"}),
        (BOB, "GET", "/api/stats", None),
        (TEACHER, "POST", "/api/inquiries/13/assign", {"assignee_id": BOB}),
        (TEACHER, "POST", "/api/inquiries/2/assign", {"assignee_id": TEACHER}),
        (TEACHER, "POST", "/api/inquiries/2/steps", {"title": "x", "due": "2099-01-01T10:00"}),
        (TEACHER, "POST", "/api/inquiries/14/reply", {"text": "hi"}),
    ):
        response = await web.call(method, path, user, json=body)
        assert response.status_code == 403, (user, path, response.text)
        no_secret(response)
    assert await counts(web) == before


async def test_a_reply_at_the_limit_is_sent_and_beyond_it_refused(
    web: Web,
    tg: FakeTelegram,
) -> None:
    from bot.inquiries.limits import message_limit

    await seed(web.runner.sessions)
    bob = tg.user(BOB, first_name="Bob", language_code="en")
    limit = message_limit()
    before = await counts(web, ADMIN_ID)
    over = await web.post("/api/inquiries/4/reply", ADMIN_ID, {"text": "y" * (limit + 1)})
    assert over.status_code == 422, over.text
    huge = await web.post("/api/inquiries/4/reply", ADMIN_ID, {"text": "z" * 100_000})
    assert huge.status_code == 413
    assert await counts(web) == before
    exact = await web.post("/api/inquiries/4/reply", ADMIN_ID, {"text": "x" * limit})
    assert exact.status_code == 200, exact.text
    told = await bob.expect_message(timeout=10)
    assert "x" * 100 in told.text


async def test_interest_in_a_closed_or_missing_programme_is_refused(web: Web) -> None:
    await seed(web.runner.sessions)
    closed = await special_id(web.runner.sessions, "OLD-1")
    before = await counts(web, 6500)
    person = {"organization": "O", "contact_person": "P", "email": "p@example.com"}
    body = {"consent": True, "profile": person, "message": "hi"}
    for path in (f"/api/programs/{closed}/interest", "/api/programs/99999/interest"):
        response = await web.post(path, 6500, body)
        assert response.status_code in (403, 404), (path, response.text)
        no_secret(response)
    assert (await web.call("GET", f"/api/programs/{closed}", 6500)).status_code == 404
    assert await counts(web) == before


async def test_a_failure_inside_shows_no_secret(web: Web, tg: FakeTelegram) -> None:
    await seed(web.runner.sessions)
    tg.fail_next("sendDocument", 400, "Bad Request: chat not found")
    response = await web.post("/api/export", ADMIN_ID, {"format": "csv"})
    assert response.status_code == 422, response.text
    no_secret(response)
    for path in ("/api/me", "/api/board", "/api/catalog", "/api/stats"):
        no_secret(await web.call("GET", path, ADMIN_ID))


async def test_a_newcomers_first_calls_at_once_make_one_user(web: Web) -> None:
    # The page opens with several calls; each finds no user row and the inserts race
    # (a 500 from the unique key on PostgreSQL, before the fix).
    before = await counts(web)
    paths = ("/api/me", "/api/catalog", "/api/profile", "/api/me", "/api/catalog")
    answers = await asyncio.gather(*(web.call("GET", path, 6600) for path in paths))
    assert [r.status_code for r in answers] == [200] * len(paths), [r.text for r in answers]
    assert await counts(web) == dict(before, users=before["users"] + 1)


async def test_numbers_in_other_scripts_are_not_numbers(web: Web) -> None:
    # "²".isdigit() is True but int("²") raises: a 500 before the fix; "٣" (Arabic-Indic 3)
    # int() would take, but the page only ever sends ASCII digits.
    await seed(web.runner.sessions)
    before = await counts(web, ADMIN_ID)
    for path in ("/api/catalog?page=²", "/api/catalog?page=٣", "/api/catalog?page=+1",
                 "/api/catalog?page=1_0", "/api/board?age=²", "/api/board?age=٣",
                 "/api/board?age=-0"):  # fmt: skip
        response = await web.call("GET", path, ADMIN_ID)
        assert response.status_code == 400, (path, response.text)
        no_secret(response)
    assert (await web.call("GET", "/api/board?age=3", ADMIN_ID)).status_code == 200
    assert (await web.call("GET", "/api/catalog?page=2", ADMIN_ID)).status_code == 200
    assert await counts(web) == before


async def test_odd_steps_and_export_formats_are_refused(web: Web) -> None:
    await seed(web.runner.sessions)
    before = await counts(web, ADMIN_ID)
    for due, status in (("0001-01-01T00:00", 422), ("2099-02-30T10:00", 422), ("", 422),
                        ("2099-01-01T10:00+08:00", 422), ("2099-01-01T10:00:00Z", 422),
                        ("2099-01-01T10:00:00.000000+08:00", 422), ("2099-01-01T10:00" * 50, 422),
                        ("٢٠٩٩-01-01T10:00", 422)):  # fmt: skip
        response = await web.post("/api/inquiries/3/steps", ADMIN_ID, {"title": "x", "due": due})
        assert response.status_code == status, (due, response.text)
        assert response.json().get("field") in ("due", None), (due, response.text)
    for title in ("   ", "\n\t", "t" * 301):
        body = {"title": title, "due": "2099-01-01T10:00"}
        response = await web.post("/api/inquiries/3/steps", ADMIN_ID, body)
        assert response.status_code == 422, (repr(title)[:20], response.text)
    for typed in ({"title": "x", "due": 20990101}, {"title": ["x"], "due": "2099-01-01T10:00"}):
        assert (await web.post("/api/inquiries/3/steps", ADMIN_ID, typed)).status_code == 400
    for fmt in ("../../etc/passwd", "CSV", "pdf", "", None, ["csv"]):
        response = await web.post("/api/export", ADMIN_ID, {"format": fmt})
        assert response.status_code == 400, (fmt, response.text)
    assert await counts(web) == before
    # What the input gives with seconds shown is read whole, as local time.
    seconds = {"title": "with seconds", "due": "2099-01-01T10:00:00.000"}
    saved = await web.post("/api/inquiries/3/steps", ADMIN_ID, seconds)
    assert saved.status_code == 200, saved.text
    async with web.runner.sessions() as session:
        step = (await session.scalars(select(NextStep).where(NextStep.inquiry_id == 3))).one()
    assert step.due_at == datetime(2099, 1, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


async def test_odd_interest_bodies_store_nothing(web: Web) -> None:
    from bot.inquiries.limits import message_limit

    await seed(web.runner.sessions)
    program = await special_id(web.runner.sessions, "INC-1")
    path = f"/api/programs/{program}/interest"
    person = {"organization": "O", "contact_person": "P", "email": "p@example.com"}
    before = await counts(web, 6700)
    for body, status, field in (
        ({"consent": "true", "profile": person}, 422, "consent"),  # only JSON true
        ({"consent": 1, "profile": person}, 422, "consent"),
        ({"consent": True, "profile": [person]}, 422, "organization"),
        ({"consent": True, "profile": dict(person, organization="O" * 10_000)}, 422,
         "organization"),
        ({"consent": True, "profile": dict(person, email="a@b\u202ec.com")}, 422, "email"),
        ({"consent": True, "profile": person, "message": "m" * (message_limit() + 1)}, 422,
         None),
    ):  # fmt: skip
        response = await web.post(path, 6700, body)
        assert response.status_code == status, (str(body)[:60], response.text)
        assert response.json().get("field") == field, (str(body)[:60], response.text)
    huge = await web.post(path, 6700, {"consent": True, "profile": person, "message": "m" * 70_000})
    assert huge.status_code == 413
    assert await counts(web) == before


async def test_a_double_tap_on_interested_makes_one_inquiry(web: Web, tg: FakeTelegram) -> None:
    await seed(web.runner.sessions)
    program = await special_id(web.runner.sessions, "INC-1")
    contact = tg.user(6800, first_name="Li", language_code="zh-hans")
    before = await counts(web, 6800)
    person = {"organization": "O", "contact_person": "P", "email": "p@example.com"}
    body = {"consent": True, "profile": person, "message": "hi"}
    taps = await asyncio.gather(
        *(web.post(f"/api/programs/{program}/interest", 6800, body) for _ in range(3))
    )
    assert sorted(r.status_code for r in taps) == [200, 409, 409], [r.text for r in taps]
    after = await counts(web)
    assert after["inquiries"] == before["inquiries"] + 1
    assert after["enterprise_profiles"] == before["enterprise_profiles"] + 1
    async with web.runner.sessions() as session:
        queued = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == 6800))
        ).all()
    assert len(queued) == 1  # the chat hears of it once
    await contact.expect_message(timeout=10)


async def test_assigning_at_once_records_one_change(web: Web, tg: FakeTelegram) -> None:
    await seed(web.runner.sessions)
    await counts(web, ADMIN_ID)
    taps = await asyncio.gather(
        *(web.post("/api/inquiries/5/assign", ADMIN_ID, {"assignee_id": TEACHER}) for _ in range(3))
    )
    assert [r.status_code for r in taps] == [200] * 3, [r.text for r in taps]
    async with web.runner.sessions() as session:
        row = await session.get(Inquiry, 5)
        audit = (
            await session.scalars(select(AuditEntry).where(AuditEntry.subject == "inquiry:5"))
        ).all()
    assert row is not None and row.assignee_id == TEACHER
    assert len(audit) == 1, [a.detail for a in audit]
