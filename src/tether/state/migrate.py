"""Bring the database schema to the newest Alembic revision at start-up."""

from __future__ import annotations

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


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
    config = Config()  # configured in code: no alembic.ini to ship or to find
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
