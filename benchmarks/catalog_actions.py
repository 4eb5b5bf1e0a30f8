"""Catalog browse and search with 10,000 programmes: p50/p95 per action, in process.

Each action is what one button press costs inside the bot: the service call(s) in one
unit of work plus rendering the screen. Run: .venv/bin/python -m benchmarks.catalog_actions
"""

from __future__ import annotations

import argparse
import asyncio
import random
from functools import partial
from typing import Any

from benchmarks.common import database, print_table, summary, timed, write_json
from bot.catalog import service as catalog
from bot.catalog import views as catalog_views
from bot.catalog.search import SearchCache, search_text_for
from bot.catalog.service import ListRef
from bot.people.person import Person
from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import Department, Program, ProgramKind, ProgramStatus, Role, User, utcnow

TARGET_P95_MS = 20.0
WORDS_EN = ["laboratory", "robotics", "materials", "logistics", "software", "energy", "design"]
WORDS_ZH = ["智能制造", "新材料", "物流", "软件", "新能源", "设计", "检测"]


async def seed(sessions: Any, total: int) -> None:
    rng = random.Random(7)
    kinds = list(ProgramKind)
    async with sessions() as session, session.begin():
        session.add(User(id=1, first_name="Bench", language="en", role=Role.ENTERPRISE))
        departments = [
            Department(code=f"D{n:02d}", name_zh=f"第{n}学院", name_en=f"School {n}")
            for n in range(12)
        ]
        session.add_all(departments)
        await session.flush()
        batch: list[Program] = []
        for n in range(total):
            i = rng.randrange(len(WORDS_EN))
            dept = departments[n % len(departments)]
            program = Program(
                code=f"P{n:06d}",
                kind=ProgramKind.JOINT_RESEARCH if n < total // 2 else kinds[n % len(kinds)],
                department_id=dept.id,
                status=ProgramStatus.OPEN,
                title_zh=f"{WORDS_ZH[i]}合作项目{n}",
                title_en=f"{WORDS_EN[i].title()} cooperation {n}",
                summary_zh="与开发区企业共同开展应用研究与成果转化。" * 3,
                summary_en="Applied research and results transfer with zone enterprises. " * 3,
                tags=f"{WORDS_EN[i]}, {WORDS_ZH[i]}",
            )
            program.search_text = search_text_for(program, dept)
            batch.append(program)
        session.add_all(batch)


async def run(backend: str, total: int, repeat: int) -> list[list[Any]]:
    async with database(backend) as url:
        engine = create_engine(url)
        await upgrade(engine)
        sessions = create_session_factory(engine)
        await seed(sessions, total)
        person = Person(1, "Bench", "en", Role.ENTERPRISE)
        cache = SearchCache()
        kind_ref = ListRef(f"k-{ProgramKind.JOINT_RESEARCH.value}")
        async with sessions() as session:
            first_page = await catalog.page(session, kind_ref, person, cache)
            assert first_page is not None
            # Walk to the deepest page once to get a real anchor for "page 500".
            deep = first_page
            while deep.next is not None and deep.number < 500:
                nxt = await catalog.page(session, deep.next, person, cache)
                assert nxt is not None
                deep = nxt
        deep_ref = deep.here
        some_id = first_page.items[3].id

        async def unit(work: Any) -> None:
            async with sessions() as session, session.begin():
                await work(session)

        async def kinds(session: Any) -> None:
            catalog_views.kinds("en", await catalog.kinds(session))

        async def departments(session: Any) -> None:
            catalog_views.departments("en", await catalog.departments(session), 1)

        def page_of(ref: ListRef) -> Any:
            async def work(session: Any) -> None:
                page = await catalog.page(session, ref, person, cache)
                assert page is not None
                catalog_views.program_list("en", page)

            return work

        async def card(session: Any) -> None:
            found = await catalog.card(session, some_id, person)
            catalog_views.card(person, found, kind_ref, "bench_bot")

        def search(words: str) -> Any:
            async def work(session: Any) -> None:
                ref = await catalog.search(session, person, words)
                assert ref is not None
                page = await catalog.page(session, ref, person, cache)
                assert page is not None
                catalog_views.program_list("en", page)

            return work

        async def search_after_change(session: Any) -> None:
            # Worst case: a programme changed since the last search, so this process
            # reloads its copy of the search texts before searching.
            program = await session.get(Program, some_id)
            program.updated_at = utcnow()
            await session.flush()
            await search("robotics")(session)

        actions = {
            "kinds menu": kinds,
            "departments menu": departments,
            "list page 1": page_of(kind_ref),
            f"list page {deep.number}": page_of(deep_ref),
            "programme card": card,
            "search 'robotics'": search("robotics"),
            "search '智能' (substring)": search("智能"),
            "search, no result": search("quantumgravity"),
            "search after a change (reload)": search_after_change,
        }
        rows = []
        for name, work in actions.items():
            figures = summary(await timed(partial(unit, work), repeat))
            verdict = "met" if figures["p95_ms"] <= TARGET_P95_MS else "MISSED"
            rows.append(
                [backend, name, figures["p50_ms"], figures["p95_ms"], TARGET_P95_MS, verdict]
            )
        await engine.dispose()
        return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--programs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    rows: list[list[Any]] = []
    for backend in args.backends.split(","):
        rows += await run(backend, args.programs, args.repeat)
    header = ["db", "action", "p50 ms", "p95 ms", "target p95 ms", ""]
    print_table(f"Catalog actions with {args.programs} programmes", header, rows)
    write_json("catalog_actions", {"programs": args.programs, "rows": rows, "header": header})


if __name__ == "__main__":
    asyncio.run(main())
