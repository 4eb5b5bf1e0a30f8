"""A fair's rush (issue 15): new contacts scan a programme's QR code at a steady rate.

`--contacts` new people (never seen by the bot) each send `/start p_<id>`, the deep link
of one programme, `--rate` a second (open loop: arrivals do not wait for answers); every
fifth then presses "✋ I'm interested" on the card. Figures: time to the card (the link
queued at the fake -> the card stored there), time to the screen after the press, and the
bot's peak RSS (VmHWM) and CPU. The echo bot takes the same messages. Each database is
run with the bot free on every CPU, then pinned to CPU 0 (`taskset -c 0`; this process,
the fake Bot API and its people, then keeps to the other CPU).

Limits lifted for this run only, and why: SEND_RATE=40 (25 cards a second plus 5
interest screens is 30 sends a second, the default 25's limiter would make the rush
queue for the bot's overall budget, which is not what is measured here; Telegram's own
ceiling is about 30). Flood limits stay as they are: each person sends two updates.

Run: .venv/bin/python -m benchmarks.fair_rush [--backends sqlite,postgresql]
     [--contacts 750] [--rate 25] [--programs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
import traceback
from typing import Any

from benchmarks.catalog_path import (
    TOKEN,
    TimedFake,
    bot_process,
    cpu_seconds,
    vm_hwm_mb,
)  # fmt: skip
from benchmarks.common import ROOT, database, percentile, print_table, write_json
from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from tests.fakebot import FakeUser
from tests.seed import seed_catalog, special_id

INTERESTED = "✋ I'm interested"
TARGET_P95_MS = 150.0
TARGET_RSS_MB = 150.0
ANSWER_TIMEOUT = 15.0
USER_BASE = 700_000


def stats(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None}
    return {"n": len(samples), **{f"p{q}_ms": round(percentile(samples, q), 1)
                                  for q in (50, 95, 99)}}  # fmt: skip


async def answered(tg: TimedFake, user: FakeUser, act: Any) -> float | None:
    """Milliseconds from the act to the bot's next message (new or edited) in the chat."""
    future: asyncio.Future[tuple[float, bool]] = asyncio.get_running_loop().create_future()
    tg.waiters[user.id] = future
    queued = time.perf_counter()
    await act()
    try:
        at, _edited = await asyncio.wait_for(future, ANSWER_TIMEOUT)
    except TimeoutError:
        tg.waiters.pop(user.id, None)
        return None
    return (at - queued) * 1000


async def rush(
    tg: TimedFake, pid: int, first: int, contacts: int, rate: float, link: str, press: bool
) -> dict[str, Any]:
    cards: list[float] = []
    screens: list[float] = []
    missed = 0

    async def one(n: int) -> None:
        nonlocal missed
        user = tg.user(first + n, first_name=f"Visitor{n}", language_code="en")
        took = await answered(tg, user, lambda: user.send(link))
        if took is None:
            missed += 1
            return
        cards.append(took)
        if press and n % 5 == 0:
            then = await answered(tg, user, lambda: user.press(INTERESTED))
            if then is None:
                missed += 1
            else:
                screens.append(then)

    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    tasks = []
    for n in range(contacts):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    took = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    return {
        "card": stats(cards),
        "after_press": stats(screens),
        "unanswered": missed,
        "seconds": round(took, 1),
        "bot_cpu_share": round(cpu / took, 2),
        "bot_cpu_ms_per_contact": round(cpu * 1000 / contacts, 2),
        "peak_rss_mb": vm_hwm_mb(pid),
    }


async def run(backend: str, contacts: int, rate: float, programs: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async with database(backend) as url:
        engine = create_engine(url)
        await upgrade(engine)
        sessions = create_session_factory(engine)
        await seed_catalog(sessions, count=programs)
        program = await special_id(sessions, "LAB-AI")
        await engine.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_"))}
        env.update(BOT_TOKEN=TOKEN, DATABASE_URL=url, LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
        env.update(SEND_RATE="40")
        link = f"/start p_{program}"
        tg = TimedFake(TOKEN)
        pinned = ["taskset", "-c", "0"] if shutil.which("taskset") else None
        plans: list[tuple[str, list[str], bool, list[str] | None]] = [
            ("echo bot (bare PTB)", [sys.executable, str(ROOT / "benchmarks" / "echo_bot.py")],
             False, None),
            ("partnerbot", [sys.executable, "-m", "bot.cli", "run"], True, None),
        ]  # fmt: skip
        if pinned:
            plans += [
                ("echo bot, 1 CPU", plans[0][1], False, pinned),
                ("partnerbot, 1 CPU", plans[1][1], True, pinned),
            ]
        async with tg:
            env.update(TELEGRAM_API_URL=tg.base_url, TELEGRAM_FILE_URL=tg.file_url)
            for n, (name, argv, press, prefix) in enumerate(plans):
                own = os.sched_getaffinity(0)
                if prefix and len(own) > 1:
                    os.sched_setaffinity(0, own - {0})  # the driver keeps off the bot's CPU
                try:
                    async with bot_process([*(prefix or []), *argv], env, tg) as proc:
                        first = USER_BASE + n * (contacts + 10)  # new people every run
                        found = await rush(tg, proc.pid, first, contacts, rate, link, press)
                finally:
                    os.sched_setaffinity(0, own)
                rows.append({"db": backend, "bot": name, **found})
    return rows


def verdict(row: dict[str, Any]) -> str:
    if "partnerbot" not in row["bot"]:
        return "baseline"
    if "1 CPU" not in row["bot"]:
        return "info"  # the target is on one CPU; free, the driver shares the bot's CPUs
    p95, rss = row["card"]["p95_ms"], row["peak_rss_mb"]
    ok = (p95 is not None and p95 <= TARGET_P95_MS and rss is not None
          and rss <= TARGET_RSS_MB and not row["unanswered"])  # fmt: skip
    return "met" if ok else "MISSED"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--contacts", type=int, default=750)
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--programs", type=int, default=200)
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    load = [round(x, 2) for x in os.getloadavg()]
    for backend in args.backends.split(","):
        try:
            results += await run(backend, args.contacts, args.rate, args.programs)
        except Exception as exc:
            traceback.print_exc()
            errors.append(f"{backend}: {type(exc).__name__}: {exc}")
    for row in results:
        row["verdict"] = verdict(row)
    header = ["db", "bot", "card p50", "p95", "p99", "after press p95", "peak RSS MB",
              "CPU share", "unanswered", "verdict"]  # fmt: skip
    table = [
        [r["db"], r["bot"], r["card"]["p50_ms"], r["card"]["p95_ms"], r["card"]["p99_ms"],
         r["after_press"]["p95_ms"] or "-", round(r["peak_rss_mb"] or 0, 1),
         r["bot_cpu_share"], r["unanswered"], r["verdict"]]
        for r in results
    ]  # fmt: skip
    print_table(
        f"Fair rush: {args.contacts} new contacts at {args.rate:g}/s open a deep link, a fifth"
        f" press {INTERESTED!r} (ms; target card p95 <= {TARGET_P95_MS:g} ms on 1 CPU,"
        f" peak RSS <= {TARGET_RSS_MB:g} MB; load average at start {load})",
        header,
        table,
    )
    for error in errors:
        print(f"ERROR {error}")
    write_json("fair_rush", {"args": vars(args), "load_average": load, "results": results,
                             "errors": errors})  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
