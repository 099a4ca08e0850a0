"""PostgreSQL down at start-up or mid-run: requests go on from Redis, turns wait and
land once the database is back, each exactly once."""

from __future__ import annotations

import time

import httpx

from tests.support.redis_server import RedisServer

from .conftest import Launch, config
from .load import Conversation, Load, check_replays
from .rows import missing_after, stored_ids
from .services import PostgresCluster


def _readiness(url: str) -> tuple[int, dict[str, object]]:
    reply = httpx.get(f"{url}/health/readiness", timeout=5)
    return reply.status_code, reply.json()


def test_turns_wait_for_a_database_down_at_start_up(
    postgres: PostgresCluster, redis_server: RedisServer, database: str, launch: Launch
) -> None:
    redis_server.start()
    postgres.stop()
    try:
        server = launch(config(redis_server.url, database, flush=0.5))
        with Conversation([server.url]) as conversation:
            conversation.say(4)
            status, body = _readiness(server.url)
            assert status == 200
            assert body["database"]["status"] == "down"  # type: ignore[index]
    finally:
        postgres.start()
    acknowledged = set(conversation.chain.ids)
    assert missing_after(database, acknowledged, timeout=15) == set()
    with Conversation([server.url], "after") as after:
        after.say(2)
    assert missing_after(database, set(after.chain.ids), timeout=15) == set()
    assert stored_ids(database) == acknowledged | set(after.chain.ids)


def test_turns_wait_for_a_database_down_mid_run(
    postgres: PostgresCluster, redis_server: RedisServer, database: str, launch: Launch
) -> None:
    redis_server.start()
    server = launch(config(redis_server.url, database, flush=0.5))
    with Load([server.url], clients=3) as load:
        time.sleep(1)
        postgres.stop()
        try:
            down = time.monotonic()
            time.sleep(2)
            status, body = _readiness(server.url)
            back = time.monotonic()
        finally:
            postgres.start()
        time.sleep(1)
    record = load.record
    assert [failure.error for failure in record.failures] == []
    assert load.requests_between(down, back) > 0
    assert (status, body["database"]["status"]) == (200, "down")  # type: ignore[index]
    assert missing_after(database, record.acknowledged, timeout=15) == set()
    assert stored_ids(database) == record.acknowledged  # nothing else, nothing twice
    assert check_replays(server.url, record.chains) == []
