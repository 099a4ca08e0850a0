"""The Cache port contract, on MemoryCache and RedisCache (one server, a Cluster) alike."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from tests.support.redis_server import RedisServer
from tests.support.turns import make_chain, make_turn
from tether.config import CacheSettings
from tether.state.memory import MemoryCache
from tether.state.ports import Cache, Entry
from tether.state.redis.cache import RedisCache
from tether.state.redis.keys import Keys

from .conftest import MakeCache


def entries(count: int) -> list[Entry]:
    return [Entry.of(turn) for turn in make_chain(count)]


async def present(cache: Cache, entry: Entry) -> bool:
    return (await cache.walk(entry.id, 1)).records == [entry.data]


async def test_a_walk_reports_where_it_stopped(make_cache: MakeCache) -> None:
    cache = make_cache()
    a, b, c = entries(3)
    await cache.add_durable([b, c])
    walk = await cache.walk(c.id, 100)
    assert (walk.records, walk.stop) == ([c.data, b.data], a.id)
    walk = await cache.walk(c.id, 1)
    assert (walk.records, walk.stop) == ([c.data], b.id)
    await cache.add_pending(a)
    walk = await cache.walk(c.id, 100)
    assert (walk.records, walk.stop) == ([c.data, b.data, a.data], None)
    unknown = Entry.of(make_turn())
    assert (await cache.walk(unknown.id, 100)).stop == unknown.id
    assert (await cache.walk(unknown.id, 100)).room == 50
    assert (await cache.walk(c.id, 100)).room == 47


async def test_the_session_cap_drops_oldest_durable_records_only(make_cache: MakeCache) -> None:
    cache = make_cache(max_responses_per_session=3)
    oldest, older, *newer = entries(6)
    await cache.add_pending(oldest)
    await cache.add_pending(older)
    await cache.add_durable(newer)  # 6 in the session, cap 3: drop 3 durable ones
    kept = [await present(cache, entry) for entry in [oldest, older, *newer]]
    assert kept == [True, True, False, False, False, True]
    await cache.mark_durable([oldest, older])  # now they may go, oldest first
    kept = [await present(cache, entry) for entry in [oldest, older, *newer]]
    assert kept == [True, True, False, False, False, True]  # 3 records: at the cap
    await cache.add_durable(entries(1))  # another session: no effect here
    assert (await cache.walk(newer[-1].id, 1)).room == 0


async def test_sessions_expire_after_last_use_but_never_while_pending(
    make_cache: MakeCache,
) -> None:
    cache = make_cache(ttl_seconds=1)
    (durable,) = entries(1)
    settled, pending = entries(2)
    await cache.add_durable([durable])
    await cache.add_durable([settled])
    await cache.add_pending(pending)  # holds its whole session
    await asyncio.sleep(0.6)
    assert await present(cache, durable)  # a read renews the TTL
    await asyncio.sleep(0.6)
    assert await present(cache, durable)
    await asyncio.sleep(1.1)
    assert not await present(cache, durable)
    assert await present(cache, settled)
    assert await present(cache, pending)
    await cache.mark_durable([pending])  # nothing pending: the session may expire now
    await asyncio.sleep(1.1)
    assert not await present(cache, pending)


async def test_a_removed_record_is_not_brought_back_by_a_refill(make_cache: MakeCache) -> None:
    cache = make_cache()
    (entry,) = entries(1)
    await cache.add_pending(entry)
    assert await cache.remove(entry.id) is True
    assert await cache.remove(entry.id) is False
    await cache.add_durable([entry])  # a database read that raced the delete
    assert not await present(cache, entry)
    assert await cache.ping()


async def test_a_census_counts_sessions_records_and_bytes(make_cache: MakeCache) -> None:
    cache = make_cache()
    chain = entries(3)
    other = Entry.of(make_turn())
    await cache.add_durable(chain)
    await cache.add_pending(other)
    census = await cache.census()
    assert (census.sessions, census.records) == (2, 4)
    assert census.complete
    assert census.bytes >= sum(len(e.data) for e in [*chain, other])
    assert census.average_record_bytes == census.bytes / 4


async def test_the_memory_cache_says_it_persists_nothing() -> None:
    assert await MemoryCache(CacheSettings()).persistence() == "none"


@pytest.mark.parametrize(
    ("save", "appendonly", "expected"),
    [
        ("", "no", "off"),
        ("3600 1", "no", "rdb"),
        ("", "yes", "aof"),
        ("3600 1 300 100", "yes", "rdb+aof"),
    ],
)
async def test_redis_reports_the_persistence_it_is_configured_with(
    private_redis: RedisServer, save: str, appendonly: str, expected: str
) -> None:
    with private_redis.client() as admin:
        admin.config_set("save", save)
        admin.config_set("appendonly", appendonly)
    async with Redis.from_url(private_redis.url, protocol=2) as client:
        assert await RedisCache(client, CacheSettings(), Keys("t:")).persistence() == expected


async def test_a_redis_user_without_config_rights_gets_unknown(private_redis: RedisServer) -> None:
    with private_redis.client() as admin:  # what a managed Redis often allows: no CONFIG
        admin.execute_command("ACL", "SETUSER", "tether", "on", ">pw", "~*", "+@all", "-config")
    url = f"redis://tether:pw@127.0.0.1:{private_redis.port}/0"
    async with Redis.from_url(url, protocol=2) as client:
        assert await RedisCache(client, CacheSettings(), Keys("t:")).persistence() == "unknown"


async def test_a_cluster_reports_its_nodes_persistence(cluster_client: RedisCluster) -> None:
    # The tests' Cluster nodes run with neither snapshots nor an append-only file.
    assert await RedisCache(cluster_client, CacheSettings(), Keys("t:")).persistence() == "off"
