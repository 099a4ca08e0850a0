"""The state layer's contract suites, run as they are on the Redis Cluster.

Every test of the store, cache and writer suites in tests/integration runs here too,
with this directory's fixtures: `backend` and `redis_backend` are the Cluster (entered
through one node) with PostgreSQL, `redis_client` a plain cluster client, and
`make_cache` a RedisCache on a cluster client. New contract tests join automatically.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from redis.asyncio.cluster import RedisCluster

from tests.integration import test_cache_contract, test_store_contract, test_writer
from tether.config import CacheSettings
from tether.state.ports import Cache
from tether.state.redis.cache import RedisCache
from tether.state.redis.keys import Keys

# Tests that build their own standalone backend: nothing of the Cluster in them.
STANDALONE_ONLY = {"test_a_failing_database_keeps_entries_until_it_recovers"}

for _suite in (test_store_contract, test_cache_contract, test_writer):
    for _name in dir(_suite):
        if _name.startswith("test_") and _name not in STANDALONE_ONLY:
            globals()[_name] = getattr(_suite, _name)


@pytest.fixture
def make_cache(redis_client: RedisCluster, key_prefix: str) -> Callable[..., Cache]:
    def make(**settings: float) -> Cache:
        config = CacheSettings(**settings)  # type: ignore[arg-type]
        return RedisCache(redis_client, config, Keys(key_prefix))

    return make
