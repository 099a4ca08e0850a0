"""SqlDatabase: the Database port on SQLAlchemy Core (PostgreSQL, SQLite)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Integer, Row, Select, bindparam, delete, literal_column, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from tether.errors import StorageUnavailable
from tether.state.ports import Entry
from tether.state.sql.migrate import VERSION_TABLE, Migrations
from tether.state.sql.table import responses


@contextmanager
def database_errors(operation: str) -> Iterator[None]:
    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        raise StorageUnavailable(f"database {operation} failed: {exc}") from exc


class SqlDatabase:
    """Writes run in one transaction each; reads in autocommit on PostgreSQL (no BEGIN and
    ROLLBACK round trips; SQLite reads start no transaction anyway and switching costs).

    With `migrations`, every call first makes sure it is migrated (the database may have
    been down at start-up); without one the caller has migrated it.
    """

    def __init__(self, engine: AsyncEngine, migrations: Migrations | None = None) -> None:
        self._engine = engine
        self._migrations = migrations
        postgres = engine.dialect.name == "postgresql"
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT") if postgres else engine
        self._insert = _insert_ignoring_duplicates(engine.dialect.name)
        self._chain = _chain_statement()

    async def insert(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        rows = [_row(entry) for entry in entries]
        await self._ready()
        with database_errors("insert"):
            async with self._engine.begin() as connection:
                await connection.execute(self._insert, rows)

    async def chain(self, response_id: str, limit: int) -> list[Entry]:
        await self._ready()
        with database_errors("chain lookup"):
            async with self._reads.connect() as connection:
                result = await connection.execute(self._chain, {"id": response_id, "limit": limit})
                rows = result.all()
        return [_entry(row) for row in rows]

    async def delete(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        statement = delete(responses).where(responses.c.id.in_(ids))
        await self._ready()
        with database_errors("delete"):
            async with self._engine.begin() as connection:
                result = await connection.execute(statement)
        return int(result.rowcount)

    async def _ready(self) -> None:
        if self._migrations is not None and not self._migrations.done:
            await self._migrations.ensure()

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    async def ping(self) -> bool:
        try:
            async with self._reads.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError):
            return False
        return True

    async def revision(self) -> str | None:
        query = text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608 - a constant
        try:
            async with self._reads.connect() as connection:
                return (await connection.execute(query)).scalar()
        except (SQLAlchemyError, OSError):
            return None


def _insert_ignoring_duplicates(dialect: str) -> Any:
    # ON CONFLICT (id) DO NOTHING makes a redelivered batch harmless.
    if dialect == "postgresql":
        return postgresql.insert(responses).on_conflict_do_nothing(index_elements=["id"])
    return sqlite.insert(responses).on_conflict_do_nothing(index_elements=["id"])


def _chain_statement() -> Select[Any]:
    """WITH RECURSIVE walking parent_id upward from :id, at most :limit rows, oldest first."""
    start = select(*responses.c, literal_column("1", Integer).label("depth"))
    chain = start.where(responses.c.id == bindparam("id")).cte("chain", recursive=True)
    up = responses.alias("up")
    step = select(*up.c, chain.c.depth + 1).join(chain, up.c.id == chain.c.parent_id)
    chain = chain.union_all(step.where(chain.c.depth < bindparam("limit", type_=Integer)))
    columns = [chain.c[name] for name in responses.c.keys()]  # noqa: SIM118 - a column collection iterates columns, not names
    return select(*columns).order_by(chain.c.depth.desc())


def _row(entry: Entry) -> dict[str, object]:
    return {
        "id": entry.id,
        "session": entry.session,
        "parent_id": entry.parent_id,
        "owner": entry.owner,
        "created_at": entry.created_at,
        "record": entry.data,
    }


def _entry(row: Row[Any]) -> Entry:
    return Entry(row.id, row.session, row.parent_id, row.owner, row.created_at, bytes(row.record))
