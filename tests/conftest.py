"""Services any suite may ask for. Each is reached or started only when a test asks for
it, and a missing one fails, never skips. Where they are: tests/support/services.py.

shared_redis    a client on the shared Redis (TETHER_TEST_REDIS_URL)
key_prefix      keys of the test's own on it; the session's are removed at its end
postgres_url    a fresh database on the shared PostgreSQL (TETHER_TEST_DATABASE_URL),
                one per session, dropped at its end
private_redis   a redis-server of the test's own, which it may restart, hang or flush
redis_cluster   a six-node Redis Cluster (3 primaries, 3 replicas), once per session
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from tests.cluster.servers import RedisClusterNodes
from tests.support.redis_server import RedisServer
from tests.support.services import DATABASE_URL, REDIS_URL

pytest_plugins = ["tests.support.hangs"]


@pytest.fixture(scope="session")
async def shared_redis() -> AsyncIterator[Redis]:
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
async def session_prefix(shared_redis: Redis) -> AsyncIterator[str]:
    prefix = f"tether-test:{secrets.token_hex(4)}:"
    yield prefix
    keys = [key async for key in shared_redis.scan_iter(match=f"{prefix}*", count=1000)]
    for start in range(0, len(keys), 500):
        await shared_redis.unlink(*keys[start : start + 500])


@pytest.fixture
def key_prefix(session_prefix: str) -> str:
    """Each test gets its own keys, stream and writer group on the shared Redis."""
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


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as server:
        yield server.start()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    nodes = RedisClusterNodes(tmp_path_factory.mktemp("redis-cluster"))
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.close()
