"""Copy every table of one partnerbot database into another (SQLite → PostgreSQL).

The tables come from the models' metadata in foreign-key order, so a table added later
is copied without touching this module. Both databases must be at the same migration
head (the caller checks); the target must be empty. The target is written in one
transaction: a failure leaves it as empty as it was. The source is read in one
transaction too, so a copy is a consistent snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Integer, Table, func, select, text
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.models import Base

BATCH_ROWS = 1000


class CopyError(Exception):
    """The copy was refused or failed; the message says why in one line."""


@dataclass(frozen=True)
class CopiedTable:
    name: str
    rows: int


def tables() -> list[Table]:
    """Every table of the schema, parents before children."""
    return list(Base.metadata.sorted_tables)


async def first_nonempty_table(conn: AsyncConnection) -> str | None:
    for table in tables():
        if await conn.scalar(select(1).select_from(table).limit(1)) is not None:
            return table.name
    return None


async def copy_database(
    source: AsyncEngine,
    target: AsyncEngine,
    *,
    batch: int = BATCH_ROWS,
    on_table: Callable[[CopiedTable], None] | None = None,
) -> list[CopiedTable]:
    """Copy all rows; returns the row count of each table in the order copied."""
    copied: list[CopiedTable] = []
    async with source.connect() as src, target.connect() as dst:
        # A plain (deferred) BEGIN on SQLite: a read snapshot without taking the write lock.
        await src.execution_options(sqlite_readonly=True)
        async with src.begin(), dst.begin():
            busy = await first_nonempty_table(dst)
            if busy is not None:
                raise CopyError(
                    f"the target database is not empty (table {busy} has rows); "
                    "copy only into a new, empty database"
                )
            for table in tables():
                rows = await _copy_table(src, dst, table, batch)
                copied.append(CopiedTable(table.name, rows))
                if on_table is not None:
                    on_table(copied[-1])
            if dst.dialect.name == "postgresql":
                await reset_sequences(dst)
    return copied


async def _copy_table(src: AsyncConnection, dst: AsyncConnection, table: Table, batch: int) -> int:
    count = 0
    ordered = select(table).order_by(*table.primary_key.columns)
    try:
        result = await src.stream(ordered)
        async for part in result.mappings().partitions(batch):
            await dst.execute(table.insert(), [dict(row) for row in part])
            count += len(part)
    except (DBAPIError, StatementError, LookupError, ValueError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise CopyError(f"table {table.name}, after {count} rows: {reason}") from exc
    return count


async def reset_sequences(conn: AsyncConnection) -> None:
    """Point each integer primary key's sequence past the copied ids (PostgreSQL only):
    rows inserted with explicit ids do not advance a sequence."""
    quote = conn.dialect.identifier_preparer.quote
    for table in tables():
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer):
                continue
            sequence = await conn.scalar(
                select(func.pg_get_serial_sequence(quote(table.name), column.name))
            )
            if sequence is None:  # e.g. users.id, which is the Telegram id
                continue
            name, col = quote(table.name), quote(column.name)
            # An empty table gets is_called=false, so its next id is 1.
            await conn.execute(
                text(
                    f"SELECT setval(CAST(:seq AS regclass), COALESCE(MAX({col}), 1), "  # noqa: S608
                    f"MAX({col}) IS NOT NULL) FROM {name}"
                ),
                {"seq": sequence},
            )
