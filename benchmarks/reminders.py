"""Reminder lateness with many pending reminders, and start-up with 100,000 pending.

1. Lateness: the real Application in process (tests.harness.BotRunner) against the fake
   Bot API, default SAFETY_TICK_SECONDS (30) and SEND_RATE (25). The database holds
   `--pending` reminders days ahead (the load) plus `--measured` reminders falling due at
   known times over `--spread` seconds, each for its own owner, slower than SEND_RATE.
   Lateness = when the fake server received that owner's sendMessage - the due time.
2. Start-up: `--startup-pending` reminders in the database (all in the future), then the
   real `partnerbot run` process is spawned with a /start already waiting; the figure is
   spawn -> the reply reaching the fake server, and the child's peak RSS (VmHWM). A bare
   python-telegram-bot echo bot (benchmarks/echo_bot.py) is measured the same way.

Run: .venv/bin/python -m benchmarks.reminders [--backends sqlite,postgresql]
     [--pending 10000] [--startup-pending 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import resource
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.common import ROOT, database, percentile, print_table, write_json
from bot.settings import load_settings
from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import (
    EngineMark,
    Inquiry,
    InquiryKind,
    InquiryStatus,
    NextStep,
    Reminder,
    ReminderState,
    Role,
    StepStatus,
    User,
)
from tests.fakebot import FakeTelegram
from tests.harness import BotRunner

TOKEN = "123456:BENCH-reminders-token"
TARGET_P99_S = 1.0
TARGET_STARTUP_S = 2.0
TARGET_RSS_MB = 150.0
CHUNK = 5_000
STAFF_ID = 900_001  # created_by of every step, and the inquiry's assignee
LOAD_OWNER_BASE = 800_000  # owners of the load (never sent to)
LOAD_OWNERS = 1_000
MEASURED_OWNER_BASE = 700_000  # one owner per measured reminder
STARTUP_USER = 650_001  # the person who sends /start to the freshly started process
LEAD_SECONDS = 8.0  # from seeding the measured set to its first due time


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# Seeding -----------------------------------------------------------------------------------


async def _insert_chunks(
    sessions: async_sessionmaker[AsyncSession], model: Any, rows: Sequence[dict[str, Any]]
) -> None:
    for start in range(0, len(rows), CHUNK):
        async with sessions() as session, session.begin():
            await session.execute(insert(model), list(rows[start : start + CHUNK]))


async def seed_base(sessions: async_sessionmaker[AsyncSession], owner_ids: Sequence[int]) -> int:
    """Users (staff + owners, language en) and one inquiry everyone's steps hang on."""
    now = datetime.now(UTC)
    users = [
        {"id": STAFF_ID, "first_name": "Staff", "language": "en", "role": Role.TEACHER},
        *(
            {"id": uid, "first_name": f"Owner {uid}", "language": "en", "role": Role.TEACHER}
            for uid in owner_ids
        ),
    ]
    await _insert_chunks(sessions, User, users)
    async with sessions() as session, session.begin():
        inquiry = Inquiry(
            user_id=STAFF_ID, kind=InquiryKind.QUESTION, message="Benchmark",
            organization="Bench Co", status=InquiryStatus.CONTACTED,
            assignee_id=STAFF_ID, first_response_at=now,
        )  # fmt: skip
        session.add(inquiry)
        await session.flush()
        return inquiry.id


async def seed_steps(
    sessions: async_sessionmaker[AsyncSession],
    inquiry_id: int,
    first_id: int,
    steps: Sequence[tuple[int, datetime, str]],
    reminders: Sequence[tuple[int, str, datetime]],
) -> None:
    """steps: (owner, due_at, title), ids from first_id on; reminders: (step index, kind,
    due_at). Bulk Core inserts in chunks."""
    step_rows = [
        {
            "id": first_id + n, "inquiry_id": inquiry_id, "title": title, "owner_id": owner,
            "due_at": due, "status": StepStatus.OPEN, "created_by": STAFF_ID,
        }
        for n, (owner, due, title) in enumerate(steps)
    ]  # fmt: skip
    reminder_rows = [
        {"step_id": first_id + n, "kind": kind, "due_at": due, "state": ReminderState.PENDING}
        for n, kind, due in reminders
    ]
    await _insert_chunks(sessions, NextStep, step_rows)
    await _insert_chunks(sessions, Reminder, reminder_rows)
    async with sessions() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            # Explicit ids do not move the sequence; the bot inserts steps/reminders too.
            await session.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('next_steps', 'id'), "
                    "(SELECT max(id) FROM next_steps))"
                )
            )


