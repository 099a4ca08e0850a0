"""The SQLAlchemy async engine for a configured database URL (PostgreSQL or SQLite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_DRIVERS = {
    "postgresql://": "postgresql+asyncpg://",
    "postgres://": "postgresql+asyncpg://",
    "sqlite://": "sqlite+aiosqlite://",
}


def async_url(url: str) -> str:
    """`postgresql://` → asyncpg, `sqlite:///path` → aiosqlite; explicit drivers stay."""
    for plain, driver in _DRIVERS.items():
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def create_engine(url: str) -> AsyncEngine:
    full = async_url(url)
    # Parameters are conversation content: keep them out of error messages and logs.
    if full.startswith("sqlite"):
        engine = create_async_engine(full, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # A small warm pool: the hot path must never pay for connection set-up. Every wait
    # is bounded (connecting, a pooled connection, a statement), so a stuck database
    # becomes an error the writer retries rather than a task that never returns.
    return create_async_engine(
        full,
        hide_parameters=True,
        pool_size=10,
        max_overflow=10,
        pool_recycle=1800,
        pool_timeout=10,
        connect_args={"timeout": 5, "command_timeout": 30},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer. synchronous=NORMAL is durable against
    # the process dying (the guarantee), not against the OS losing power.
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
