"""Several webhook instances behind a proxy, on one PostgreSQL.

deploy/haproxy-webhook.cfg (its bind and server lines swapped for local ones) routes each
update by its sender to one of two `partnerbot run` webhook processes. People fill in a
form by sending every answer at once, without waiting for the questions: their answers
must be taken in order. Then one instance is SIGKILLed mid-form, and its people finish
their forms on the other one, which finds their progress in the database.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import EnterpriseProfile
from tests.databases import new_pg_database
from tests.fakebot import FakeTelegram, FakeUser
from tests.test_e2e_process import free_port
from tests.test_reminder_durability import Proc, bot_env

ROOT = Path(__file__).parent.parent
CONFIG = ROOT / "deploy" / "haproxy-webhook.cfg"
SECRET = "hook-Secret_42"
PATH = "/telegram-hook"
PEOPLE = list(range(71_001, 71_011))  # ten contacts


def proxy_config(port: int, stats_port: int, backends: list[int]) -> str:
    """The deployment file with plain HTTP on a local port and the test's instances."""
    lines = []
    for line in CONFIG.read_text().splitlines():
        if line.strip().startswith("bind "):
            line = f"    bind 127.0.0.1:{port}"
        elif line.strip().startswith("server "):
            continue
        lines.append(line)
        if line.strip().startswith("default-server"):
            lines[-1] = "    default-server check inter 200ms fall 1 rise 1"
            lines += [f"    server bot{n} 127.0.0.1:{p}" for n, p in enumerate(backends, 1)]
    lines += [
        "",
        "listen stats",
        f"    bind 127.0.0.1:{stats_port}",
        "    stats enable",
        "    stats uri /stats",
    ]
    return "\n".join(lines) + "\n"


