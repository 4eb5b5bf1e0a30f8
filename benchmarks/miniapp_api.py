"""The Mini App's API with 10,000 programmes and 5,000 inquiries: p50/p95 per request.

The server is the bot's own (bot/web/miniapp.py with handlers/webapp.py) in a process of
its own, as in `partnerbot run`; this process is the page, signing every request with
initData and waiting for each answer over HTTP on loopback (keep-alive, as a browser).
Each request is timed from send to the last byte of the answer: initData check, the
sender recognised, the services, the JSON. Target (issue 14): p95 ≤ 50 ms per request.

Run: .venv/bin/python -m benchmarks.miniapp_api [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.catalog_actions import seed as seed_programmes
from benchmarks.common import ROOT, database, print_table, summary, write_json

TARGET_P95_MS = 50.0
TOKEN = "123456:BENCH-miniapp-token"
ADMIN, TEACHER = 9, 2


def settings_for(url: str, port: int) -> Any:
    from bot.settings import load_settings

    return load_settings(
        bot_token=TOKEN, database_url=url, admin_ids=str(ADMIN), webapp_port=port,
        webapp_url="https://bench.example/app", flood_burst=1000, flood_rate=1000,
    )  # fmt: skip


async def serve(url: str, port: int) -> None:
    """The server side, as `partnerbot run` starts it (no Telegram: nothing is sent)."""
    from telegram import Bot

    from bot.context import Runtime
    from bot.web.miniapp import MiniApp, MiniAppServer
    from handlers.webapp import ROUTES
    from storage.engine import create_engine, create_session_factory

    settings = settings_for(url, port)
    engine = create_engine(url)
    runtime = Runtime(settings=settings, engine=engine, sessions=create_session_factory(engine))
    server = MiniAppServer(MiniApp(runtime, Bot(TOKEN), ROUTES))
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await server.stop()
    await engine.dispose()


async def seed(url: str, programmes: int, inquiries: int) -> None:
    from sqlalchemy import insert, select, update

    from storage.engine import create_engine, create_session_factory
    from storage.migrate import upgrade
    from storage.models import (
        EnterpriseProfile,
        Inquiry,
        InquiryKind,
        InquiryStatus,
        NextStep,
        Program,
        Role,
        User,
    )

    engine = create_engine(url)
    await upgrade(engine)
    sessions = create_session_factory(engine)
    await seed_programmes(sessions, programmes)
    rng = random.Random(14)
    now = datetime.now(UTC)
    statuses = list(InquiryStatus)
    weights = [30, 25, 15, 10, 10, 10]
    async with sessions() as session, session.begin():
        session.add_all(
            [
                User(id=ADMIN, first_name="Admin", language="zh", role=Role.ADMIN),
                User(id=TEACHER, first_name="Wang", language="zh", role=Role.TEACHER),
            ]
        )
        ids = list(await session.scalars(select(Program.id).order_by(Program.id)))
        await session.execute(
            update(Program).where(Program.id.in_(ids[:500])).values(owner_id=TEACHER)
        )
        contacts = [
            {"id": 100_000 + n, "first_name": f"Contact {n}", "language": "zh"}
            for n in range(inquiries)
        ]
        await session.execute(insert(User), contacts)
        await session.execute(
            insert(EnterpriseProfile),
            [
                {"user_id": c["id"], "organization": f"天津企业{n}有限公司",
                 "contact_person": f"联系人{n}", "email": f"c{n}@example.cn", "consent_at": now}
                for n, c in enumerate(contacts)
            ],
        )  # fmt: skip
        rows = [
            {
                "user_id": 100_000 + n, "program_id": rng.choice(ids),
                "kind": InquiryKind.INTEREST, "message": f"想了解合作方式 {n}",
                "organization": f"天津企业{n}有限公司",
                "status": rng.choices(statuses, weights)[0],
                "assignee_id": TEACHER if n % 7 == 0 else None,
                "created_at": now - timedelta(minutes=rng.randrange(90 * 24 * 60)),
            }
            for n in range(inquiries)
        ]  # fmt: skip
        await session.execute(insert(Inquiry), rows)
        inquiry_ids = list(await session.scalars(select(Inquiry.id)))
        await session.execute(
            insert(NextStep),
            [
                {"inquiry_id": i, "title": "回访", "owner_id": TEACHER,
                 "due_at": now + timedelta(hours=rng.randrange(-72, 240))}
                for i in rng.sample(inquiry_ids, min(len(inquiry_ids), inquiries // 3))
            ],
        )  # fmt: skip
    if engine.dialect.name == "postgresql":
        # As autovacuum would have by now on a college's server: fresh rows without
        # visibility or statistics made PostgreSQL scan 10,000 programmes per count.
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE")
    await engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure(
    port: int, repeat: int, programmes: int, inquiries: int
) -> dict[str, list[float]]:
    import aiohttp

    from bot.web.initdata import sign

    def auth(user_id: int) -> dict[str, str]:
        user = {"id": user_id, "first_name": "Bench", "language_code": "zh-hans"}
        return {"Authorization": "tma " + sign(TOKEN, user, datetime.now(UTC))}

    admin, teacher, contact = auth(ADMIN), auth(TEACHER), auth(100_001)
    rng = random.Random(15)
    requests: dict[str, Any] = {
        "me": lambda: ("GET", "/api/me", contact, None),
        "catalogue page 1": lambda: ("GET", "/api/catalog", contact, None),
        "catalogue kind + department": lambda: (
            "GET", "/api/catalog?kind=joint_research&department=3", contact, None),
        "catalogue page 200": lambda: ("GET", "/api/catalog?page=200", contact, None),
        "catalogue search 智能 (substring)": lambda: ("GET", "/api/catalog?q=智能", contact, None),
        "catalogue search + kind": lambda: (
            "GET", "/api/catalog?q=robotics&kind=training", contact, None),
        "programme card": lambda: (
            "GET", f"/api/programs/{rng.randrange(1, programmes + 1)}", contact, None),
        "board (admin, all)": lambda: ("GET", "/api/board", admin, None),
        "board (admin, search)": lambda: ("GET", "/api/board?q=企业12", admin, None),
        "board (admin, overdue)": lambda: ("GET", "/api/board?overdue=1", admin, None),
        "board (teacher)": lambda: ("GET", "/api/board", teacher, None),
        "inquiry detail": lambda: (
            "GET", f"/api/inquiries/{rng.randrange(1, inquiries)}", admin, None),
        "stats": lambda: ("GET", "/api/stats", admin, None),
        "move status": lambda: (
            "POST", f"/api/inquiries/{rng.randrange(1, inquiries)}/status", admin,
            {"status": rng.choice(["contacted", "meeting"])}),
    }  # fmt: skip
    samples: dict[str, list[float]] = {name: [] for name in requests}
    # aiohttp's client: httpx spent more of each request than the server (a failing
    # import of an async library per request, among others).
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(base) as client:
        for round_ in range(repeat + 5):  # the first rounds warm the caches up
            for name, make in requests.items():
                method, path, headers, body = make()
                start = time.perf_counter()
                async with client.request(method, path, headers=headers, json=body) as response:
                    data = await response.read()
                elapsed = (time.perf_counter() - start) * 1000
                if response.status != 200:
                    raise RuntimeError(f"{name}: {response.status} {data[:200]!r}")
                if round_ >= 5:
                    samples[name].append(elapsed)
    return samples


async def run(backend: str, programmes: int, inquiries: int, repeat: int) -> list[list[Any]]:
    async with database(backend) as url:
        await seed(url, programmes, inquiries)
        port = free_port()
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.miniapp_api", "--serve", url, str(port),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, env=dict(os.environ),
        )  # fmt: skip
        try:
            assert child.stdout is not None
            if (await child.stdout.readline()).strip() != b"ready":
                raise RuntimeError("the server did not start")
            samples = await measure(port, repeat, programmes, inquiries)
        finally:
            child.send_signal(signal.SIGTERM)
            await asyncio.wait_for(child.wait(), 30)
    rows = []
    every: list[float] = []
    for name, values in samples.items():
        every += values
        figures = summary(values)
        verdict = "met" if figures["p95_ms"] <= TARGET_P95_MS else "MISSED"
        rows.append([backend, name, figures["p50_ms"], figures["p95_ms"], TARGET_P95_MS, verdict])
    overall = summary(every)
    verdict = "met" if overall["p95_ms"] <= TARGET_P95_MS else "MISSED"
    rows.append([backend, "ALL REQUESTS", overall["p50_ms"], overall["p95_ms"], TARGET_P95_MS,
                 verdict])  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--programs", type=int, default=10_000)
    parser.add_argument("--inquiries", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--serve", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve[0], int(args.serve[1])))
        return
    backends = [b for b in args.backends.split(",") if b in ("sqlite", "postgresql")]
    rows: list[list[Any]] = []
    for backend in backends:
        rows += asyncio.run(run(backend, args.programs, args.inquiries, args.repeat))
    header = ["db", "request", "p50 ms", "p95 ms", "target p95", ""]
    print_table(
        f"Mini App API: {args.programs} programmes, {args.inquiries} inquiries", header, rows
    )
    write_json(
        "miniapp_api",
        {"programs": args.programs, "inquiries": args.inquiries, "repeat": args.repeat,
         "rows": [dict(zip(header, row, strict=True)) for row in rows]},
    )  # fmt: skip


if __name__ == "__main__":
    main()
