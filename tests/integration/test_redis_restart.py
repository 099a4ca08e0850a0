"""Redis restarting empty, and losing its script cache, on a private redis-server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from redis.asyncio import Redis

from tests.support.backends import Backend
from tests.support.redis_server import RedisServer
from tests.support.turns import ids, make_chain, make_turn
from tests.support.waits import eventually
from tether.state import ConversationStore, StoreOptions


def backend_on(server: RedisServer, tmp_path: Path) -> Backend:
    return Backend("redis", "sqlite", f"sqlite:///{tmp_path / 't.db'}", "tether:v1:", server.url)


async def test_pending_turns_survive_redis_restarting_empty(
    private_redis: RedisServer, tmp_path: Path
) -> None:
    backend = backend_on(private_redis, tmp_path)
    first, second, third = make_chain(3)
    async with backend.open() as store:
        await store.record(first)
        await store.record(second)
        await asyncio.to_thread(private_redis.restart_empty)  # the stream, the records: all gone
        # The follow-up still has its whole history (this instance's own copies).
        assert ids(await store.load_chain(second.id, "alice")) == ids([first, second])
        await store.record(third)
        assert ids(await store.load_chain(third.id, "alice")) == ids([first, second, third])
        await store.flush()  # NOGROUP: group recreated, copies written directly
        stats = store.stats()
        assert stats.stream_resets == 1
        assert stats.writer_backlog == 0
    async with backend.open_database_only() as durable:
        for turn in (first, second, third):
            assert await durable.get(turn.id, None) == turn


async def test_scripts_reload_after_the_script_cache_is_flushed(
    private_redis: RedisServer, tmp_path: Path
) -> None:
    backend = backend_on(private_redis, tmp_path)
    chain = make_chain(3)
    doomed = make_turn()
    client = Redis.from_url(private_redis.url)
    try:
        async with backend.open(ttl_seconds=60) as store:
            for turn in [*chain, doomed]:
                await store.record(turn)
            await client.script_flush()
            await store.flush()  # the mark-durable script, from a pipeline
            await client.script_flush()
            assert await store.delete(doomed.id, "alice")  # the remove script
            await client.delete(f"tether:v1:{{{chain[0].session}}}:h")  # as if expired
            await client.script_flush()
            assert ids(await store.load_chain(chain[-1].id, "alice")) == ids(chain)  # refill
            assert store.stats().refills == 1
            assert store.stats().cache_errors == 0
            assert ids(await store.load_chain(chain[-1].id, "alice")) == ids(chain)
            assert store.stats().misses == 1
    finally:
        await client.aclose()


async def test_another_instance_waits_for_copies_redis_lost(
    private_redis: RedisServer, tmp_path: Path
) -> None:
    backend = backend_on(private_redis, tmp_path)
    first, second = make_chain(2)
    async with backend.open() as writer_instance, backend.open() as other:
        await writer_instance.record(first)
        await writer_instance.record(second)
        await asyncio.to_thread(private_redis.restart_empty)
        # `other` finds its marker gone (Redis lost everything), so a chain the
        # database lacks is asked again until the first instance's heartbeat has
        # noticed too and its writer has committed its copies.
        assert ids(await other.load_chain(second.id, "alice")) == ids([first, second])
        assert other.stats().cache_losses == 1
        assert other.stats().grace_retries >= 1
        assert writer_instance.stats().cache_losses == 1
        assert writer_instance.stats().writer_backlog == 0


async def test_a_hung_redis_costs_one_short_timeout(
    private_redis: RedisServer, tmp_path: Path
) -> None:
    backend = backend_on(private_redis, tmp_path)
    chain = make_chain(4)
    async with backend.open(redis_timeout=StoreOptions().redis_timeout_seconds) as store:
        await store.record(chain[0])
        private_redis.pause()
        try:
            for turn in chain[1:]:
                started = time.perf_counter()
                await store.record(turn)  # the first pays the timeout, then the breaker is open
                assert time.perf_counter() - started < 0.5
            started = time.perf_counter()
            assert ids(await store.load_chain(chain[-1].id, "alice")) == ids(chain)
            assert time.perf_counter() - started < 0.05
            assert store.stats().degraded is True
            assert store.stats().cache_errors == 1
        finally:
            private_redis.resume()
        await eventually(lambda: _recovered(store), within=3)  # the heartbeat closes it


async def _recovered(store: ConversationStore) -> bool:
    return store.stats().degraded is False
