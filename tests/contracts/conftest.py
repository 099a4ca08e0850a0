"""The state layer's contract suites, run on every backend by parametrised fixtures.

Each backend asks only for the services it uses, so the memory + SQLite cases run with
no Redis and no PostgreSQL at all (`pytest tests/contracts -k memory-sqlite`):

backend        memory-sqlite       nothing: an in-process cache and a SQLite file
               memory-postgresql   the shared PostgreSQL (a fresh database per session)
               redis-sqlite        the shared Redis (keys of the test's own)
               redis-postgresql    both
               cluster-postgresql  the session's six-node Redis Cluster, and PostgreSQL
redis_backend  the backends with Redis behind them (the writer's suite)
backend_redis  a plain client on redis_backend's Redis (a cluster client on the Cluster)
make_cache     a Cache on its own: memory, redis (the shared one), cluster

A test joins every backend by asking for one of these; a test that builds its own
backend asks for what it needs directly (`key_prefix`, `private_redis`, ...).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from tests.cluster.servers import RedisClusterNodes
from tests.support.backends import Backend, cluster_key_prefix
from tether.config import CacheSettings, RedisTopology
from tether.state.memory import MemoryCache
from tether.state.ports import Cache
from tether.state.redis.cache import RedisCache
from tether.state.redis.clients import RedisClient
from tether.state.redis.keys import Keys

BACKENDS = [
    "memory-sqlite",
    "memory-postgresql",
    "redis-sqlite",
    "redis-postgresql",
    "cluster-postgresql",
]
REDIS_BACKENDS = [name for name in BACKENDS if not name.startswith("memory-")]
CACHES = ["memory", "redis", "cluster"]

MakeCache = Callable[..., Cache]


def open_backend(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    cache, database = name.split("-")
    if database == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'tether.db'}"
    else:
        database_url = request.getfixturevalue("postgres_url")
    if cache == "memory":
        return Backend("memory", database, database_url, key_prefix="tether:v1:")
    if cache == "redis":
        return Backend("redis", database, database_url, request.getfixturevalue("key_prefix"))
    nodes: RedisClusterNodes = request.getfixturevalue("redis_cluster")
    topology = RedisTopology(cluster=True)  # entered through one node
    return Backend("redis", database, database_url, cluster_key_prefix(), nodes.url, topology)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return open_backend(request.param, request, tmp_path)


@pytest.fixture(params=REDIS_BACKENDS)
def redis_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return open_backend(request.param, request, tmp_path)


@pytest.fixture
async def backend_redis(redis_backend: Backend) -> AsyncIterator[RedisClient]:
    client = redis_backend.redis_client()
    yield client
    await client.aclose()


@pytest.fixture
async def cluster_client(redis_cluster: RedisClusterNodes) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(redis_cluster.url, protocol=2)
    yield client
    await client.aclose()


@pytest.fixture(params=CACHES)
def make_cache(request: pytest.FixtureRequest) -> MakeCache:
    kind: str = request.param
    if kind == "memory":
        return lambda **settings: MemoryCache(CacheSettings(**settings))
    if kind == "redis":
        client: RedisClient = request.getfixturevalue("shared_redis")
        prefix: str = request.getfixturevalue("key_prefix")
    else:
        client = request.getfixturevalue("cluster_client")
        prefix = cluster_key_prefix()
    return lambda **settings: RedisCache(client, CacheSettings(**settings), Keys(prefix))
