"""`tether serve` finding its Redis primary through Sentinel, and following a failover."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.faults.load import Conversation
from tests.faults.rows import stored_ids
from tests.support.ports import free_port
from tests.support.server import TetherServer
from tether.config import RedisNode, RedisTopology
from tether.state.redis.clients import Patience, redis_client

from .servers import SERVICE, SentinelGroup

MODELS = [{"model_name": "transcript", "litellm_params": {"model": "echo/transcript"}}]


def sentinel_config(
    group: SentinelGroup, database_url: str, router: dict[str, Any]
) -> dict[str, Any]:
    return {
        "model_list": MODELS,
        "router_settings": {"redis_password": group.PASSWORD, **locks(group), **router},
        "general_settings": {"database_url": database_url},
        # Nothing flushes while the chain runs: only Redis can answer its follow-ups.
        "session_cache": {"flush_interval_seconds": 30},
    }


def locks(group: SentinelGroup) -> dict[str, Any]:
    """The keys that open a locked group: its ACL users, TLS with its CA."""
    router: dict[str, Any] = {}
    if group.access.username:
        router |= {"redis_username": group.USER, "redis_sentinel_username": group.SENTINEL_USER}
    if group.access.tls:
        router |= {"redis_ssl": True, "redis_ssl_ca_certs": str(group.access.tls.ca)}
    return router


LOCKED = {"acl": True, "tls": True}  # ACL users for the sentinel and the data nodes; TLS


@pytest.mark.parametrize(
    "sentinel_group", [{}, {"acl": True}], ids=["passwords", "acl"], indirect=True
)
def test_a_chain_runs_on_the_primary_sentinel_names(
    sentinel_group: SentinelGroup, pg_database: str, tmp_path: Path
) -> None:
    router = {  # LiteLLM's spellings
        "sentinel_nodes": [["127.0.0.1", sentinel_group.sentinel]],
        "service_name": SERVICE,
        "sentinel_password": sentinel_group.SENTINEL_PASSWORD,
    }
    server = TetherServer(sentinel_config(sentinel_group, pg_database, router), tmp_path).start()
    try:
        with Conversation([server.url], "sentinel") as conversation:
            conversation.say(4)
        ids = conversation.chain.ids
        with sentinel_group.client(sentinel_group.primary) as primary:
            assert primary.exists(f"tether:v1:{{{ids[0][5:37]}}}:h")
        stats = httpx.get(f"{server.url}/v1/session-cache/stats").json()
        assert stats["cache_errors"] == stats["misses"] == stats["sync_writes"] == 0
        assert server.stop(signal.SIGTERM) == 0, server.log()  # drains the writer
    finally:
        server.stop()
    assert stored_ids(pg_database) == set(ids)


def failover_router(group: SentinelGroup) -> dict[str, Any]:
    return {
        "redis_sentinel_nodes": [{"host": "127.0.0.1", "port": group.sentinel}],
        "redis_sentinel_service_name": SERVICE,
        "redis_sentinel_password": group.SENTINEL_PASSWORD,
    }


def no_request_noticed(server: TetherServer) -> None:
    stats = httpx.get(f"{server.url}/v1/session-cache/stats").json()
    assert stats["cache_errors"] == stats["sync_writes"] == stats["misses"] == 0, stats


@pytest.mark.parametrize(
    "sentinel_group", [{}, LOCKED], ids=["passwords", "acl+tls"], indirect=True
)
def test_a_chain_continues_through_a_sentinel_failover(
    sentinel_group: SentinelGroup, pg_database: str, tmp_path: Path
) -> None:
    config = sentinel_config(sentinel_group, pg_database, failover_router(sentinel_group))
    server = TetherServer(config, tmp_path).start()
    try:
        with Conversation([server.url], "failover") as conversation:
            conversation.say(3)
            sentinel_group.failover(demote=True)  # the old primary follows the new one
            conversation.say(3)  # every turn still replays the whole chain
        ids = conversation.chain.ids
        assert sentinel_group.holds(sentinel_group.replica, ids[-1])  # the new primary
        # Each pooled connection meets READONLY once and reconnects to the new primary
        # within the same command: no request noticed (none went to the database).
        no_request_noticed(server)
        assert server.stop(signal.SIGTERM) == 0, server.log()  # drains the writer
    finally:
        server.stop()
    assert stored_ids(pg_database) == set(ids)


def test_instances_move_to_the_new_primary_before_the_old_one_is_demoted(
    sentinel_group: SentinelGroup, pg_database: str, tmp_path: Path
) -> None:
    config = sentinel_config(sentinel_group, pg_database, failover_router(sentinel_group))
    servers = [TetherServer(config, tmp_path).start() for _ in range(2)]
    try:
        urls = [server.url for server in servers]
        with Conversation(urls, "hopping") as conversation:
            conversation.say(3)
            sentinel_group.failover(demote=False)  # the old primary stays writable ~10 s
            time.sleep(1.2)  # two heartbeats: each instance asks Sentinel for the primary
            conversation.say(4)  # each turn on the other instance: both on the new primary
        ids = conversation.chain.ids
        for response_id in ids[3:]:
            assert sentinel_group.holds(sentinel_group.replica, response_id)
            assert not sentinel_group.holds(sentinel_group.primary, response_id)
        for server in servers:
            no_request_noticed(server)
            assert server.stop(signal.SIGTERM) == 0, server.log()
    finally:
        for server in servers:
            server.stop()
    assert stored_ids(pg_database) == set(ids)


async def test_a_sentinel_that_is_down_is_skipped_at_once(sentinel_group: SentinelGroup) -> None:
    group = sentinel_group
    topology = RedisTopology(
        nodes=(
            RedisNode(host="127.0.0.1", port=free_port()),
            RedisNode(host="127.0.0.1", port=group.sentinel),
        ),
        service_name=SERVICE,
        sentinel_password=SecretStr(group.SENTINEL_PASSWORD),
    )
    url = SecretStr(f"redis://:{group.PASSWORD}@{SERVICE}/0")
    started = time.monotonic()
    async with redis_client(url, topology, Patience(timeout=2, connect_timeout=2)) as client:
        assert await client.ping()
    # The lookup asks the next sentinel without retrying the first for seconds (redis-py's
    # default: ten retries, backing off up to 1 s each), so first requests need not degrade.
    assert time.monotonic() - started < 1.5
