"""The bot's own peak memory while it broadcasts to 10,000 people.

benchmarks/broadcast.py runs the bot inside the benchmark process, beside the fake Bot
API (which keeps every chat and every call) and the driver, so its RSS figure is all three
together. Here `partnerbot run` is its own process: the admin composes the announcement
through the fake ("/broadcast" … "🚀 Send now", as in tests/test_broadcast_crash.py), and
the figure is the bot process's peak RSS (VmHWM) once the last recipient has it, beside a
bare python-telegram-bot echo bot's after start-up. The fake enforces no limits here and
SEND_RATE is 200, so the run takes about a minute: memory follows the rows queued and the
batches in flight, not the pace.

Run: .venv/bin/python -m benchmarks.broadcast_memory [--recipients 10000]
     [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from benchmarks.catalog_path import bot_process, vm_hwm_mb
from benchmarks.common import ROOT, database, print_table, write_json
from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import User
from tests.fakebot import FakeTelegram
from tests.test_broadcast_crash import compose_and_send

TOKEN = "123456:BENCH-broadcast-memory"
ADMIN_ID = 930_001
BASE = 2_000_000
MARKER = "Memory open day"
TARGET_MB = 150.0


async def run(backend: str, recipients: int) -> dict[str, Any]:
    async with database(backend) as url:
        engine = create_engine(url)
        await upgrade(engine)
        async with create_session_factory(engine)() as session, session.begin():
            rows = [
                {"id": BASE + n, "first_name": f"P{n}", "language": "en"} for n in range(recipients)
            ]
            for start in range(0, len(rows), 5_000):
                await session.execute(insert(User), rows[start : start + 5_000])
        await engine.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_"))}
        env.update(
            BOT_TOKEN=TOKEN, DATABASE_URL=url, LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT),
            ADMIN_IDS=str(ADMIN_ID), SEND_RATE="200", SAFETY_TICK_SECONDS="1",
        )  # fmt: skip
        tg = FakeTelegram(TOKEN)
        async with tg:
            env.update(TELEGRAM_API_URL=tg.base_url, TELEGRAM_FILE_URL=tg.file_url)
            for n in range(recipients):
                tg.user(BASE + n, first_name=f"P{n}", language_code="en")
            admin = tg.user(ADMIN_ID, first_name="Admin", language_code="en")
            echo_argv = [sys.executable, str(ROOT / "benchmarks" / "echo_bot.py")]
            async with bot_process(echo_argv, env, tg) as proc:  # type: ignore[arg-type]
                echo_mb = vm_hwm_mb(proc.pid)
            async with bot_process([sys.executable, "-m", "bot.cli", "run"], env, tg) as proc:  # type: ignore[arg-type]
                idle_mb = vm_hwm_mb(proc.pid)
                started = time.monotonic()
                await compose_and_send(admin, recipients + 1, text=f"<b>{MARKER}</b> at the park")
                await tg.wait_for(  # the final report comes once every delivery is done
                    lambda: any(": done" in m.text for m in admin.messages()), 900, "the report"
                )
                took = time.monotonic() - started
                peak_mb = vm_hwm_mb(proc.pid)

    def mb(value: float | None) -> float | None:
        return round(value, 1) if value is not None else None

    return {
        "db": backend,
        "recipients": recipients,
        "seconds": round(took, 1),
        "bot_idle_peak_mb": mb(idle_mb),
        "bot_peak_mb": mb(peak_mb),
        "echo_peak_mb": mb(echo_mb),
        "verdict": "met" if peak_mb is not None and peak_mb <= TARGET_MB else "MISSED",
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    results = [await run(b, args.recipients) for b in args.backends.split(",") if b]
    print_table(
        f"Bot process peak RSS, broadcast to {args.recipients} (bot as its own process)",
        ["db", "before sending MB", "peak MB", "echo bot MB", "took s", "target MB", ""],
        [
            [
                r["db"],
                r["bot_idle_peak_mb"],
                r["bot_peak_mb"],
                r["echo_peak_mb"],
                r["seconds"],
                f"<= {TARGET_MB:g}",
                r["verdict"],
            ]
            for r in results
        ],
    )
    path = write_json("broadcast_memory", {"results": results, "cpus": os.cpu_count()})
    print(f"\nwritten {Path(path).relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
