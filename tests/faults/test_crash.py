"""SIGKILL right after answering: every acknowledged turn still reaches the database,
through a restarted instance or another one taking the dead one's work over."""

from __future__ import annotations

import time

import redis

from tests.support.redis_server import RedisServer
from tests.support.waits import wait_until

from .conftest import Launch, config, kill_tree
from .load import Conversation, Load, check_replays
from .rows import missing_after, stored_ids
from .services import PostgresCluster

STREAM, GROUP = "tether:v1:writes", "tether-writers"


def test_no_acknowledged_turn_is_lost_to_sigkill(
    redis_server: RedisServer, database: str, launch: Launch
) -> None:
    redis_server.start()
    settings = config(redis_server.url, database, flush=30)  # nothing flushes on its own
    first = launch(settings)
    with Load([first.url], clients=4) as load:
        time.sleep(2)
        kill_tree(first)  # mid-load: every answer so far was acknowledged just before
    acknowledged = load.record.acknowledged
    durable_before = len(acknowledged & stored_ids(database))
    started = time.monotonic()
    second = launch(settings)  # a restarted instance
    lost = missing_after(database, acknowledged, timeout=15)
    print(
        f"\nSIGKILL: {len(acknowledged)} acknowledged, {durable_before} durable at the kill, "
        f"{len(lost)} lost; all durable {time.monotonic() - started:.1f} s after the restart"
    )
    assert lost == set()
    answered = [chain for chain in load.record.chains if chain.ids]
    assert check_replays(second.url, answered) == []


def _pending(client: redis.Redis) -> int:
    summary = client.xpending(STREAM, GROUP)
    return int(summary["pending"])


def test_another_instance_takes_over_a_dead_instances_batch(
    postgres: PostgresCluster, redis_server: RedisServer, database: str, launch: Launch
) -> None:
    redis_server.start()
    settings = config(redis_server.url, database, flush=0.5)
    doomed = launch(settings)
    postgres.stop()  # the writer reads the batch, cannot commit it, holds it
    try:
        with Conversation([doomed.url]) as conversation, redis_server.client() as client:
            conversation.say(4)
            wait_until(lambda: _pending(client) == 4, 5, "the batch delivered to the writer")
            kill_tree(doomed)  # its consumer still owns the four entries
    finally:
        postgres.start()
    started = time.monotonic()
    launch(settings)  # another instance: claims entries idle past claim_idle (5 s here)
    lost = missing_after(database, set(conversation.chain.ids), timeout=20)
    print(f"\ntaken over {time.monotonic() - started:.1f} s after the other instance started")
    assert lost == set()
