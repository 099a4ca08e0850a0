"""A dead Redis never fails a request: writes go through to the database, reads come from it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.support.backends import Backend
from tests.support.services import REDIS_URL
from tests.support.turns import make_chain
from tests.support.waits import eventually
from tether.core.records import Turn
from tether.state import ConversationStore

from .proxy import Proxy


async def test_a_dead_redis_degrades_to_the_database(key_prefix: str, tmp_path: Path) -> None:
    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    backend = Backend("redis", "sqlite", f"sqlite:///{tmp_path / 't.db'}", key_prefix, dead)
    first, second = make_chain(2)
    started = time.monotonic()
    async with backend.open() as store:
        await store.record(first)
        await store.record(second)
        assert [t.id for t in await store.load_chain(second.id, "alice")] == [first.id, second.id]
        async with backend.open_database_only() as other:  # written through: visible at once
            assert await other.get(second.id, None) == second
        stats = store.stats()
        assert stats.degraded is True
        assert stats.sync_writes == 2
        assert stats.cache_errors >= 1
        ready = await store.readiness()
        assert ready["cache"]["status"] == "unavailable"
        assert ready["database"]["status"] == "ok"
        assert ready["database"]["migration"] == "0001"
    assert time.monotonic() - started < 5


async def test_losing_redis_mid_flight_keeps_every_turn(
    key_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = Proxy(REDIS_URL)
    await proxy.start()
    url = f"sqlite:///{tmp_path / 't.db'}"
    backend = Backend("redis", "sqlite", url, key_prefix, proxy.url)
    first, second, third = make_chain(3)
    async with backend.open() as store:
        await store.record(first)  # pending: in Redis and in this instance's memory
        await proxy.cut()
        # The follow-up still works (local copy), the next turn is written through,
        # and the writer, woken by the failure, writes the local copy at once.
        assert await store.load_chain(first.id, "alice") == [first]
        await store.record(second)
        async with backend.open_database_only() as durable:
            await eventually(lambda: _found(durable, [first, second]), within=3)
        assert store.stats().sync_writes == 1  # second
        assert store.stats().direct_writes >= 1  # first, from the local copy
        await proxy.start()  # Redis is back (same port)
        await asyncio.sleep(1.1)  # past the guard's cool-down
        await store.record(third)
        assert [t.id for t in await store.load_chain(third.id, "alice")] == [
            first.id,
            second.id,
            third.id,
        ]
        assert store.stats().degraded is False
    async with backend.open_database_only() as durable:
        assert await _found(durable, [first, second, third])
    assert any("degraded" in r.getMessage() for r in caplog.records)


async def _found(store: ConversationStore, turns: list[Turn]) -> bool:
    return all([await store.get(turn.id, None) == turn for turn in turns])


async def test_a_database_down_at_start_up_is_migrated_when_it_returns(
    key_prefix: str, tmp_path: Path
) -> None:
    folder = tmp_path / "not-yet"  # SQLite cannot open a file in a missing folder
    backend = Backend("redis", "sqlite", f"sqlite:///{folder / 't.db'}", key_prefix)
    first, second = make_chain(2)
    async with backend.open() as store:  # starts anyway: Redis can hold the turns
        await store.record(first)
        await store.record(second)
        assert [t.id for t in await store.load_chain(second.id, "alice")] == [first.id, second.id]
        assert (await store.readiness())["database"]["status"] == "unavailable"
        folder.mkdir()  # the database is back
        await store.flush()  # migrates, then inserts
        assert (await store.readiness())["database"]["migration"] == "0001"
    async with backend.open_database_only() as durable:
        assert await _found(durable, [first, second])
