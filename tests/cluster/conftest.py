"""A six-node Redis Cluster and a Sentinel group of this test run's own, and fresh databases.

The Cluster (3 primaries, 3 replicas; `redis_cluster` in tests/conftest.py, which the
contract suites in tests/contracts run on too) starts once per session; tests keep
apart by key prefix. The Sentinel group starts per test, since a test may fail it over;
a test locks it with `@pytest.mark.parametrize("sentinel_group", [{"acl": True}],
indirect=True)` (SentinelGroup's options; "tls": True for the session's certificates).
PostgreSQL is the shared test server (TETHER_TEST_DATABASE_URL), a new database per test.
`certificates`: a throw-away CA and a certificate for 127.0.0.1, once per session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from tests.support.backends import Backend, cluster_key_prefix
from tests.support.databases import create_pg_database, drop_pg_database
from tests.support.services import DATABASE_URL
from tether.config import RedisTopology

from .certificates import Certificates, TestCA
from .servers import RedisClusterNodes, SentinelGroup


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return TestCA(tmp_path_factory.mktemp("tls")).issue("redis", "127.0.0.1")


@pytest.fixture
def sentinel_group(
    request: pytest.FixtureRequest, tmp_path: Path, certificates: Certificates
) -> Iterator[SentinelGroup]:
    options = getattr(request, "param", {})
    tls = certificates if options.get("tls") else None
    group = SentinelGroup(tmp_path, acl=options.get("acl", False), tls=tls)
    try:
        group.start()
        yield group
    finally:
        group.close()


@pytest.fixture
def pg_database() -> Iterator[str]:
    url = create_pg_database(DATABASE_URL, "tether_cluster")
    yield url
    drop_pg_database(url)


@pytest.fixture
def key_prefix() -> str:
    """Each test its own keys, stream and writer group on the shared Cluster."""
    return cluster_key_prefix()


@pytest.fixture
def backend(redis_cluster: RedisClusterNodes, pg_database: str, key_prefix: str) -> Backend:
    """The state layer on the Cluster (entered through one node) and PostgreSQL."""
    topology = RedisTopology(cluster=True)
    return Backend("redis", "postgresql", pg_database, key_prefix, redis_cluster.url, topology)


@pytest.fixture
async def redis_client(redis_cluster: RedisClusterNodes) -> AsyncIterator[RedisCluster]:
    """A plain cluster client, for what tests check or break behind the store's back."""
    client = RedisCluster.from_url(redis_cluster.url, protocol=2)
    yield client
    await client.aclose()
