"""The durable writer behind Redis: pending records, batches, reclaiming, recovery."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from tests.support.backends import Backend
from tests.support.turns import ids, make_chain, make_turn
from tests.support.waits import eventually
from tether.core.records import Turn
from tether.errors import StorageUnavailable
from tether.state.redis.clients import RedisClient
from tether.state.redis.journal import RedisJournal
from tether.state.redis.keys import Keys


async def all_durable(backend: Backend, turns: list[Turn]) -> bool:
    async with backend.open_database_only() as durable:
        return all([await durable.get(turn.id, None) == turn for turn in turns])


async def test_records_never_expire_before_they_are_durable(
    redis_backend: Backend, backend_redis: RedisClient
) -> None:
    chain = make_chain(3)
    keys = Keys(redis_backend.key_prefix)
    async with redis_backend.open(ttl_seconds=1) as store:
        for turn in chain:
            await store.record(turn)
        await asyncio.sleep(1.3)  # past the TTL, but nothing is durable yet
        assert await backend_redis.pttl(keys.records(chain[0].session)) == -1
        assert not await all_durable(redis_backend, chain[:1])
        # No local copies: Redis alone serves it. (Its writer may take the batch on
        # start-up: instances of one deployment share the TTL.)
        async with redis_backend.open(ttl_seconds=1) as other:
            assert ids(await other.load_chain(chain[-1].id, "alice")) == ids(chain)
            assert other.stats().misses == 0
            await store.flush()
        assert 0 < await backend_redis.pttl(keys.records(chain[0].session)) <= 1000
        assert await all_durable(redis_backend, chain)


async def test_the_writer_flushes_on_its_interval(redis_backend: Backend) -> None:
    turn = make_turn()
    async with redis_backend.open(flush_interval_seconds=0.2) as store:
        await store.record(turn)
        await eventually(lambda: all_durable(redis_backend, [turn]), within=3)
        assert store.stats().writer_batches == 1


async def test_a_dead_instances_entries_are_taken_over(
    redis_backend: Backend, backend_redis: RedisClient
) -> None:
    turns = [make_turn() for _ in range(5)]
    async with redis_backend.open() as gateway_a:
        for turn in turns:
            await gateway_a.record(turn)
        # Another instance read them from the stream, then died before writing them.
        ghost = RedisJournal(backend_redis, Keys(redis_backend.key_prefix), "ghost")
        assert len(await ghost.read(100)) == 5
        async with redis_backend.open(claim_idle=0.3, flush_interval_seconds=0.1) as gateway_b:
            await eventually(lambda: all_durable(redis_backend, turns), within=5)
            assert gateway_b.stats().reclaimed == 5
        assert gateway_a.stats().writer_batches == 0


async def test_the_writer_recovers_when_redis_loses_the_stream(
    redis_backend: Backend, backend_redis: RedisClient
) -> None:
    keys = Keys(redis_backend.key_prefix)
    lost, later = make_turn(), make_turn()
    async with redis_backend.open() as store:
        await store.record(lost)
        await backend_redis.delete(keys.stream)  # the stream and its group are gone (NOGROUP)
        await store.flush()  # recreates the group; the local copy is written directly
        await store.record(later)
        await store.flush()
        assert store.stats().stream_resets == 1
        assert store.stats().writer_backlog == 0
        assert await backend_redis.pttl(keys.records(lost.session)) > 0  # settled in Redis too
    assert await all_durable(redis_backend, [lost, later])


async def test_a_follow_up_works_after_redis_restarts_empty(
    redis_backend: Backend, backend_redis: RedisClient
) -> None:
    first, second = make_chain(2)
    async with redis_backend.open() as store:
        await store.record(first)
        await store.record(second)
        prefix = redis_backend.key_prefix
        wiped = [key async for key in backend_redis.scan_iter(match=f"{prefix}*")]
        await backend_redis.delete(*wiped)
        assert ids(await store.load_chain(second.id, "alice")) == ids([first, second])
        assert store.stats().misses == 0  # served from this instance's copies
        await store.flush()
    assert await all_durable(redis_backend, [first, second])


async def test_a_thousand_responses_take_few_commits(redis_backend: Backend) -> None:
    turns = [make_turn() for _ in range(1000)]
    async with redis_backend.open(flush_batch_size=500) as store:
        # Warm up first: 50 requests at once open 50 new connections (per node, on a
        # Cluster), and a loaded test machine can take longer than an operation's
        # deadline to finish them; that trips the breaker, which this test is not about.
        await asyncio.gather(*(store.record(make_turn()) for _ in range(50)))
        await store.flush()
        before = store.stats()
        for start in range(0, len(turns), 50):  # 50 concurrent requests at a time
            await asyncio.gather(*(store.record(t) for t in turns[start : start + 50]))

        async def batch_flushed() -> bool:  # long before the (one hour) interval
            return store.stats().writer_rows >= int(before.writer_rows) + 500

        await eventually(batch_flushed, within=5)
    stats = store.stats()
    assert stats.writer_rows - before.writer_rows == 1000
    assert stats.db_commits - before.db_commits <= 10


async def test_large_turns_go_to_the_database_before_a_batch_fills(
    redis_backend: Backend,
) -> None:
    # Pending turns are held in memory too: 500 turns of 200 KB would be 100 MB.
    # Past 4 MiB waiting, the writer starts without waiting for 500 rows or the interval.
    turns = [make_turn(pad=200_000) for _ in range(30)]
    async with redis_backend.open(flush_batch_size=500) as store:
        for turn in turns:
            await store.record(turn)

        async def written_and_settled() -> bool:
            # Rows count at the insert; a copy goes once Redis has marked it durable
            # (more round trips on a Cluster): wait for both, not one then the other.
            stats = store.stats()
            return stats.writer_rows >= 20 and stats.writer_backlog <= 10

        await eventually(written_and_settled, within=5)  # the interval is an hour


async def test_a_failing_database_keeps_entries_until_it_recovers(
    key_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tether.db"
    backend = Backend("redis", "sqlite", f"sqlite:///{path}", key_prefix)
    turn = make_turn()
    caplog.set_level(logging.WARNING, logger="tether.state")
    async with backend.open() as store:
        await store.record(turn)
        _rename(path, "responses", "responses_away")  # every insert now fails
        for _ in range(3):
            with pytest.raises(StorageUnavailable):
                await store.flush()
        assert await store.load_chain(turn.id, "alice") == [turn]  # reads still work
        assert store.stats().writer_held == 1
        failures = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(failures) == 1
        assert "1 stream entries" in failures[0].getMessage()  # logged once, with context
        _rename(path, "responses_away", "responses")
        await store.flush()
        assert store.stats().writer_held == store.stats().writer_backlog == 0
    assert await all_durable(backend, [turn])
    assert any("recovered" in r.getMessage() for r in caplog.records)


def _rename(path: Path, old: str, new: str) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(f"ALTER TABLE {old} RENAME TO {new}")


async def test_long_gone_consumers_are_forgotten(
    redis_backend: Backend, backend_redis: RedisClient
) -> None:
    keys = Keys(redis_backend.key_prefix)
    async with redis_backend.open() as store:
        await store.record(make_turn())
        ghost = RedisJournal(backend_redis, keys, "ghost")
        await ghost.read(10)  # takes the entry: a consumer with something pending
        await RedisJournal(backend_redis, keys, "idle-ghost").read(10)  # nothing pending
        await asyncio.sleep(0.05)
        await ghost.forget_consumers(idle_ms=10)
        names = {
            c["name"] for c in await backend_redis.xinfo_consumers(keys.stream, "tether-writers")
        }
        assert b"ghost" in names  # still holds an entry another instance must reclaim
        assert b"idle-ghost" not in names


async def test_lookups_and_records_go_on_after_redis_forgets_its_scripts(
    redis_backend: Backend, backend_redis: RedisClient
) -> None:
    # A restarted or failed-over Redis answers NOSCRIPT: the scripts are loaded again.
    first, second, third = make_chain(3)
    async with redis_backend.open() as store:
        await store.record(first)
        await store.record(second)
        await backend_redis.script_flush()
        assert ids(await store.load_chain(second.id, "alice")) == ids([first, second])
        await backend_redis.script_flush()
        await store.record(third)
        assert ids(await store.load_chain(third.id, "alice")) == ids([first, second, third])
        assert store.stats().cache_errors == 0
        assert store.stats().misses == 0
