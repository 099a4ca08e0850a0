"""`tether serve` on Redis locked as managed Redis is (an ACL user, the default user off;
TLS-only ports): chains through the official SDK, answered from Redis, then stored."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.load import Conversation
from tests.faults.rows import stored_ids
from tests.support.server import TetherServer

from .certificates import Certificates
from .servers import Access, LockedRedis, RedisClusterNodes

PASSWORD = "node-secret"
MODELS = [{"model_name": "transcript", "litellm_params": {"model": "echo/transcript"}}]


def chain_through_tether(
    router: dict[str, Any], database_url: str, tmp_path: Path, turns: int = 4
) -> list[str]:
    """A chain of `turns` on a tether with this router_settings; its response ids.

    Nothing flushes while it runs, so only Redis can answer each turn's history, and no
    request may have noticed Redis (each would count); a clean stop drains the writer.
    """
    config = {
        "model_list": MODELS,
        "router_settings": router,
        "general_settings": {"database_url": database_url},
        "session_cache": {"flush_interval_seconds": 30},
    }
    server = TetherServer(config, tmp_path).start()
    try:
        with Conversation([server.url], "locked") as conversation:
            conversation.say(turns)
        stats = httpx.get(f"{server.url}/v1/session-cache/stats").json()
        noticed = stats["cache_errors"], stats["misses"], stats["sync_writes"]
        assert noticed == (0, 0, 0), f"{stats}\n{server.log()}"
        ready = httpx.get(f"{server.url}/health/readiness").json()
        assert ready["redis"]["status"] == "ok", ready
        assert server.stop(signal.SIGTERM) == 0
    finally:
        server.stop()
    ids = conversation.chain.ids
    assert stored_ids(database_url) == set(ids)
    return ids


def session_key(response_id: str) -> str:
    return f"tether:v1:{{{response_id[5:37]}}}:h"


@pytest.fixture
def locked_redis(
    request: pytest.FixtureRequest, tmp_path: Path, certificates: Certificates
) -> Iterator[LockedRedis]:
    """One server: with param "acl" entered only as the user `tether`, with "tls" only
    over TLS."""
    acl, tls = "acl" in request.param, "tls" in request.param
    access = Access("tether" if acl else None, PASSWORD, certificates if tls else None)
    server = LockedRedis(tmp_path, access)
    try:
        yield server.start()
    finally:
        server.close()


@pytest.mark.parametrize("locked_redis", ["acl"], indirect=True)
def test_a_chain_runs_on_one_server_as_an_acl_user(
    locked_redis: LockedRedis, pg_database: str, tmp_path: Path
) -> None:
    router = {
        "redis_host": "127.0.0.1",
        "redis_port": locked_redis.port,
        "redis_username": "tether",
        "redis_password": PASSWORD,
    }
    ids = chain_through_tether(router, pg_database, tmp_path)
    with locked_redis.client(locked_redis.port) as redis:
        assert redis.exists(session_key(ids[0]))


@pytest.mark.parametrize("locked_redis", ["tls"], indirect=True)
def test_a_chain_runs_over_tls_to_a_rediss_url(
    locked_redis: LockedRedis, certificates: Certificates, pg_database: str, tmp_path: Path
) -> None:
    router = {
        "redis_url": f"rediss://:{PASSWORD}@127.0.0.1:{locked_redis.port}/0",
        "redis_ssl_ca_certs": str(certificates.ca),  # verification required, by default
    }
    ids = chain_through_tether(router, pg_database, tmp_path)
    with locked_redis.client(locked_redis.port) as redis:
        assert redis.exists(session_key(ids[0]))


@pytest.fixture
def locked_cluster(tmp_path: Path, certificates: Certificates) -> Iterator[RedisClusterNodes]:
    """Six nodes, TLS only (the cluster bus and replication too), entered as `tether`."""
    nodes = RedisClusterNodes(tmp_path, access=Access("tether", PASSWORD, certificates))
    try:
        yield nodes.start()
    finally:
        nodes.close()


def test_a_chain_runs_on_a_cluster_over_tls_as_an_acl_user(
    locked_cluster: RedisClusterNodes, certificates: Certificates, pg_database: str, tmp_path: Path
) -> None:
    router = {  # LiteLLM's spellings
        "startup_nodes": [{"host": "127.0.0.1", "port": port} for port in locked_cluster.ports],
        "username": "tether",
        "redis_password": PASSWORD,
        "ssl": True,
        "ssl_ca_certs": str(certificates.ca),
        "ssl_cert_reqs": "required",
    }
    ids = chain_through_tether(router, pg_database, tmp_path)
    # Reached through the slot map: the session's shard, over TLS, as tether.
    assert sum(len(keys) for keys in locked_cluster.keys(session_key(ids[0])).values()) == 1
