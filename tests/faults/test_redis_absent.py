"""Redis absent when tether starts: it serves through the database, and takes Redis
back on its own once it comes up."""

from __future__ import annotations

import httpx
import redis

from tests.support.redis_server import RedisServer
from tests.support.waits import wait_until

from .conftest import Launch, config
from .load import Conversation
from .rows import stored_ids


def _redis_status(url: str) -> str:
    body = httpx.get(f"{url}/health/readiness", timeout=5).json()
    status: str = body["redis"]["status"]
    return status


def _cached(client: redis.Redis, response_id: str) -> bool:
    session = response_id[5:37]  # resp_<32-hex session><random>
    return bool(client.hexists(f"tether:v1:{{{session}}}:h", response_id))


def test_tether_starts_without_redis_and_takes_it_back(
    redis_server: RedisServer, database: str, launch: Launch
) -> None:
    server = launch(config(redis_server.url, database, flush=30))  # Redis not started
    assert _redis_status(server.url) == "degraded"
    with Conversation([server.url]) as conversation:
        conversation.say(4)  # streaming and not
        # Written synchronously: durable before each answer, not 30 s later.
        assert set(conversation.chain.ids) <= stored_ids(database)

        redis_server.start()
        wait_until(lambda: _redis_status(server.url) == "ok", 5, "readiness back to ok")
        conversation.say(2)
        with redis_server.client() as client:
            assert all(_cached(client, rid) for rid in conversation.chain.ids)  # new and refilled
