"""SIGTERM: requests and streams in flight finish, the writer drains, the exit is clean."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.support.redis_server import RedisServer
from tests.support.waits import wait_until

from .conftest import Launch, config
from .load import Conversation
from .rows import stored_ids


@pytest.fixture
def slow_upstream(upstream: FakeUpstream) -> Iterator[FakeUpstream]:
    upstream.clear()
    yield upstream
    upstream.clear()


def _slow_turn(url: str, stream: bool, results: list[str]) -> None:
    body = {"model": "slow", "input": f"slow {'stream' if stream else 'plain'}", "stream": stream}
    with httpx.Client(base_url=url, timeout=30) as client:
        reply = client.post("/v1/responses", json=body)
    if reply.status_code != 200:
        results.append(f"status {reply.status_code}: {reply.text}")
    elif stream and "event: response.completed" not in reply.text:
        results.append(f"stream cut: {reply.text[-300:]}")
    else:
        results.append("ok")


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_drains_requests_streams_and_the_writer(
    workers: int,
    slow_upstream: FakeUpstream,
    redis_server: RedisServer,
    database: str,
    launch: Launch,
) -> None:
    redis_server.start()
    settings = config(redis_server.url, database, flush=30, upstream=slow_upstream)
    server = launch(settings, workers=workers)
    with Conversation([server.url]) as conversation:
        conversation.say(3)  # acknowledged, not durable yet: the writer waits 30 s
    slow_upstream.delay(1.5, times=2)  # the plain requests: answered after 1.5 s
    slow_upstream.slow_stream(0.2, times=2)  # the streams: an event every 0.2 s
    results: list[str] = []
    turns = [
        threading.Thread(target=_slow_turn, args=(server.url, stream, results))
        for stream in (False, False, True, True)
    ]
    for thread in turns:
        thread.start()
    wait_until(lambda: len(slow_upstream.requests) == 4, 5, "four slow turns upstream")
    started = time.monotonic()
    code = server.stop(signal.SIGTERM, timeout=25)
    stopped = time.monotonic() - started
    for thread in turns:
        thread.join(5)
    print(
        f"\nSIGTERM ({workers} workers): stopped after {stopped:.2f} s with status {code}; slow turns: {results}"
    )
    assert results == ["ok"] * 4
    assert set(conversation.chain.ids) <= stored_ids(database)  # drained on the way out
    assert len(stored_ids(database)) == 3 + 4
    assert code == 0
