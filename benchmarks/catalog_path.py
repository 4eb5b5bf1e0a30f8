"""The catalog path (button -> database -> edited message) against a bare PTB echo bot.

Both bots run as their own process (`partnerbot run` and benchmarks/echo_bot.py), one
after the other, long-polling the same fake Bot API in this process, which enforces no
rate limits here: the figure is how fast the bot works, not Telegram's 30/s.

- Catalog: `--programs` open programmes of one kind (tests.seed.seed_catalog); `--users`
  people each open that kind's list, then press "Next ▶️" / "◀️ Previous" in turn,
  closed loop: the next press when the previous edit arrived.
- Echo: as many people, each sending a text and waiting for the echo, closed loop.
- Then one person alone in the same loop for `--single-seconds`, on each bot: the round
  trip of one press against one echo (issue 15's first row).

Updates per second = answers (edits / echoes) reaching the fake in the measured window /
its length, after a warm-up. Latency = the update queued at the fake -> the bot's
editMessageText (or sendMessage) handled by the fake. Many distinct users, so one user's
ordering (bot/updates.py) does not serialise the load.

Two settings are lifted for partnerbot, and why: SEND_RATE=1000 (the maximum; with the
default 25 its own limiter, there for Telegram's overall limit, would cap the figure at
25 edits/s) and FLOOD_BURST/FLOOD_RATE=1000 (a closed-loop robot presses faster than
the 3/s per person that bot/flood.py lets through).

--profile DIR samples the catalog bot with py-spy (the `bench` extra) during the measured
window into DIR/catalog-<db>.raw (collapsed stacks; benchmarks/profile_top.py makes them
text). py-spy slows the bot a little: figures of a profiled run are not the targets'.

Run: .venv/bin/python -m benchmarks.catalog_path [--backends sqlite,postgresql]
     [--programs 10000] [--users 50] [--seconds 20] [--warmup 5] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, database, percentile, print_table, write_json
from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from tests.fakebot import FakeTelegram, FakeUser, SentMessage
from tests.seed import seed_catalog

TOKEN = "123456:BENCH-catalog-path-token"
TARGET_RATIO = 0.8
KIND_BUTTON = "Joint research & labs ("
ECHO_USER_BASE = 600_000
CATALOG_USER_BASE = 610_000
ANSWER_TIMEOUT = 15.0
HTTP_CLIENT: str | None = None  # --http-client


class TimedFake(FakeTelegram):
    """The fake Bot API, telling the user waiting in a chat the moment a bot message (new
    or edited) is stored there: a future per chat instead of every user re-checking the
    fake's state on each call (which would cost the driver CPU the bots need)."""

    def __init__(self, token: str) -> None:
        super().__init__(token)  # no rate limits
        self.waiters: dict[int, asyncio.Future[tuple[float, bool]]] = {}

    def _publish(self, msg: SentMessage) -> Any:
        payload = super()._publish(msg)
        future = self.waiters.pop(msg.chat_id, None)
        if future is not None and not future.done():
            future.set_result((time.perf_counter(), msg.edits > 0))
        return payload


Act = Callable[[FakeUser, int], Awaitable[Any]]  # the n-th press / text of a user


@dataclass
class Load:
    samples: list[tuple[float, float]] = field(default_factory=list)  # (queued, answered)
    timeouts: int = 0
    wrong: int = 0  # a new message where an edit was expected, or the other way round


async def closed_loop(
    tg: TimedFake, user: FakeUser, act: Act, edit: bool,
    stop: asyncio.Event, load: Load,
) -> None:  # fmt: skip
    loop = asyncio.get_running_loop()
    n = 0
    while not stop.is_set():
        future: asyncio.Future[tuple[float, bool]] = loop.create_future()
        tg.waiters[user.id] = future
        queued = time.perf_counter()
        await act(user, n)
        n += 1
        try:
            answered, edited = await asyncio.wait_for(future, ANSWER_TIMEOUT)
        except TimeoutError:
            load.timeouts += 1
            tg.waiters.pop(user.id, None)
            continue
        load.samples.append((queued, answered))
        if edited != edit:
            load.wrong += 1


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc/PID/stat)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return float("nan")


def vm_hwm_mb(pid: int) -> float | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


@contextlib.asynccontextmanager
async def bot_process(argv: list[str], env: dict[str, str], tg: TimedFake) -> Any:
    """Spawn a bot, wait until it long-polls the fake, stop it with SIGTERM afterwards."""
    polls_before = len(tg.calls_to("getUpdates"))
    with (
        tempfile.TemporaryDirectory(prefix="pb-bench-cwd-") as cwd,  # no stray .env
        # A file, not a pipe: a full pipe nobody reads would block the bot.
        open(Path(cwd) / "stderr.log", "w+b") as err,  # noqa: ASYNC230 (tiny, local)
    ):
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=err
        )
        try:
            await tg.wait_for(
                lambda: len(tg.calls_to("getUpdates")) > polls_before or proc.returncode,
                60,
                f"{argv[-1]} to poll",
            )
            if proc.returncode is not None:
                raise RuntimeError(f"{' '.join(argv[-2:])} exited with {proc.returncode}")
            yield proc
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-3:]
            if proc.returncode not in (0, -signal.SIGTERM) and tail:
                print(f"  {argv[-1]} stderr: " + " | ".join(tail))


