"""The hot path's parts that touch no network, each timed alone in this process: the
catalogue page's queries (one unit of work), the list view with its keyboard, one i18n
lookup, and the Person read the sender cache (bot/people/senders.py) saves.

Run: .venv/bin/python -m benchmarks.hot_path_parts [--programs 10000] [--repeat 500]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from benchmarks.common import database, print_table, summary, timed, write_json
from bot.catalog import service as catalog
from bot.catalog import views
from bot.catalog.search import SearchCache
from bot.people.identity import recognize_known
from bot.people.person import Person
from bot.ui.i18n import t
from storage.engine import create_engine, create_session_factory, unit_of_work
from storage.migrate import upgrade
from storage.models import Role, User, utcnow
from tests.seed import seed_catalog

READER = Person(id=900_001, first_name="Ada", language="en", role=Role.ENTERPRISE)


def sync_ms(action: Any, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def run(backend: str, programs: int, repeat: int) -> list[list[Any]]:
    async with database(backend) as url:
        engine = create_engine(url)
        await upgrade(engine)
        sessions = create_session_factory(engine)
        await seed_catalog(sessions, count=programs)
        async with unit_of_work(sessions, write=True) as session:
            now = utcnow()
            session.add(
                User(id=READER.id, first_name="Ada", language="en", role=Role.ENTERPRISE,
                     created_at=now, last_seen_at=now)
            )  # fmt: skip
        ref = catalog.ListRef("k-joint_research", "f0")
        cache = SearchCache()

        async def page() -> Any:
            async with unit_of_work(sessions, write=False) as session:
                return await catalog.page(session, ref, READER, cache)

        async def sender() -> Any:
            async with unit_of_work(sessions, write=False) as session:
                return await recognize_known(session, READER.id, admin_ids=frozenset())

        found = await page()
        parts: list[tuple[str, list[float]]] = [
            ("page: its unit of work and queries", await timed(page, repeat)),
            ("sender read (what the cache saves)", await timed(sender, repeat)),
            ("list view + keyboard (program_list)",
             sync_ms(lambda: views.program_list("zh", found), repeat)),
            ("one i18n lookup t(lang, key)", sync_ms(lambda: t("zh", "catalog.page"), repeat)),
        ]  # fmt: skip
        rows = [[backend, name, *summary(samples).values()] for name, samples in parts]
        await engine.dispose()
        return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--programs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=500)
    args = parser.parse_args()
    rows: list[list[Any]] = []
    for backend in args.backends.split(","):
        rows += await run(backend, args.programs, args.repeat)
    print_table(f"Hot path parts, in process, {args.programs} programmes, {args.repeat} runs each",
                ["db", "part", "p50 ms", "p95 ms", "p99 ms"], rows)  # fmt: skip
    write_json("hot_path_parts", {"args": vars(args), "rows": rows})


if __name__ == "__main__":
    asyncio.run(main())
