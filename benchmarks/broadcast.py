"""A broadcast under Telegram's limits, and what it does to people clicking meanwhile.

The real Application in process (tests.harness.BotRunner, SEND_RATE 25 by default)
against the fake Bot API enforcing 30 sends/s overall and 1/s per chat. `--recipients`
people (language en) are seeded in the database, with their chats in the fake. The
announcement is created and started through the services (bot.broadcasts.create_draft +
send_now, as the "🚀 Send now" handler does, with a progress message in the admin's chat),
then the engines are woken as the handler does.

Meanwhile three people page a catalog list ("Next ▶️" / "◀️ Previous"), each pressing
every 1.5 s, half a second apart: a press every ~0.5 s overall, yet under one edit per
second in each chat. (The fake enforces 1/s per chat even on replies; one person pressing
every 0.5 s, or two every 1.0 s, draws 429s on their own edits - with the jitter some edits
land <1 s apart - and 429s from two chats within 2 s make the limiter pause everything.)
Latency = press (the update queued at the fake) -> the edited message received by the
fake. The same presses are measured first with no broadcast running (the baseline), in
the same run.

Figures: delivery rate (announcements delivered / time from send_now to the last one) and
its fraction of SEND_RATE; all rate-limited sends per second in that window (deliveries +
the pressers' edits + the progress edits share the one budget); 429s by the fake, split
into announcement sends and other sends; the most sends the fake saw in any one second;
the benchmark process's peak RSS (bot + fake server + this driver, one process); p50/p95
press latency with vs. without the broadcast.

Run: .venv/bin/python -m benchmarks.broadcast [--recipients 3000] [--backends sqlite,postgresql]
The default is 3,000 recipients (~2 minutes per backend at 25/s); the full run is
`--recipients 10000` (~7 minutes per backend).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import time
import traceback
import warnings
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.common import ROOT, database, peak_rss_mb, percentile, print_table, write_json
from bot.broadcasts import service as broadcasts
from bot.people.person import Person
from bot.settings import Settings
from storage import broadcasts as broadcast_repo
from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import BroadcastStatus, Role, User
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotRunner
from tests.seed import seed_catalog

TOKEN = "123456:BENCH-broadcast-token"
ADMIN_ID = 910_001
PRESSERS = (920_001, 920_002, 920_003)
RECIPIENT_BASE = 1_000_000
CHUNK = 5_000
MARKER = "Benchmark open day"
TARGET_RATE_FRACTION = 0.97
TARGET_RSS_MB = 150.0
TARGET_P95_FACTOR = 2.0
PRESS_EVERY = 1.5  # per presser; three pressers a third of a period apart: ~0.5 s
KIND_BUTTON = "Joint research & labs ("


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


async def seed_people(sessions: async_sessionmaker[AsyncSession], count: int) -> None:
    rows = [
        {"id": RECIPIENT_BASE + n, "first_name": f"P{n}", "language": "en"} for n in range(count)
    ]
    rows.append({"id": ADMIN_ID, "first_name": "Admin", "language": "en"})
    # The pressers do not get the announcement: their chats see only their own clicks.
    rows += [
        {"id": uid, "first_name": f"Presser{uid}", "language": "en", "opted_out": True}
        for uid in PRESSERS
    ]
    for start in range(0, len(rows), CHUNK):
        async with sessions() as session, session.begin():
            await session.execute(insert(User), rows[start : start + CHUNK])


class Presser:
    """One person paging a catalog list, timing each press at the fake server."""

    def __init__(self, tg: FakeTelegram, user: FakeUser) -> None:
        self.tg, self.user = tg, user
        self.forward = True
        self.errors = 0

    async def open_list(self) -> None:
        await self.user.send_and_wait("/catalog", timeout=10)
        await self.user.press("By kind of cooperation")
        await self.user.expect_message(timeout=10)
        await self.user.press(KIND_BUTTON)
        page = await self.user.expect_message(timeout=10)
        assert "Page 1 of" in page.text, page.text

    def _edit_time(self, after: float) -> float | None:
        for call in reversed(self.tg.calls):
            if call.time < after:
                return None
            if (
                call.method.lower().startswith("edit")
                and call.status == 200
                and str(call.params.get("chat_id")) == str(self.user.id)
            ):
                return call.time
        return None

    async def press_once(self) -> float | None:
        """Seconds from the press to its edit at the fake, or None if none came."""
        label = "Next ▶️" if self.forward else "◀️ Previous"
        self.forward = not self.forward
        pressed = time.time()
        await self.user.press(label)
        try:
            await self.user.expect_message(timeout=15)
        except AssertionError:
            self.errors += 1
            return None
        edited = self._edit_time(pressed)
        return None if edited is None else edited - pressed

    async def run(self, samples: list[float], stop: asyncio.Event, offset: float) -> None:
        await asyncio.sleep(offset)
        next_at = time.monotonic()
        while not stop.is_set():
            latency = await self.press_once()
            if latency is not None:
                samples.append(latency)
            next_at += PRESS_EVERY
            delay = next_at - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            else:
                next_at = time.monotonic()


async def press_while(pressers: list[Presser], stop: asyncio.Event) -> list[float]:
    samples: list[float] = []
    await asyncio.gather(
        *(p.run(samples, stop, n * PRESS_EVERY / len(pressers)) for n, p in enumerate(pressers))
    )
    return samples


def latency_figures(samples: list[float]) -> dict[str, float]:
    return {
        "presses": len(samples),
        "p50_ms": round(percentile(samples, 50) * 1000, 1),
        "p95_ms": round(percentile(samples, 95) * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1) if samples else float("nan"),
    }


async def run(backend: str, recipients: int, send_rate: float, baseline_s: float) -> dict[str, Any]:
    async with database(backend) as url:
        engine = create_engine(url)
        await upgrade(engine)
        sessions = create_session_factory(engine)
        seeding = time.time()
        await seed_people(sessions, recipients)
        await seed_catalog(sessions, count=20)
        seed_s = time.time() - seeding
        await engine.dispose()

        async with FakeTelegram(TOKEN, rate_limit_global=30, rate_limit_per_chat=1) as tg:
            for n in range(recipients):
                tg.user(RECIPIENT_BASE + n, first_name=f"P{n}", language_code="en")
            tg.user(ADMIN_ID, first_name="Admin", language_code="en")
            values: dict[str, Any] = {
                "bot_token": TOKEN, "database_url": url, "telegram_api_url": tg.base_url,
                "telegram_file_url": tg.file_url, "admin_ids": str(ADMIN_ID),
                "send_rate": send_rate, "log_level": "WARNING", "default_language": "en",
            }  # fmt: skip
            settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
            runner = BotRunner(settings)
            app = await runner.start()
            try:
                pressers = [
                    Presser(tg, tg.user(uid, first_name=f"Presser{uid}", language_code="en"))
                    for uid in PRESSERS
                ]
                for presser in pressers:
                    await presser.open_list()
                await asyncio.sleep(1.5)  # the per-chat windows of those edits clear

                # 1. Baseline: the same presses, nothing else going on.
                stop = asyncio.Event()
                task = asyncio.create_task(press_while(pressers, stop))
                await asyncio.sleep(baseline_s)
                stop.set()
                baseline = await task
                await asyncio.sleep(1.5)  # let the per-chat windows clear

                # 2. The broadcast, with the presses going on.
                progress = await app.bot.send_message(ADMIN_ID, "Sending soon…")
                calls_before = len(tg.calls)
                stats_before = dict(tg.stats)
                admin = Person(ADMIN_ID, "Admin", "en", Role.ADMIN)
                async with runner.sessions() as session, session.begin():
                    draft = await broadcasts.create_draft(
                        session, settings, admin,
                        {"text": f"<b>{MARKER}</b> at the science park", "audience": "all",
                         "button": {"text": "Details", "url": "https://college.example.edu/"}},
                    )  # fmt: skip
                    started_at = time.time()
                    sent = await broadcasts.send_now(
                        session, settings, admin, draft.id, app.bot.username,
                        (ADMIN_ID, progress.message_id),
                    )  # fmt: skip
                    total, broadcast_id = sent.total, sent.id
                assert app.bot_data.outbox is not None
                app.bot_data.outbox.wake()  # as the handler does (context.wake_engines)
                for job in app.bot_data.jobs:
                    job.wake()
                stop = asyncio.Event()
                task = asyncio.create_task(press_while(pressers, stop))
                deliveries: list[float] = []
                scanned = calls_before

                def delivered() -> bool:
                    nonlocal scanned
                    calls = tg.calls
                    while scanned < len(calls):
                        call = calls[scanned]
                        if (
                            call.status == 200
                            and call.method.lower() == "sendmessage"
                            and MARKER in str(call.params.get("text", ""))
                        ):
                            deliveries.append(call.time)
                        scanned += 1
                    return len(deliveries) >= total

                timeout = total / send_rate * 2 + 60
                stalled = ""
                try:
                    await tg.wait_for(delivered, timeout, "every announcement")
                except AssertionError as exc:
                    stalled = str(exc)
                finished_at = time.time()
                stop.set()
                during = await task
                with contextlib.suppress(AssertionError):
                    await tg.wait_for(
                        lambda: "done" in (tg.chat(ADMIN_ID)[0].text if tg.chat(ADMIN_ID) else ""),
                        10,
                        "the final report",
                    )
                async with runner.sessions() as session:
                    final = await broadcast_repo.get(session, broadcast_id)
                    status = final.status if final else None
                    counts = await broadcast_repo.delivery_counts(session, broadcast_id)
                rss = peak_rss_mb()
            finally:
                await runner.stop()
            window_calls = tg.calls[calls_before:]
            per_second = tg.sends_per_second()
            stats_after = dict(tg.stats)

    # Rates over the broadcast window (send_now -> the last delivery).
    last = max(deliveries) if deliveries else finished_at
    elapsed = max(1e-9, last - started_at)
    rate = len(deliveries) / elapsed
    window = [c for c in window_calls if c.status == 200 and started_at <= c.time <= last]
    limited = [c for c in window if c.method.lower() in _LIMITED]
    all_rate = len(limited) / elapsed
    first_second, last_second = int(started_at), int(last)
    busy = {s: n for s, n in per_second.items() if first_second <= s <= last_second}
    # The whole seconds strictly inside the window (the edges are partial seconds).
    inner = [n for s, n in busy.items() if first_second < s < last_second]
    too_many = [c for c in window_calls if c.status == 429]
    to_recipients = [c for c in too_many if MARKER in str(c.params.get("text", ""))]
    base, load = latency_figures(baseline), latency_figures(during)
    ratio = load["p95_ms"] / base["p95_ms"] if base["p95_ms"] else float("nan")
    max_per_second = max(busy.values()) if busy else 0
    # The achieved rate is everything the limiter let through: the announcements share
    # the one SEND_RATE budget with the pressers' edits and the progress edits.
    rate_ok = all_rate / send_rate >= TARGET_RATE_FRACTION
    return {
        "db": backend,
        "recipients": recipients,
        "total_queued": total,
        "delivered": len(deliveries),
        "seed_s": round(seed_s, 1),
        "send_rate": send_rate,
        "elapsed_s": round(elapsed, 1),
        "delivery_rate": round(rate, 2),
        "delivery_fraction": round(rate / send_rate, 3),
        "delivery_verdict": verdict(rate_ok and not stalled),
        "all_limited_sends_rate": round(all_rate, 2),
        "all_limited_sends_fraction": round(all_rate / send_rate, 3),
        "max_sends_in_a_second": max_per_second,
        "mean_sends_per_full_second": round(sum(inner) / len(inner), 2) if inner else None,
        "max_sends_verdict": verdict(max_per_second <= send_rate),
        "http_429_total": stats_after.get("429", 0) - stats_before.get("429", 0),
        "http_429_announcements": len(to_recipients),
        "http_429_other": len(too_many) - len(to_recipients),
        "http_429_other_chats": sorted({str(c.params.get("chat_id")) for c in too_many}),
        # Only the broadcast's own window counts: stats_before is taken as it starts.
        "http_429_verdict": verdict(stats_after.get("429", 0) == stats_before.get("429", 0)),
        "peak_rss_mb": round(rss, 1),
        "rss_verdict": verdict(rss <= TARGET_RSS_MB),
        "baseline": base,
        "during_broadcast": load,
        "p95_ratio": round(ratio, 2),
        "latency_verdict": verdict(ratio <= TARGET_P95_FACTOR),
        "press_timeouts": sum(p.errors for p in pressers),
        "final_status": str(status) if status else None,
        "final_status_ok": status is BroadcastStatus.DONE,
        "outbox_states": counts,
        "stalled": stalled,
    }


_LIMITED = {
    "sendmessage", "sendphoto", "senddocument", "copymessage", "forwardmessage",
    "editmessagetext", "editmessagecaption", "editmessagereplymarkup",
}  # fmt: skip


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=3_000, help="full run: 10000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--send-rate", type=float, default=25.0)
    parser.add_argument("--baseline-seconds", type=float, default=20.0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*do_api_request.*")
    print(
        f"{args.recipients} recipients at SEND_RATE {args.send_rate:g}"
        f" (~{args.recipients / args.send_rate / 60:.1f} min per backend)"
        + ("; the default is 3,000 - the full run is --recipients 10000" if args.recipients
           == 3_000 else "")
    )  # fmt: skip
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    for backend in args.backends.split(","):
        try:
            results.append(
                await run(backend, args.recipients, args.send_rate, args.baseline_seconds)
            )
        except Exception as exc:
            traceback.print_exc()
            errors.append(f"{backend}: {type(exc).__name__}: {exc}")

    def fmt(value: Any) -> str:
        return "-" if value is None else str(value)

    if results:
        header = ["db", "figure", "value", "target", ""]
        rows: list[list[Any]] = []
        for r in results:
            b, d = r["baseline"], r["during_broadcast"]
            rows += [
                [r["db"], "delivered / queued", f"{r['delivered']} / {r['total_queued']}",
                 "all", verdict(r["delivered"] == r["total_queued"] and not r["stalled"])],
                [r["db"], "achieved rate: all sends /s (fraction of SEND_RATE)",
                 f"{r['all_limited_sends_rate']} ({r['all_limited_sends_fraction']})",
                 f">= {TARGET_RATE_FRACTION}", r["delivery_verdict"]],
                [r["db"], "of which announcements /s (fraction)",
                 f"{r['delivery_rate']} ({r['delivery_fraction']})", "", "info"],
                [r["db"], "429s (announcements / other)",
                 f"{r['http_429_total']} ({r['http_429_announcements']} / "
                 f"{r['http_429_other']})", "0", r["http_429_verdict"]],
                [r["db"], "max sends in one second (mean per full second)",
                 f"{r['max_sends_in_a_second']} ({fmt(r['mean_sends_per_full_second'])})",
                 f"<= {r['send_rate']:g}", r["max_sends_verdict"]],
                # The bot alone: benchmarks.broadcast_memory (here the fake's chats count too).
                [r["db"], "peak RSS MB (bot + fake + driver)", r["peak_rss_mb"],
                 "", "info"],
                [r["db"], "press p50/p95 ms, no broadcast",
                 f"{b['p50_ms']} / {b['p95_ms']} (n={b['presses']})", "", "baseline"],
                [r["db"], "press p50/p95 ms, during broadcast",
                 f"{d['p50_ms']} / {d['p95_ms']} (n={d['presses']})",
                 f"p95 <= {TARGET_P95_FACTOR:g}x", r["latency_verdict"]],
                [r["db"], "p95 ratio (during / baseline)", r["p95_ratio"], "", ""],
                [r["db"], "final status / outbox", f"{r['final_status']} {r['outbox_states']}",
                 "done", verdict(r["final_status_ok"])],
            ]  # fmt: skip
        print_table(
            f"Broadcast to {args.recipients} recipients, fake Bot API at 30/s global and 1/s"
            f" per chat, SEND_RATE={args.send_rate:g}",
            header,
            rows,
        )
        for r in results:
            if r["stalled"]:
                print(f"  {r['db']}: STALLED: {r['stalled']}")
            if r["http_429_total"]:
                print(f"  {r['db']}: 429s in chats {', '.join(r['http_429_other_chats'])}")
            if r["press_timeouts"]:
                print(f"  {r['db']}: {r['press_timeouts']} press(es) got no edit within 15 s")
    for error in errors:
        print(f"ERROR {error}")
    path = write_json(
        "broadcast",
        {"machine": machine(), "args": vars(args), "results": results, "errors": errors},
    )
    print(f"\nwritten {path.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
