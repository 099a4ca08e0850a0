"""Throw-away PostgreSQL databases and Redis databases for one test session."""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(_with_database(url, "postgres"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def create_pg_database(url: str, prefix: str = "tether_test") -> str:
    """A new empty database on the server of `url`; returns its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin(url, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(f"PostgreSQL at {url} is needed for these tests: {exc}") from exc
    return _with_database(url, name)


def drop_pg_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fresh_redis_url(url: str, db: int) -> str:
    """The same server on database `db`, emptied first. Fails loudly when Redis is down."""
    parts = urlsplit(url)
    fresh = urlunsplit(parts._replace(path=f"/{db}"))
    try:
        client = redis.Redis.from_url(fresh)
        client.flushdb()
        client.close()
    except redis.RedisError as exc:
        raise RuntimeError(f"Redis at {url} is needed for these tests: {exc}") from exc
    return fresh
