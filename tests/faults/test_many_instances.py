"""Many instances on one Redis and one database: `--workers 2`, and separate processes.
A chain that moves to another instance at every turn replays exactly."""

from __future__ import annotations

import signal
import time

from tests.support.redis_server import RedisServer

from .conftest import Launch, config
from .load import Conversation, Load, check_replays
from .rows import missing_after


def test_a_chain_hopping_between_instances_replays_exactly(
    redis_server: RedisServer, database: str, launch: Launch
) -> None:
    redis_server.start()
    settings = config(redis_server.url, database, flush=30)  # only Redis can answer
    workers = launch(settings, workers=2)
    others = [launch(settings), launch(settings)]
    urls = [workers.url, *[other.url for other in others]]
    # One connection per request: uvicorn's two workers take turns as well.
    with Conversation([workers.url], "workers") as conversation:
        conversation.say(6)
    with Conversation(urls, "hopping") as conversation:
        conversation.say(9)
    with Load(urls, clients=3, hop=True) as load:
        time.sleep(3)
    record = load.record
    assert [failure.error for failure in record.failures] == []
    for url in urls:
        assert check_replays(url, record.chains) == []
    for server in [workers, *others]:
        assert server.stop(signal.SIGTERM) is not None  # drains its writer
    assert missing_after(database, record.acknowledged, timeout=5) == set()
