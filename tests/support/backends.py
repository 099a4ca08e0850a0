"""A cache and database pair for the state layer, and how to open stores on it."""

from __future__ import annotations

import secrets
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from pydantic import SecretStr
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from tether.config import CacheSettings, RedisTopology, Settings
from tether.state import ConversationStore, StoreOptions, open_store_with
from tether.state.redis.clients import RedisClient

from .services import REDIS_URL

# Tests flush explicitly unless they say otherwise.
TEST_CACHE = CacheSettings(
    ttl_seconds=60, max_responses_per_session=50, flush_interval_seconds=3600
)
# A Redis operation's timeout runs on the event loop's clock, and this process's loop
# can stall (a full garbage collection of the whole test session's heap) past the
# production 250 ms: a tripped breaker would turn these tests' turns into synchronous
# writes. Tests about a hung Redis pass the production deadline themselves.
TEST_REDIS_TIMEOUT = 1.0


def cluster_key_prefix() -> str:
    """Keys of one test's own on the session's Redis Cluster (they go when it does)."""
    return f"tether-cluster-test:{secrets.token_hex(4)}:v1:"


@dataclass(frozen=True)
class Backend:
    """One cache and database pair, and how to open stores ("gateway instances") on it."""

    cache: str  # memory | redis
    database: str  # sqlite | postgresql
    database_url: str
    key_prefix: str
    redis_url: str = REDIS_URL
    topology: RedisTopology = field(default_factory=RedisTopology)  # a Cluster, a Sentinel

    @property
    def redis(self) -> bool:
        return self.cache == "redis"

    def settings(self, **cache: float) -> Settings:
        return Settings(
            redis_url=SecretStr(self.redis_url) if self.redis else None,
            redis=self.topology,
            database_url=SecretStr(self.database_url),
            cache=TEST_CACHE.model_copy(update=cache),
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
            redis_connect_timeout_seconds=redis_timeout,  # a connect waits on the same loop
        )
        return open_store_with(self.settings(**cache), options)

    def open_database_only(self) -> AbstractAsyncContextManager[ConversationStore]:
        """An embedded instance on the same database: sees exactly what is durable."""
        settings = self.settings().model_copy(update={"redis_url": None})
        return open_store_with(settings, StoreOptions())

    def redis_client(self) -> RedisClient:
        """A plain client on this backend's Redis (a cluster client on a Cluster), for what
        a test checks or breaks behind the store's back. The caller closes it."""
        assert self.redis, f"a {self.cache} cache has no Redis"
        if self.topology.cluster:
            return RedisCluster.from_url(self.redis_url, protocol=2)
        return Redis.from_url(self.redis_url, protocol=2)
