"""Every benchmark, one command: .venv/bin/python -m benchmarks [--quick]

Runs catalog_actions, catalog_path, reminders, broadcast, fair_rush and miniapp_api, each
on SQLite and PostgreSQL and each as its own process (so peak-memory figures never mix), then prints
one summary gathered from their JSON in benchmarks/results/ and writes
benchmarks/results/summary.json with the machine it ran on.

The default sizes are the issues' (10,000 programmes; 10,000 pending reminders and
100,000 for start-up; a broadcast to 10,000 recipients at SEND_RATE 25, ~7 minutes per
database): about 25 minutes in all. --quick scales everything down for a smoke run of a
few minutes; its figures are not the targets' conditions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BACKENDS = ("sqlite", "postgresql")

# name -> (full arguments, --quick arguments)
PLAN: dict[str, tuple[list[str], list[str]]] = {
    "catalog_actions": (
        ["--programs", "10000", "--repeat", "200"],
        ["--programs", "2000", "--repeat", "50"],
    ),
    "catalog_path": (
        ["--programs", "10000", "--users", "50", "--seconds", "20", "--warmup", "5"],
        ["--programs", "2000", "--users", "20", "--seconds", "6", "--warmup", "2"],
    ),
    "reminders": (
        ["--pending", "10000", "--startup-pending", "100000"],
        ["--pending", "2000", "--measured", "60", "--spread", "10", "--startup-pending", "10000"],
    ),
    "broadcast": (
        ["--recipients", "10000"],
        ["--recipients", "500", "--baseline-seconds", "5"],
    ),
    "broadcast_memory": (["--recipients", "10000"], ["--recipients", "500"]),
    "fair_rush": (["--contacts", "750", "--rate", "25"], ["--contacts", "150", "--rate", "25"]),
    "miniapp_api": (
        ["--programs", "10000", "--inquiries", "5000", "--repeat", "60"],
        ["--programs", "2000", "--inquiries", "1000", "--repeat", "15"],
    ),
}


# The machine ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    with contextlib.suppress(OSError):
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    with contextlib.suppress(ImportError):
        import sqlalchemy
        import telegram

        info["python_telegram_bot"] = telegram.__version__
        info["sqlalchemy"] = sqlalchemy.__version__
    sys.path.insert(0, str(ROOT))
    with contextlib.suppress(Exception):
        from tests.pgserver import find_bindir

        bindir = find_bindir()
        if bindir is not None:
            out = subprocess.run(
                [str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=10
            )
            found = re.search(r"\(PostgreSQL\) (\S+)", out.stdout)
            if found:
                info["postgresql"] = found.group(1)
    return info


def machine_line(info: dict[str, Any]) -> str:
    parts = [
        f"{info.get('cpus')} CPUs ({info.get('cpu_model', '?')})",
        f"{info.get('memory_gib', '?')} GiB",
        f"Python {info.get('python')}",
        f"python-telegram-bot {info.get('python_telegram_bot', '?')}",
        f"PostgreSQL {info.get('postgresql', '?')}",
    ]
    return ", ".join(parts)


# Running -------------------------------------------------------------------------------------


def known_flags(module: str) -> set[str] | None:
    """The options a benchmark accepts (from its --help), so a renamed one is dropped with
    a note instead of failing the whole run."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{module}", "--help"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(re.findall(r"--[a-z][a-z0-9-]*", out.stdout)) if out.returncode == 0 else None


def usable(module: str, args: list[str]) -> list[str]:
    flags = known_flags(module)
    if flags is None:
        return args
    kept: list[str] = []
    for n in range(0, len(args), 2):
        if args[n] in flags:
            kept += args[n : n + 2]
        else:
            print(f"note: benchmarks.{module} has no {args[n]}; left out")
    return kept


def run_one(module: str, args: list[str]) -> dict[str, Any]:
    argv = [sys.executable, "-m", f"benchmarks.{module}", *args]
    print(f"\n=== {module}: {' '.join(argv[1:])}", flush=True)
    started = time.time()
    code = subprocess.run(argv, cwd=ROOT).returncode
    took = time.time() - started
    path = RESULTS / f"{module}.json"
    fresh = path.exists() and path.stat().st_mtime >= started
    print(f"=== {module}: exit {code}, {took / 60:.1f} min", flush=True)
    return {"module": module, "args": args, "exit": code, "minutes": round(took / 60, 1),
            "result_written": fresh}  # fmt: skip


