"""Bring the database schema to the newest Alembic revision, once, before it is used."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from tether.errors import StorageUnavailable

VERSION_TABLE = "tether_schema_version"
_SCRIPTS = Path(__file__).with_name("migrations")
# Instances starting together on one PostgreSQL take turns (any constant will do).
_PG_LOCK = 0x7E7E_0001


async def migrate(engine: AsyncEngine) -> None:
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)
    except (SQLAlchemyError, OSError) as exc:
        raise StorageUnavailable(f"database migration failed: {exc}") from exc


class Migrations:
    """The migration of one engine, run until it has succeeded once.

    At start-up normally; when the database was down then (Redis mode starts anyway),
    by the first database call that finds it back.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._lock = asyncio.Lock()
        self.done = False

    async def ensure(self) -> None:
        """Raises StorageUnavailable while the database cannot be migrated."""
        if self.done:
            return
        async with self._lock:
            if not self.done:
                await migrate(self._engine)
                self.done = True


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
    config = Config()  # configured in code: no alembic.ini to ship or to find
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
