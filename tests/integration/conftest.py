"""Real Redis and PostgreSQL for the state layer; a missing service fails, never skips.

TETHER_TEST_REDIS_URL (default redis://127.0.0.1:6379/0): keys live under a random
prefix per test session, removed at the end. TETHER_TEST_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/test): a fresh database is created next to it
through the `postgres` maintenance database, and dropped at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from tether.config import CacheSettings, RedisTopology, Settings
from tether.state import ConversationStore, StoreOptions, open_store_with

from .redis_server import RedisServer

REDIS_URL = os.environ.get("TETHER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DATABASE_URL = os.environ.get(
    "TETHER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# Tests flush explicitly unless they say otherwise.
TEST_CACHE = CacheSettings(
    ttl_seconds=60, max_responses_per_session=50, flush_interval_seconds=3600
)


@pytest.fixture(scope="session")
async def redis_client() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, protocol=2)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({exc}). Start it, or point "
            "TETHER_TEST_REDIS_URL at one.",
            pytrace=False,
        )
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def session_prefix(redis_client: Redis) -> AsyncIterator[str]:
    prefix = f"tether-test:{secrets.token_hex(4)}:"
    yield prefix
    keys = [key async for key in redis_client.scan_iter(match=f"{prefix}*", count=1000)]
    for start in range(0, len(keys), 500):
        await redis_client.unlink(*keys[start : start + 500])


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A redis-server of this test's own, which it may restart or flush."""
    server = RedisServer(tmp_path)
    try:
        await server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    await server.stop()


@pytest.fixture
def key_prefix(session_prefix: str) -> str:
    """Each test gets its own keys, stream and writer group."""
    return f"{session_prefix}{secrets.token_hex(3)}:v1:"


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    url = make_url(DATABASE_URL)
    name = f"tether_test_{secrets.token_hex(4)}"
    maintenance = url.set(drivername="postgresql", database="postgres")
    try:
        admin = await asyncpg.connect(maintenance.render_as_string(hide_password=False))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {maintenance.render_as_string()} ({exc}). "
            "Start it, or point TETHER_TEST_DATABASE_URL at one.",
            pytrace=False,
        )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# A Redis operation's deadline runs on the event loop's clock, and this process's loop
# can stall (a full garbage collection of the whole test session's heap) past the
# production 250 ms: a tripped breaker would turn these tests' turns into synchronous
# writes. Tests about a hung Redis pass the production deadline themselves.
TEST_REDIS_TIMEOUT = 1.0


@dataclass(frozen=True)
class Backend:
    """One cache and database pair, and how to open stores ("gateway instances") on it."""

    cache: str  # memory | redis
    database: str  # sqlite | postgresql
    database_url: str
    key_prefix: str
    redis_url: str = REDIS_URL
    topology: RedisTopology = field(default_factory=RedisTopology)  # Cluster: tests/cluster

    @property
    def redis(self) -> bool:
        return self.cache == "redis"

    def settings(self, **cache: float) -> Settings:
        return Settings(
            redis_url=SecretStr(self.redis_url) if self.redis else None,
            redis=self.topology,
            database_url=SecretStr(self.database_url),
            cache=replace(TEST_CACHE, **cache),  # type: ignore[arg-type]
        )

    def open(
        self,
        *,
        claim_idle: float | None = None,
        redis_timeout: float = TEST_REDIS_TIMEOUT,
        **cache: float,
    ) -> AbstractAsyncContextManager[ConversationStore]:
        options = StoreOptions(
            key_prefix=self.key_prefix,
            claim_idle_seconds=claim_idle,
            drain_timeout_seconds=5,
            redis_timeout_seconds=redis_timeout,
        )
        return open_store_with(self.settings(**cache), options)

    def open_database_only(self) -> AbstractAsyncContextManager[ConversationStore]:
        """An embedded instance on the same database: sees exactly what is durable."""
        settings = replace(self.settings(), redis_url=None)
        return open_store_with(settings, StoreOptions())


PAIRS = [
    ("memory", "sqlite"),
    ("memory", "postgresql"),
    ("redis", "sqlite"),
    ("redis", "postgresql"),
]


def _database_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'tether.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def _backend(cache: str, database: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if cache == "redis":
        request.getfixturevalue("redis_client")  # fail early and clearly without Redis
    prefix: str = request.getfixturevalue("key_prefix")
    return Backend(cache, database, _database_url(database, request, tmp_path), prefix)


@pytest.fixture(params=PAIRS, ids=[f"{c}-{d}" for c, d in PAIRS])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    cache, database = request.param
    return _backend(cache, database, request, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def redis_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return _backend("redis", request.param, request, tmp_path)