# The summary ---------------------------------------------------------------------------------

Row = dict[str, Any]  # figure, per-backend value and verdict, target


def load(module: str) -> dict[str, Any] | None:
    try:
        data = json.loads((RESULTS / f"{module}.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f} ms"


def summarise_catalog_actions(data: dict[str, Any]) -> list[Row]:
    groups: dict[str, Callable[[str], bool]] = {
        "catalog browse p95, worst action": lambda name: not name.startswith("search"),
        "catalog search p95, worst query": lambda name: (
            name.startswith("search") and "after a change" not in name
        ),
        "catalog search right after a change, p95": lambda name: "after a change" in name,
    }
    rows: list[Row] = []
    for figure, wanted in groups.items():
        row: Row = {"figure": f"{figure} ({data.get('programs')} programmes)",
                    "target": "≤ 20 ms"}  # fmt: skip
        for backend in BACKENDS:
            found = [r for r in data.get("rows", []) if r[0] == backend and wanted(r[1])]
            if found:
                worst = max(found, key=lambda r: r[3])
                row[backend] = (f"{worst[3]:.1f} ms", worst[5] == "met")
        rows.append(row)
    return rows


def summarise_catalog_path(data: dict[str, Any]) -> list[Row]:
    speed: Row = {"figure": "catalog path updates/s (× echo bot)", "target": "≥ 0.8 × echo"}
    latency: Row = {"figure": "catalog path p50 / p95 latency", "target": "info"}
    echo: Row = {"figure": "echo bot (bare PTB) updates/s, p50 / p95", "target": "baseline"}
    cpu: Row = {"figure": "bot CPU per update: catalog / echo", "target": "info"}
    for r in data.get("results", []):
        backend, c, e = r.get("db"), r.get("catalog", {}), r.get("echo", {})
        speed[backend] = (
            f"{c.get('updates_per_s')} ({r.get('ratio')}×)",
            r.get("verdict") == "met",
        )
        latency[backend] = (f"{ms(c.get('p50_ms'))} / {ms(c.get('p95_ms'))}", None)
        echo[backend] = (
            f"{e.get('updates_per_s')}, {ms(e.get('p50_ms'))} / {ms(e.get('p95_ms'))}",
            None,
        )
        cpu[backend] = (
            f"{ms(c.get('bot_cpu_ms_per_update'))} / {ms(e.get('bot_cpu_ms_per_update'))}",
            None,
        )
    return [speed, latency, echo, cpu, *issue15_rows(data)]


def issue15_rows(data: dict[str, Any]) -> list[Row]:
    """Issue 15's targets for the catalog path, each against the echo bot of the same run."""
    single: Row = {"figure": "issue 15: one person pressing in a loop, round trip p50 "
                   "(× echo's)", "target": "≤ 1.25× echo"}  # fmt: skip
    rate: Row = {"figure": "issue 15: catalog path under load, updates/s (× echo)",
                 "target": "≥ 0.5× echo"}  # fmt: skip
    cpu: Row = {"figure": "issue 15: bot CPU per press (× echo's per message)",
                "target": "≤ 2× echo"}  # fmt: skip
    for r in data.get("results", []):
        backend, one = r.get("db"), r.get("single_user") or {}
        ratio = one.get("p50_ratio")
        if ratio is not None:
            mine, base = one["catalog"].get("p50_ms"), one["echo"].get("p50_ms")
            single[backend] = (f"{ms(mine)} / {ms(base)} ({ratio}×)", ratio <= 1.25)
        if r.get("ratio") is not None:
            rate[backend] = (f"{r['ratio']}×", r["ratio"] >= 0.5)
        if r.get("cpu_ratio") is not None:
            c, e = r.get("catalog", {}), r.get("echo", {})
            cpu[backend] = (
                f"{ms(c.get('bot_cpu_ms_per_update'))} / "
                f"{ms(e.get('bot_cpu_ms_per_update'))} ({r['cpu_ratio']}×)",
                r["cpu_ratio"] <= 2.0,
            )
    return [single, rate, cpu]


def summarise_reminders(data: dict[str, Any]) -> list[Row]:
    late: Row = {"figure": "reminder lateness p50 / p99", "target": "p99 ≤ 1 s"}
    start: Row = {"figure": "start-up to first reply (echo bot)", "target": "≤ 2 s"}
    rss: Row = {"figure": "peak RSS at start-up (echo bot)", "target": "≤ 150 MB"}
    for r in data.get("lateness", []):
        late["figure"] = f"reminder lateness p50 / p99, {r.get('pending')} pending"
        late[r["db"]] = (f"{r.get('p50_s')} / {r.get('p99_s')} s", r.get("verdict") == "met")
    by_db: dict[str, dict[str, dict[str, Any]]] = {}
    for r in data.get("startup", []):
        kind = "ours" if str(r.get("process", "")).startswith("partnerbot") else "echo"
        by_db.setdefault(r["db"], {})[kind] = r
    for backend, pair in by_db.items():
        ours, other = pair.get("ours", {}), pair.get("echo", {})
        start["figure"] = f"start-up to first reply, {ours.get('pending')} pending (echo bot)"
        took, base = ours.get("spawn_to_reply_s"), other.get("spawn_to_reply_s")
        ok = took is not None and took <= 2.0
        start[backend] = (f"{took} s ({base} s)", ok)
        peak, base_rss = ours.get("peak_rss_mb"), other.get("peak_rss_mb")
        rss[backend] = (f"{peak} MB ({base_rss} MB)", peak is not None and peak <= 150)
    return [late, start, rss]


def summarise_broadcast(data: dict[str, Any]) -> list[Row]:
    results = data.get("results", [])
    n = results[0].get("recipients") if results else "?"
    rate: Row = {"figure": f"broadcast to {n}: achieved rate / SEND_RATE", "target": "≥ 0.97"}
    many: Row = {
        "figure": "broadcast: 429s / most sends in one second",
        "target": "0 / ≤ SEND_RATE",
    }
    # The bot runs inside the benchmark here: its own figure is broadcast_memory's.
    rss: Row = {"figure": "broadcast: peak RSS of bot + fake + driver together", "target": "info"}
    press: Row = {"figure": "button press p95 during / without broadcast", "target": "≤ 2×"}
    for r in results:
        backend = r.get("db")
        fraction = r.get("all_limited_sends_fraction", r.get("delivery_fraction"))
        rate[backend] = (str(fraction), r.get("delivery_verdict") == "met")
        many[backend] = (
            f"{r.get('http_429_total')} / {r.get('max_sends_in_a_second')}",
            r.get("http_429_verdict") == "met" and r.get("max_sends_verdict") == "met",
        )
        rss[backend] = (f"{r.get('peak_rss_mb')} MB", r.get("rss_verdict") == "met")
        during, base = r.get("during_broadcast", {}), r.get("baseline", {})
        press[backend] = (
            f"{ms(during.get('p95_ms'))} / {ms(base.get('p95_ms'))} ({r.get('p95_ratio')}×)",
            r.get("latency_verdict") == "met",
        )
    return [rate, many, rss, press]


def summarise_broadcast_memory(data: dict[str, Any]) -> list[Row]:
    results = data.get("results", [])
    n = results[0].get("recipients") if results else "?"
    row: Row = {
        "figure": f"broadcast to {n}: bot process peak RSS (echo bot)",
        "target": "≤ 150 MB",
    }
    for r in results:
        row[r.get("db")] = (
            f"{r.get('bot_peak_mb')} MB ({r.get('echo_peak_mb')} MB)",
            r.get("verdict") == "met",
        )
    return [row]


def summarise_fair_rush(data: dict[str, Any]) -> list[Row]:
    results = data.get("results", [])
    n = data.get("args", {}).get("contacts", "?")
    row: Row = {"figure": f"issue 15: fair rush, {n} deep links at 25/s on 1 CPU: card "
                "p50 / p95 / p99, peak RSS", "target": "p95 ≤ 150 ms, ≤ 150 MB"}  # fmt: skip
    echo: Row = {"figure": "fair rush: echo bot on 1 CPU, p50 / p95 / p99", "target": "baseline"}
    for r in results:
        card = r.get("card", {})
        figure = f"{card.get('p50_ms')} / {card.get('p95_ms')} / {card.get('p99_ms')} ms"
        if r.get("bot") == "partnerbot, 1 CPU":
            row[r["db"]] = (f"{figure}, {round(r.get('peak_rss_mb') or 0)} MB",
                            r.get("verdict") == "met")  # fmt: skip
        elif r.get("bot") == "echo bot, 1 CPU":
            echo[r["db"]] = (figure, None)
    return [row, echo]


def summarise_miniapp_api(data: dict[str, Any]) -> list[Row]:
    """Issue 14: every request of the mix together, and its slowest kind."""
    rows = data.get("rows", [])
    size = f"{data.get('programs', '?')} programmes, {data.get('inquiries', '?')} inquiries"
    every: Row = {"figure": f"issue 14: Mini App API, {size}: p95 of every request",
                  "target": "≤ 50 ms"}  # fmt: skip
    worst: Row = {"figure": "Mini App API: the slowest kind of request, p95", "target": "≤ 50 ms"}
    for db in {r.get("db") for r in rows}:
        mine = [r for r in rows if r.get("db") == db]
        total = [r for r in mine if r.get("request") == "ALL REQUESTS"]
        if total:
            every[db] = (f"{total[0].get('p95 ms')} ms", total[0].get("") == "met")
        kinds = [r for r in mine if r.get("request") != "ALL REQUESTS"]
        if kinds:
            slow = max(kinds, key=lambda r: float(r.get("p95 ms") or 0))
            worst[db] = (f"{slow.get('request')}: {slow.get('p95 ms')} ms", slow.get("") == "met")
    return [every, worst]


SUMMARISERS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "catalog_actions": summarise_catalog_actions,
    "catalog_path": summarise_catalog_path,
    "reminders": summarise_reminders,
    "broadcast": summarise_broadcast,
    "broadcast_memory": summarise_broadcast_memory,
    "fair_rush": summarise_fair_rush,
    "miniapp_api": summarise_miniapp_api,
}


def verdict_of(row: Row, backends: list[str]) -> str:
    if row.get("target") in ("info", "baseline"):
        return str(row["target"])
    marks = {b: row[b][1] for b in backends if b in row}
    missing = [b for b in backends if b not in row]
    if missing:
        return "no figure (" + ", ".join(missing) + ")"
    missed = [b for b, ok in marks.items() if not ok]
    return "met" if not missed else "MISSED (" + ", ".join(missed) + ")"


def print_summary(rows: list[Row], backends: list[str]) -> None:
    header = ["figure", *backends, "target", "verdict"]
    table = [
        [row["figure"], *(row[b][0] if b in row else "-" for b in backends),
         row["target"], row["verdict"]]
        for row in rows
    ]  # fmt: skip
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table, strict=True)]
    print("\nSummary")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for line in table:
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--only", default="", help="comma-separated: " + ", ".join(PLAN))
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    chosen = [m for m in args.only.split(",") if m] or list(PLAN)
    unknown = [m for m in chosen if m not in PLAN]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    info = machine()
    print(f"machine: {machine_line(info)}")
    started = datetime.now(UTC)
    runs = []
    for module in chosen:
        full, quick = PLAN[module]
        extra = usable(module, quick if args.quick else full)
        runs.append(run_one(module, [*extra, "--backends", ",".join(backends)]))

    rows: list[Row] = []
    for module in PLAN:  # figures of modules not run this time come from their last JSON
        data = load(module)
        if data is None:
            continue
        fresh = any(r["module"] == module and r["result_written"] for r in runs)
        for row in SUMMARISERS[module](data):
            row["verdict"] = verdict_of(row, backends)
            if not fresh:
                row["figure"] += " [earlier run]"
            rows.append(row)
    print(f"\nmachine: {machine_line(info)}" + (" -- quick run" if args.quick else ""))
    print_summary(rows, backends)
    failed = [r["module"] for r in runs if r["exit"] != 0 or not r["result_written"]]
    for module in failed:
        print(f"ERROR benchmarks.{module} failed or wrote no result")
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {
        "machine": info,
        "quick": args.quick,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "figures": [
            {"figure": r["figure"], "target": r["target"], "verdict": r["verdict"],
             **{b: r[b][0] for b in backends if b in r}}
            for r in rows
        ],
    }  # fmt: skip
    path = RESULTS / "summary.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    print(f"\nwritten {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