class Proxy:
    def __init__(self, tmp_path: Path, backends: list[int]) -> None:
        self.port, self.stats_port = free_port(), free_port()
        self.config = tmp_path / "haproxy.cfg"
        self.config.write_text(proxy_config(self.port, self.stats_port, backends))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def start(self) -> None:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        check = subprocess.run([haproxy, "-c", "-f", str(self.config)], capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr
        self.proc = subprocess.Popen(
            [haproxy, "-db", "-f", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    async def servers(self) -> dict[str, dict[str, str]]:
        """Per instance: status (UP/DOWN) and stot (requests it got)."""
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{self.stats_port}/stats;csv")
        return _instances(answer.text)


@pytest.fixture
async def proxy(tmp_path: Path) -> AsyncIterator[Proxy]:
    if shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists():
        if os.environ.get("PARTNERBOT_REQUIRE_HAPROXY"):
            pytest.fail("haproxy is required here but not installed")
        pytest.skip("haproxy is not installed (scripts/test.sh installs it)")
    backends = [free_port(), free_port()]
    server = Proxy(tmp_path, backends)
    server.backends = backends  # type: ignore[attr-defined]
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Poster:
    """Acts as Telegram: POSTs each update to the proxy, one after the other."""

    def __init__(self, tg: FakeTelegram, proxy: Proxy, client: httpx.AsyncClient) -> None:
        self.tg, self.proxy, self.client = tg, proxy, client

    async def post(self, update: dict[str, Any]) -> None:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        answer = await self.client.post(self.proxy.url, json=update, headers=headers)
        assert answer.status_code == 200, (answer.status_code, answer.text)

    async def text(self, user: FakeUser, text: str) -> None:
        payload = user._message_payload(user.user_json(), **user._text_body(text, None))
        await self.post(self.tg._make_update("message", payload))

    async def press(self, user: FakeUser, label: str) -> None:
        message, data = user._keyboard_message(label)
        query = {
            "id": "cbq" + uuid.uuid4().hex[:20],
            "from": user.user_json(),
            "message": message.payload,
            "chat_instance": str(user.chat_id),
            "data": data,
        }
        await self.post(self.tg._make_update("callback_query", query))


def answers(person: int) -> list[str]:
    return [f"Org {person}", f"Manager {person}", f"+86 139 0000 {person % 10_000:04d}", "-", "-"]


async def until_text(user: FakeUser, needle: str, timeout: float = 15) -> str:
    """Read this user's new bot messages until one contains `needle`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        message = await user.expect_message(timeout=max(0.1, left))
        if needle in message.text:
            return message.text


async def test_users_stay_in_order_and_forms_survive_an_instance(
    tg: FakeTelegram, pg_server: str | None, proxy: Proxy, tmp_path: Path
) -> None:
    if pg_server is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    db_url = await new_pg_database(pg_server)
    engine = create_engine(db_url)
    await upgrade(engine)
    people = [tg.user(p, first_name=f"P{p}", language_code="en") for p in PEOPLE]
    backends: list[int] = proxy.backends  # type: ignore[attr-defined]
    procs = [
        Proc(
            "run",
            bot_env(
                tg,
                db_url,
                WEBHOOK_URL=proxy.url,
                WEBHOOK_LISTEN="127.0.0.1",
                WEBHOOK_PORT=str(port),
                WEBHOOK_SECRET=SECRET,
            ),
            tmp_path / f"bot{n}.log",
        )
        for n, port in enumerate(backends, 1)
    ]

    def logs() -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.tail(2000)}" for p in procs)

    try:
        for p in procs:
            await p.start()
        await tg.wait_for(
            lambda: all(s["status"] == "UP" for s in _servers_now(proxy).values()),
            30,
            "both instances up",
        )
        async with httpx.AsyncClient(timeout=10) as client:
            poster = Poster(tg, proxy, client)

            async def begin(user: FakeUser) -> None:
                """/profile, consent, then every answer but the last two at once."""
                await poster.text(user, "/profile")
                await until_text(user, "Do you agree?")
                await poster.press(user, "✅ I agree")
                await until_text(user, "Name of your organisation")
                for answer in answers(user.chat_id)[:3]:
                    await poster.text(user, answer)
                await until_text(user, "Email")

            async def finish(user: FakeUser) -> str:
                for answer in answers(user.chat_id)[3:]:
                    await poster.text(user, answer)
                summary = await until_text(user, "Please check before saving")
                await poster.press(user, "✅ Save")
                await until_text(user, "profile is saved")
                return summary

            try:
                await asyncio.gather(*(begin(u) for u in people))
                before = await proxy.servers()
                served = {name: int(s["stot"]) for name, s in before.items()}
                assert all(n > 0 for n in served.values()), served  # both took people
                # bot1 dies without a word; its people move to bot2 and carry on.
                await procs[0].kill()
                await tg.wait_for(
                    lambda: _servers_now(proxy)["bot1"]["status"].startswith("DOWN"),
                    10,
                    "the proxy to see bot1 down",
                )
                summaries = await asyncio.gather(*(finish(u) for u in people))
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{logs()}") from None
            after = await proxy.servers()
        moved = int(after["bot2"]["stot"]) - served["bot2"]
        print(f"\nrequests per instance before the kill {served}; bot2 took {moved} after")
        code = await procs[1].stop()
        assert code == 0, logs()

        # Each summary and each stored profile has each answer in its own place.
        for user, summary in zip(people, summaries, strict=True):
            org, person, phone, *_ = answers(user.chat_id)
            assert f"Organisation: {org}" in summary, summary
            assert f"Contact person: {person}" in summary, summary
            assert "Phone: +86139" in summary and re.sub(r"\D", "", phone)[-4:] in summary
        async with create_session_factory(engine)() as session:
            for uid in PEOPLE:  # not `p`: that is a Proc in this test
                profile = await session.get(EnterpriseProfile, uid)
                assert profile is not None, uid
                assert (profile.organization, profile.contact_person) == tuple(answers(uid)[:2])
                assert profile.phone == "+86" + re.sub(r"\D", "", answers(uid)[2])[2:]
    finally:
        for p in procs:
            await p.ensure_dead()
        await engine.dispose()


def _servers_now(proxy: Proxy) -> dict[str, dict[str, str]]:
    """The stats, read synchronously (for wait_for's predicate)."""
    answer = httpx.get(f"http://127.0.0.1:{proxy.stats_port}/stats;csv", timeout=2)
    return _instances(answer.text)


def _instances(stats_csv: str) -> dict[str, dict[str, str]]:
    """HAProxy's CSV stats: the rows of the bot instances, by server name."""
    rows = csv.DictReader(io.StringIO(stats_csv.lstrip("# ")))
    return {
        r["svname"]: r for r in rows if r["pxname"] == "partnerbot" and r["svname"] != "BACKEND"
    }