async def py_spy(pid: int, seconds: float, out: Path) -> asyncio.subprocess.Process:
    """py-spy sampling the process for `seconds`, into a raw (collapsed stacks) file."""
    py_spy = Path(sys.executable).with_name("py-spy")
    return await asyncio.create_subprocess_exec(
        str(py_spy), "record", "--pid", str(pid), "--duration", str(int(seconds)),
        "--format", "raw", "--rate", "100", "--nonblocking", "--output", str(out),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def measure(
    pid: int, tg: TimedFake, users: list[FakeUser], act: Act, edit: bool, warmup: float,
    seconds: float, profile: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    load = Load()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(closed_loop(tg, u, act, edit, stop, load)) for u in users]
    await asyncio.sleep(warmup)
    spy = await py_spy(pid, seconds, profile) if profile is not None else None
    start, bot_cpu, own_cpu = time.perf_counter(), cpu_seconds(pid), time.process_time()
    await asyncio.sleep(seconds)
    end = time.perf_counter()
    bot_cpu, own_cpu = cpu_seconds(pid) - bot_cpu, time.process_time() - own_cpu
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), ANSWER_TIMEOUT + 5)
    if spy is not None:
        await asyncio.wait_for(spy.wait(), 60)
    answered = [a for _, a in load.samples if start <= a < end]
    latency = [(a - q) * 1000 for q, a in load.samples if start <= q < end]
    return {
        "updates_per_s": round(len(answered) / (end - start), 1),
        "answers": len(answered),
        "p50_ms": round(statistics.median(latency), 2) if latency else None,
        "p95_ms": round(percentile(latency, 95), 2) if latency else None,
        "p99_ms": round(percentile(latency, 99), 2) if latency else None,
        # CPU per answer: less disturbed than the rate by others sharing the machine.
        "bot_cpu_ms_per_update": round(bot_cpu * 1000 / len(answered), 2) if answered else None,
        "bot_cpu_share": round(bot_cpu / (end - start), 2),
        "driver_cpu_share": round(own_cpu / (end - start), 2),
        "timeouts": load.timeouts,
        "wrong_kind": load.wrong,
    }


async def open_list(user: FakeUser) -> None:
    await user.send_and_wait("/catalog", timeout=30)
    await user.press("By kind of cooperation")
    await user.expect_message(timeout=30)
    await user.press(KIND_BUTTON)
    page = await user.expect_message(timeout=30)
    if "Page 1 of" not in page.text:
        raise RuntimeError(f"not a catalog list: {page.text[:200]!r}")


async def press_next_or_previous(user: FakeUser, n: int) -> None:
    await user.press("Next ▶️" if n % 2 == 0 else "◀️ Previous")


async def send_text(user: FakeUser, n: int) -> None:
    await user.send(f"ping {n}")


