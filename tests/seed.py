"""Seeding the catalog straight into the database (the import service is tested apart)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.catalog.search import search_text_for
from storage.models import Department, Program, ProgramKind, ProgramStatus, Role, User


async def seed_catalog(
    sessions: async_sessionmaker[AsyncSession],
    *,
    count: int = 20,
    kind: ProgramKind = ProgramKind.JOINT_RESEARCH,
) -> list[int]:
    """`count` open programmes of one kind in a 智能制造 department, plus a few fixed
    ones for search tests. Returns the ids of the numbered ones, ascending."""
    async with sessions() as session, session.begin():
        dept = Department(code="ME", name_zh="机电工程学院", name_en="School of Mechatronics")
        other = Department(code="EC", name_zh="经济管理学院", name_en="School of Economics")
        session.add_all([dept, other])
        await session.flush()
        programs = []
        for n in range(1, count + 1):
            programs.append(
                Program(
                    code=f"JR-{n:05d}",
                    kind=kind,
                    department_id=dept.id,
                    status=ProgramStatus.OPEN,
                    title_zh=f"联合项目{n:05d}",
                    title_en=f"Joint project {n:05d}",
                    summary_en="Working together on applied research.",
                    summary_zh="共同开展应用研究。",
                )
            )
        specials = [
            Program(
                code="LAB-AI", kind=ProgramKind.JOINT_RESEARCH, department_id=dept.id,
                status=ProgramStatus.OPEN, title_zh="智能制造联合实验室",
                title_en="Joint Laboratory for Intelligent Manufacturing",
                summary_zh="与武清开发区企业共建智能制造实验室。",
                summary_en="A lab built with enterprises of the Wuqing Development Area.",
                benefits_en="Access to equipment & <students>", benefits_zh="共享设备与学生资源",
                tags="robotics, 机器人", contact="Tel 022-0000 <ext 1>",
            ),
            Program(
                code="INC-1", kind=ProgramKind.INCUBATION, department_id=other.id,
                status=ProgramStatus.OPEN, title_zh="天开高教科创园孵化平台",
                title_en="", summary_zh="在天开高教科创园孵化师生创业企业。",
            ),
            Program(
                code="OLD-1", kind=ProgramKind.TRAINING, department_id=other.id,
                status=ProgramStatus.CLOSED, title_en="Closed training class",
                title_zh="已结束的培训班",
            ),
        ]  # fmt: skip
        programs += specials
        for p in programs:
            p.search_text = search_text_for(p, other if p.department_id == other.id else dept)
        session.add_all(programs)
        await session.flush()
        return [p.id for p in programs[:count]]


async def special_id(sessions: async_sessionmaker[AsyncSession], code: str) -> int:
    from sqlalchemy import select

    async with sessions() as session:
        value = await session.scalar(select(Program.id).where(Program.code == code))
    assert value is not None
    return value


async def add_teacher(sessions: async_sessionmaker[AsyncSession], user_id: int, name: str) -> None:
    async with sessions() as session, session.begin():
        session.add(User(id=user_id, first_name=name, language="zh", role=Role.TEACHER))