async def seed_load(
    sessions: async_sessionmaker[AsyncSession], inquiry_id: int, pending: int, first_id: int
) -> int:
    """`pending` reminders days ahead: steps due 2..62 days out, each with its
    one-day-before and at-due reminders (as `plan()` makes them). Returns the next free id."""
    now = datetime.now(UTC)
    count = (pending + 1) // 2
    steps, reminders = [], []
    for n in range(count):
        due = now + timedelta(days=2, seconds=(n * 5_184_000) // max(1, count))
        steps.append((LOAD_OWNER_BASE + n % LOAD_OWNERS, due, f"Load step {n}"))
        reminders.append((n, "before:86400", due - timedelta(days=1)))
        if len(reminders) < pending:
            reminders.append((n, "due", due))
    await seed_steps(sessions, inquiry_id, first_id, steps, reminders)
    return first_id + count


async def mark_digests_done(sessions: async_sessionmaker[AsyncSession], tz: ZoneInfo) -> None:
    """Today's digest already went out (so its messages do not mix with the reminders)."""
    today = datetime.now(tz).date()
    async with sessions() as session, session.begin():
        for offset in (-1, 0, 1):
            day = today + timedelta(days=offset)
            session.add(EngineMark(key=f"digest:{day.isoformat()}"))


# 1. Lateness ---------------------------------------------------------------------------------


async def lateness(backend: str, pending: int, measured: int, spread: float) -> dict[str, Any]:
    async with database(backend) as url:
        engine = create_engine(url)
        await upgrade(engine)
        sessions = create_session_factory(engine)
        owners = [MEASURED_OWNER_BASE + n for n in range(measured)]
        load_owners = [LOAD_OWNER_BASE + n for n in range(min(LOAD_OWNERS, max(1, pending)))]
        inquiry_id = await seed_base(sessions, owners + load_owners)
        settings_probe = load_settings(_env_file=None, bot_token=TOKEN)
        await mark_digests_done(sessions, settings_probe.tz)
        next_id = await seed_load(sessions, inquiry_id, pending, 1)
        # The measured set: due at known times from LEAD_SECONDS on, evenly over `spread`.
        first_due = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)
        gap = spread / max(1, measured - 1)
        dues = {owner: first_due + timedelta(seconds=n * gap) for n, owner in enumerate(owners)}
        await seed_steps(
            sessions,
            inquiry_id,
            next_id,
            [(owner, dues[owner], f"Measured step {owner}") for owner in owners],
            [(n, "due", dues[owner]) for n, owner in enumerate(owners)],
        )
        await engine.dispose()

        async with FakeTelegram(TOKEN) as tg:
            for owner in owners:
                tg.user(owner, first_name=f"Owner {owner}", language_code="en")
            settings = load_settings(
                _env_file=None, bot_token=TOKEN, database_url=url,
                telegram_api_url=tg.base_url, telegram_file_url=tg.file_url,
                send_rate=25, log_level="WARNING",
            )  # fmt: skip
            runner = BotRunner(settings)
            started = time.time()
            await runner.start()
            start_s = time.time() - started
            wanted = set(owners)

            def received() -> dict[int, float]:
                seen: dict[int, float] = {}
                for call in tg.calls_to("sendMessage"):
                    with contextlib.suppress(TypeError, ValueError):
                        chat = int(call.params.get("chat_id") or 0)
                        if chat in wanted and call.status == 200 and chat not in seen:
                            seen[chat] = call.time
                return seen

            last_due = max(dues.values()).timestamp()
            timeout = max(5.0, last_due - time.time() + 10.0)
            with contextlib.suppress(AssertionError):
                await tg.wait_for(lambda: len(received()) >= len(wanted), timeout, "reminders")
            seen = received()
            rss_in_process = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            await runner.stop()
        late = [seen[o] - dues[o].timestamp() for o in owners if o in seen]
        # Also the worst per-second send count, to show the rate limit was not the cause.
        per_second = tg.sends_per_second()
    missing = measured - len(late)
    figures = {
        "p50_s": round(percentile(late, 50), 3),
        "p95_s": round(percentile(late, 95), 3),
        "p99_s": round(percentile(late, 99), 3),
        "max_s": round(max(late), 3) if late else float("nan"),
        "min_s": round(min(late), 3) if late else float("nan"),
    }
    ok = not missing and figures["p99_s"] <= TARGET_P99_S
    return {
        "db": backend,
        "pending": pending,
        "measured": measured,
        "spread_s": spread,
        "received": len(late),
        "missing": missing,
        **figures,
        "target_p99_s": TARGET_P99_S,
        "verdict": verdict(ok),
        "bot_start_s": round(start_s, 3),
        "max_sends_in_a_second": max(per_second.values()) if per_second else 0,
        "peak_rss_mb_benchmark_process": round(rss_in_process, 1),
    }


