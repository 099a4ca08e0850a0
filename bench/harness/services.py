"""The shared services a run uses: a throw-away PostgreSQL database, a Redis database to clear."""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis

# tether's Redis key prefix (tether.state.redis.keys.KEY_PREFIX); the bench cannot set another.
TETHER_KEYS = "tether:v1:*"


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(_with_path(url, "/postgres"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def create_database(server_url: str) -> str:
    """A new empty database next to `server_url`'s; returns its URL."""
    name = f"tether_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    return _with_path(server_url, f"/{name}")


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def clear_tether_keys(url: str) -> int:
    """Delete tether's keys in this Redis database; refuse a database that holds other keys,
    since it is then someone else's."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=TETHER_KEYS, count=1000))
        if client.dbsize() > len(keys):
            raise RuntimeError(f"{url} holds keys that are not tether's; pass another --redis-url")
        for start in range(0, len(keys), 1000):
            client.unlink(*keys[start : start + 1000])
        return len(keys)
    finally:
        client.close()
