"""`tether serve` on a Redis Cluster: concurrent chains through the official SDK."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI

from tests.faults.load import transcript_reply
from tests.faults.rows import missing_after
from tests.support.server import TetherServer

from .servers import RedisClusterNodes

CHAINS, TURNS = 10, 6
Transcript = list[tuple[str, str]]


def cluster_config(redis_cluster: RedisClusterNodes, database_url: str) -> dict[str, Any]:
    # LiteLLM's spelling of a cluster: its startup nodes.
    nodes = [{"host": "127.0.0.1", "port": port} for port in redis_cluster.ports[:3]]
    return {
        "model_list": [
            {"model_name": "transcript", "litellm_params": {"model": "echo/transcript"}}
        ],
        "router_settings": {"redis_startup_nodes": nodes},
        "general_settings": {"database_url": database_url},
        "session_cache": {"flush_interval_seconds": 0.5},
    }


@pytest.fixture
def tether(
    redis_cluster: RedisClusterNodes, pg_database: str, tmp_path: Path
) -> Iterator[TetherServer]:
    server = TetherServer(cluster_config(redis_cluster, pg_database), tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


async def turn(
    client: AsyncOpenAI, text: str, previous: str | None, *, stream: bool
) -> tuple[str, str]:
    """One turn; (id, output text) once the client has the whole response."""
    if not stream:
        response = await client.responses.create(
            model="transcript", input=text, previous_response_id=previous
        )
        return response.id, response.output_text
    events = await client.responses.create(
        model="transcript", input=text, previous_response_id=previous, stream=True
    )
    async with events:
        async for event in events:
            if event.type == "response.completed":
                return event.response.id, event.response.output_text
    raise AssertionError("the stream ended without response.completed")


async def chain(client: AsyncOpenAI, name: str) -> list[str]:
    """TURNS turns, every other one streamed; each reply must list the whole history."""
    ids: list[str] = []
    history: Transcript = []
    for number in range(TURNS):
        text = f"{name} turn {number}"
        previous = ids[-1] if ids else None
        response_id, output = await turn(client, text, previous, stream=number % 2 == 1)
        assert output == transcript_reply(history, text), f"{name}: wrong history"
        ids.append(response_id)
        history += [("user", text), ("assistant", output)]
    return ids


async def run_chains(url: str) -> list[list[str]]:
    async with AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-cluster", max_retries=0) as client:
        return await asyncio.gather(*(chain(client, f"chain{i}") for i in range(CHAINS)))


def test_concurrent_chains_replay_exactly_and_reach_the_database(
    tether: TetherServer, redis_cluster: RedisClusterNodes, pg_database: str
) -> None:
    chains = asyncio.run(run_chains(tether.url))
    acknowledged = {response_id for ids in chains for response_id in ids}
    assert len(acknowledged) == CHAINS * TURNS
    # The writer (every half second) commits them while tether runs.
    assert missing_after(pg_database, acknowledged, timeout=10) == set()
    stats = httpx.get(f"{tether.url}/v1/session-cache/stats").json()
    assert stats["cache_errors"] == stats["sync_writes"] == stats["misses"] == 0, stats
    assert stats["cached_sessions"] == CHAINS  # the census visits every primary
    ready = httpx.get(f"{tether.url}/health/readiness").json()
    assert ready["redis"]["status"] == "ok", ready
    # The sessions are spread over the shards, each session whole on its own.
    by_node = redis_cluster.keys("tether:v1:{*}:h")
    assert sum(len(keys) for keys in by_node.values()) == CHAINS
    assert len([node for node, keys in by_node.items() if keys]) >= 2