# 2. Start-up ---------------------------------------------------------------------------------


def vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def measure_process(
    name: str, argv: list[str], env: dict[str, str], tg: FakeTelegram, user_id: int
) -> dict[str, Any]:
    """Queue a /start, spawn, and time spawn -> the reply at the fake server; peak RSS."""
    user = tg.user(user_id, first_name="Starter", language_code="en")
    calls_before = len(tg.calls)

    def reply_time() -> float | None:
        for call in tg.calls[calls_before:]:
            if call.method.lower() == "sendmessage" and call.status == 200:
                with contextlib.suppress(TypeError, ValueError):
                    if int(call.params.get("chat_id") or 0) == user_id:
                        return call.time
        return None

    def first_poll() -> float | None:
        for call in tg.calls[calls_before:]:
            if call.method.lower() == "getupdates":
                return call.time
        return None

    await user.send("/start")
    with tempfile.TemporaryDirectory(prefix="pb-bench-cwd-") as cwd:  # no stray .env
        spawned = time.time()
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        error = ""
        try:
            with contextlib.suppress(AssertionError):
                await tg.wait_for(lambda: reply_time() or proc.returncode is not None, 60, name)
            # Settle: let the engines (reminder scan, digests...) do their first round.
            await asyncio.sleep(3)
            hwm = vm_hwm_mb(proc.pid)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            try:
                _, err = await asyncio.wait_for(proc.communicate(), 30)
            except TimeoutError:
                proc.kill()
                _, err = await proc.communicate()
        if proc.returncode not in (0, -signal.SIGTERM):
            last = (err or b"").decode(errors="replace").strip().splitlines()[-1:] or [""]
            error = f"exit {proc.returncode}: {last[0]}"
    replied = reply_time()
    polled = first_poll()
    if hwm is None:  # fall back to the largest child so far (an upper bound)
        hwm = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "process": name,
        "spawn_to_reply_s": round(replied - spawned, 3) if replied else None,
        "spawn_to_first_poll_s": round(polled - spawned, 3) if polled else None,
        "peak_rss_mb": round(hwm, 1),
        "error": error,
    }


