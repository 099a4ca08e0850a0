"""Redis killed, hung and restarted empty while clients keep talking: no request fails,
every chain still replays exactly, every acknowledged turn reaches the database."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import httpx
import pytest

from tests.support.redis_server import RedisServer

from .conftest import Launch, config
from .load import Load, check_replays
from .rows import missing_after

# Redis is healthy, then faulty, then healthy again, for this long each (seconds).
PHASE = 1.5


def _kill_then_restart_empty(redis: RedisServer) -> None:
    redis.kill()
    time.sleep(PHASE)
    redis.start()  # no persistence: back empty


def _restart_empty(redis: RedisServer) -> None:
    redis.restart_empty()  # the records, the stream, the writer group: all gone at once


def _hang(redis: RedisServer) -> None:
    redis.pause()
    time.sleep(PHASE)
    redis.resume()


FAULTS: dict[str, Callable[[RedisServer], None]] = {
    "killed-then-restarted-empty": _kill_then_restart_empty,
    "restarted-empty": _restart_empty,
    "hung": _hang,
}


@pytest.mark.parametrize("fault", FAULTS)
def test_no_request_fails_while_redis_fails_under_load(
    fault: str, redis_server: RedisServer, database: str, launch: Launch
) -> None:
    redis_server.start()
    server = launch(config(redis_server.url, database, flush=1))
    with Load([server.url], clients=4) as load:
        time.sleep(PHASE)
        started = time.monotonic()
        FAULTS[fault](redis_server)
        ended = time.monotonic()
        time.sleep(PHASE)
    record = load.record
    # The fault, and the second after it: an empty restart is over at once, and it is the
    # requests right after it that find the cache empty.
    during = load.requests_between(started, ended + 1.0)
    print(
        f"\n[{fault}] {len(record.requests)} requests, {during} during the fault, "
        f"{len(record.failures)} failed"
    )
    assert [failure.error for failure in record.failures] == []
    assert during > 0
    assert check_replays(server.url, record.chains) == []
    assert missing_after(database, record.acknowledged, timeout=15) == set()


def _timed_requests(url: str, count: int) -> list[float]:
    """`count` sequential one-turn requests; each one's seconds."""
    seconds = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for n in range(count):
            started = time.perf_counter()
            reply = client.post("/v1/responses", json={"model": "echo", "input": f"ping {n}"})
            seconds.append(time.perf_counter() - started)
            assert reply.status_code == 200, reply.text
    return seconds


def _summary(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms"


def test_a_hung_redis_costs_no_latency_once_detected(
    redis_server: RedisServer, database: str, launch: Launch
) -> None:
    redis_server.start()
    server = launch(config(redis_server.url, database, flush=1))
    _timed_requests(server.url, 20)  # warm up
    healthy = _timed_requests(server.url, 100)
    redis_server.pause()
    try:
        detecting = _timed_requests(server.url, 1)
        hung = _timed_requests(server.url, 200)
    finally:
        redis_server.resume()
    print(
        f"\nhealthy Redis: {_summary(healthy)}; first request on the hung Redis: "
        f"{detecting[0] * 1000:.1f} ms; hung Redis, breaker open: {_summary(hung)}"
    )
    assert detecting[0] < 0.5
    assert statistics.median(hung) < statistics.median(healthy) + 0.02
    assert max(hung) < 0.25


@pytest.mark.parametrize("fault", ["killed-then-restarted-empty", "restarted-empty"])
def test_chains_hopping_between_instances_survive_redis_losing_everything(
    fault: str, redis_server: RedisServer, database: str, launch: Launch
) -> None:
    redis_server.start()
    settings = config(redis_server.url, database, flush=30)  # the database lags far behind
    urls = [launch(settings).url, launch(settings).url]
    with Load(urls, clients=4, hop=True) as load:
        time.sleep(PHASE)
        FAULTS[fault](redis_server)
        time.sleep(PHASE)
    record = load.record
    print(f"\n[hopping, {fault}] {len(record.requests)} requests, {len(record.failures)} failed")
    assert [failure.error for failure in record.failures] == []
    assert check_replays(urls[0], record.chains) == []
