"""Helpers shared by the benchmarks: databases to run on, timing, and a table printer."""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.databases import new_pg_database  # noqa: E402
from tests.pgserver import PgCluster, find_bindir  # noqa: E402


@asynccontextmanager
async def database(backend: str) -> AsyncIterator[str]:
    """A fresh database URL: a SQLite file, or a throwaway PostgreSQL cluster."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="pb-bench-") as folder:
            yield f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
        return
    env_url = os.environ.get("PARTNERBOT_TEST_PG_URL")
    if env_url:
        yield await new_pg_database(env_url)
        return
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found")
    cluster = PgCluster(bindir)
    server = cluster.start()
    try:
        yield await new_pg_database(server)
    finally:
        cluster.stop()


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def timed(action: Callable[[], Awaitable[Any]], repeat: int) -> list[float]:
    """Milliseconds per call, after a short warm-up."""
    for _ in range(min(10, repeat)):
        await action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p95_ms": round(percentile(samples, 95), 3),
        "p99_ms": round(percentile(samples, 99), 3),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)))


def write_json(name: str, payload: dict[str, Any]) -> Path:
    folder = ROOT / "benchmarks" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    return path