async def run(
    backend: str, programs: int, users: int, warmup: float, seconds: float,
    profile: Path | None = None, single: float = 10.0,
) -> dict[str, Any]:  # fmt: skip
    async with database(backend) as url:
        engine = create_engine(url)
        await upgrade(engine)
        seeding = time.time()
        await seed_catalog(create_session_factory(engine), count=programs)
        seed_s = time.time() - seeding
        await engine.dispose()

        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_"))}
        env.update(BOT_TOKEN=TOKEN, DATABASE_URL=url, LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
        env.update(SEND_RATE="1000", FLOOD_BURST="1000", FLOOD_RATE="1000")
        if HTTP_CLIENT:
            env.update(HTTP_CLIENT=HTTP_CLIENT)
        tg = TimedFake(TOKEN)
        async with tg:
            env.update(TELEGRAM_API_URL=tg.base_url, TELEGRAM_FILE_URL=tg.file_url)
            echo_argv = [sys.executable, str(ROOT / "benchmarks" / "echo_bot.py")]
            async with bot_process(echo_argv, env, tg) as proc:
                people = [
                    tg.user(ECHO_USER_BASE + n, first_name=f"Echo{n}", language_code="en")
                    for n in range(users)
                ]
                echo = await measure(proc.pid, tg, people, send_text, False, warmup, seconds)
                echo["peak_rss_mb"] = vm_hwm_mb(proc.pid)
                echo_single = await measure(proc.pid, tg, people[:1], send_text, False, 1.0, single)
            async with bot_process([sys.executable, "-m", "bot.cli", "run"], env, tg) as proc:
                people = [
                    tg.user(CATALOG_USER_BASE + n, first_name=f"Pager{n}", language_code="en")
                    for n in range(users)
                ]
                await asyncio.gather(*(open_list(u) for u in people))
                spy_out = profile / f"catalog-{backend}.raw" if profile else None
                ours = await measure(
                    proc.pid, tg, people, press_next_or_previous, True, warmup, seconds, spy_out
                )
                ours["peak_rss_mb"] = vm_hwm_mb(proc.pid)
                ours_single = await measure(
                    proc.pid, tg, people[:1], press_next_or_previous, True, 1.0, single
                )
            errors = tg.stats.get("http_400", 0) + tg.stats.get("http_500", 0)
    ratio = ours["updates_per_s"] / echo["updates_per_s"] if echo["updates_per_s"] else 0.0
    # One person pressing in a loop: the round trip of a press against a text's echo.
    one, base = ours_single.get("p50_ms"), echo_single.get("p50_ms")
    single_ratio = round(one / base, 2) if one and base else None
    cpu, cpu_base = ours.get("bot_cpu_ms_per_update"), echo.get("bot_cpu_ms_per_update")
    cpu_ratio = round(cpu / cpu_base, 2) if cpu and cpu_base else None
    clean = not (ours["timeouts"] or ours["wrong_kind"] or echo["timeouts"] or echo["wrong_kind"])
    return {
        "db": backend,
        "programs": programs,
        "users": users,
        "warmup_s": warmup,
        "seconds": seconds,
        "seed_s": round(seed_s, 1),
        "echo": echo,
        "catalog": ours,
        "ratio": round(ratio, 2),
        "single_user": {"catalog": ours_single, "echo": echo_single, "p50_ratio": single_ratio},
        "cpu_ratio": cpu_ratio,
        "target_ratio": TARGET_RATIO,
        "fake_api_errors": errors,
        "verdict": "met" if ratio >= TARGET_RATIO and clean else "MISSED",
    }


def fmt(value: Any) -> str:
    return "-" if value is None else str(value)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--programs", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument(
        "--http-client",
        choices=("httpx", "aiohttp"),
        default=None,
        help="partnerbot's HTTP_CLIENT (default: the setting's default)",
    )
    parser.add_argument("--single-seconds", type=float, default=10.0,
                        help="then one person alone in a loop, for this long")  # fmt: skip
    parser.add_argument("--profile", type=Path, help="py-spy the catalog bot into this folder")
    args = parser.parse_args()
    global HTTP_CLIENT
    HTTP_CLIENT = args.http_client
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    for backend in args.backends.split(","):
        try:
            results.append(
                await run(
                    backend,
                    args.programs,
                    args.users,
                    args.warmup,
                    args.seconds,
                    args.profile,
                    args.single_seconds,
                )
            )
        except Exception as exc:
            traceback.print_exc()
            errors.append(f"{backend}: {type(exc).__name__}: {exc}")
    header = ["db", "bot", "updates/s", "p50 ms", "p95 ms", "p99 ms", "peak RSS MB",
              "ratio", "target", ""]  # fmt: skip
    rows: list[list[Any]] = []
    for r in results:
        for name, key in (("echo bot (bare PTB)", "echo"), ("catalog path", "catalog")):
            f = r[key]
            mine = key == "catalog"
            rows.append([
                r["db"], name, f["updates_per_s"], fmt(f["p50_ms"]), fmt(f["p95_ms"]),
                fmt(f["p99_ms"]), fmt(f["peak_rss_mb"] and round(f["peak_rss_mb"], 1)),
                r["ratio"] if mine else "1", f">= {TARGET_RATIO}" if mine else "",
                r["verdict"] if mine else "baseline",
            ])  # fmt: skip
    print_table(
        f"Catalog path vs echo bot: {args.users} users closed loop, {args.programs} programmes,"
        f" {args.seconds:g} s after {args.warmup:g} s warm-up, fake Bot API without limits",
        header,
        rows,
    )
    for r in results:
        one = r["single_user"]
        print(
            f"  {r['db']}: one person alone, round trip p50 {fmt(one['catalog']['p50_ms'])} ms"
            f" against the echo's {fmt(one['echo']['p50_ms'])} ms ({fmt(one['p50_ratio'])}×,"
            f" target <= 1.25×); bot CPU per update {fmt(r['catalog']['bot_cpu_ms_per_update'])}"
            f" ms against {fmt(r['echo']['bot_cpu_ms_per_update'])} ms ({fmt(r['cpu_ratio'])}×,"
            " target <= 2×)"
        )
        for key in ("echo", "catalog"):
            if r[key]["timeouts"] or r[key]["wrong_kind"]:
                print(
                    f"  {r['db']} {key}: {r[key]['timeouts']} unanswered within "
                    f"{ANSWER_TIMEOUT:g} s, {r[key]['wrong_kind']} of the wrong kind"
                )
        if r["fake_api_errors"]:
            print(f"  {r['db']}: the fake answered {r['fake_api_errors']} calls with an error")
    for error in errors:
        print(f"ERROR {error}")
    if args.profile:  # a profiled run's figures are not the benchmark's: its JSON is kept
        return
    path = write_json("catalog_path", {"args": vars(args), "results": results, "errors": errors})
    print(f"\nwritten {path.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
