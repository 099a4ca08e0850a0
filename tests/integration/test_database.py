"""SqlDatabase on SQLite and PostgreSQL: migrations, idempotent batches, one-query chains."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.turns import make_chain, make_turn
from tether.state.ports import Entry
from tether.state.sql.database import SqlDatabase
from tether.state.sql.engine import async_url, create_engine
from tether.state.sql.migrate import VERSION_TABLE, migrate
from tether.state.sql.table import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tether.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


async def test_migrations_are_idempotent_and_match_the_schema(engine: AsyncEngine) -> None:
    await migrate(engine)  # a second instance starting

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_inserting_the_same_batch_twice_keeps_one_row_each(engine: AsyncEngine) -> None:
    database = SqlDatabase(engine)
    batch = [Entry.of(turn) for turn in make_chain(3)]
    await database.insert(batch)
    await database.insert([*batch, Entry.of(make_turn())])
    assert await database.chain(batch[-1].id, 100) == batch
    assert await database.delete([entry.id for entry in batch]) == 3


async def test_a_chain_comes_back_oldest_first_in_one_query(engine: AsyncEngine) -> None:
    database = SqlDatabase(engine)
    chain = [Entry.of(turn) for turn in make_chain(50)]
    await database.insert(chain)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        assert await database.chain(chain[-1].id, 10_000) == chain
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert "RECURSIVE" in statements[0].upper()
    assert await database.chain(chain[-1].id, 5) == chain[-5:]
    assert await database.chain(Entry.of(make_turn()).id, 10) == []
    assert await database.ping()


def test_plain_urls_get_async_drivers() -> None:
    assert async_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("sqlite:///./tether.db") == "sqlite+aiosqlite:///./tether.db"
    assert async_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"