async def startup(backend: str, pending: int) -> list[dict[str, Any]]:
    async with database(backend) as url:
        engine = create_engine(url)
        await upgrade(engine)
        sessions = create_session_factory(engine)
        owners = [LOAD_OWNER_BASE + n for n in range(LOAD_OWNERS)]
        inquiry_id = await seed_base(sessions, owners)
        seeding = time.time()
        await seed_load(sessions, inquiry_id, pending, 1)
        seed_s = time.time() - seeding
        await engine.dispose()

        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_"))}
        env.update(BOT_TOKEN=TOKEN, DATABASE_URL=url, LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
        results = []
        for name, argv in (
            ("partnerbot run", [sys.executable, "-m", "bot.cli", "run"]),
            ("echo bot (bare PTB)", [sys.executable, str(ROOT / "benchmarks" / "echo_bot.py")]),
        ):
            async with FakeTelegram(TOKEN) as tg:
                env.update(TELEGRAM_API_URL=tg.base_url, TELEGRAM_FILE_URL=tg.file_url)
                result = await measure_process(name, argv, env, tg, STARTUP_USER)
            result.update(db=backend, pending=pending, seed_s=round(seed_s, 1))
            results.append(result)
    ours, echo = results
    for result in results:
        took, rss = result["spawn_to_reply_s"], result["peak_rss_mb"]
        ok = took is not None and took <= TARGET_STARTUP_S and rss <= TARGET_RSS_MB
        result["verdict"] = verdict(ok) if result is ours else "baseline"
    if ours["spawn_to_reply_s"] and echo["spawn_to_reply_s"]:
        ours["vs_echo_time"] = round(ours["spawn_to_reply_s"] / echo["spawn_to_reply_s"], 2)
    if echo["peak_rss_mb"]:
        ours["vs_echo_rss"] = round(ours["peak_rss_mb"] / echo["peak_rss_mb"], 2)
    return results


# Main ----------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    mem = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "cpus": os.cpu_count(),
        "memory": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def fmt(value: Any) -> str:
    return "-" if value is None else str(value)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--measured", type=int, default=300)
    parser.add_argument("--spread", type=float, default=45.0, help="seconds")
    parser.add_argument("--startup-pending", type=int, default=100_000)
    parser.add_argument("--skip", default="", help="lateness and/or startup, comma-separated")
    args = parser.parse_args()
    # The outbox's do_api_request("sendMessage") warns once per run; not a benchmark figure.
    warnings.filterwarnings("ignore", message=".*do_api_request.*")
    if args.measured > 1 and (args.measured - 1) / args.spread > 25:
        print("note: measured reminders fall due faster than SEND_RATE (25/s)")
    skip = set(args.skip.split(","))
    late_rows: list[dict[str, Any]] = []
    start_rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for backend in args.backends.split(","):
        if "lateness" not in skip:
            try:
                late_rows.append(await lateness(backend, args.pending, args.measured, args.spread))
            except Exception as exc:
                traceback.print_exc()
                errors.append(f"{backend} lateness: {type(exc).__name__}: {exc}")
                late_rows.append({"db": backend, "verdict": "MISSED (error)", "error": str(exc)})
        if "startup" not in skip:
            try:
                start_rows += await startup(backend, args.startup_pending)
            except Exception as exc:
                traceback.print_exc()
                errors.append(f"{backend} start-up: {type(exc).__name__}: {exc}")
                start_rows.append({"db": backend, "verdict": "MISSED (error)", "error": str(exc)})

    info = machine()
    print(f"\nmachine: {info['cpus']} CPUs, {info['memory']}, Python {info['python']}")
    if late_rows:
        header = ["db", "pending", "measured", "got", "p50 s", "p95 s", "p99 s", "max s",
                  "target p99 s", "", "max sends/s"]  # fmt: skip
        rows = [
            [r["db"], fmt(r.get("pending")), fmt(r.get("measured")), fmt(r.get("received")),
             fmt(r.get("p50_s")), fmt(r.get("p95_s")), fmt(r.get("p99_s")), fmt(r.get("max_s")),
             TARGET_P99_S, r["verdict"], fmt(r.get("max_sends_in_a_second"))]
            for r in late_rows
        ]  # fmt: skip
        print_table(
            "Reminder lateness (due time -> sendMessage at the fake server), "
            "SAFETY_TICK_SECONDS=30, SEND_RATE=25",
            header,
            rows,
        )
    if start_rows:
        header = ["db", "process", "pending", "spawn->reply s", "target s", "peak RSS MB",
                  "target MB", "", "spawn->1st poll s", "error"]  # fmt: skip
        rows = [
            [r["db"], fmt(r.get("process")), fmt(r.get("pending")),
             fmt(r.get("spawn_to_reply_s")), TARGET_STARTUP_S, fmt(r.get("peak_rss_mb")),
             TARGET_RSS_MB, r["verdict"], fmt(r.get("spawn_to_first_poll_s")),
             r.get("error") or ""]
            for r in start_rows
        ]  # fmt: skip
        print_table("Start-up with pending reminders (vs a bare PTB echo bot)", header, rows)
        for r in start_rows:
            if "vs_echo_time" in r or "vs_echo_rss" in r:
                print(
                    f"  {r['db']}: partnerbot/echo  time x{fmt(r.get('vs_echo_time'))}, "
                    f"RSS x{fmt(r.get('vs_echo_rss'))}"
                )
    for error in errors:
        print(f"ERROR {error}")
    path = write_json(
        "reminders",
        {
            "machine": info,
            "args": vars(args),
            "lateness": late_rows,
            "startup": start_rows,
            "errors": errors,
        },
    )
    print(f"\nwritten {path.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
