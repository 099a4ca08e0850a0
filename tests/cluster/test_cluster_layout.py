"""How tether's keys sit on a Redis Cluster, and the write path that works across slots."""

from __future__ import annotations

from redis.asyncio.cluster import RedisCluster

from tests.support.backends import Backend
from tests.support.turns import make_chain, make_turn
from tether.config import CacheSettings
from tether.state.ports import Entry
from tether.state.redis.cache import RedisCache
from tether.state.redis.keys import Keys

from .servers import RedisClusterNodes


async def test_every_key_of_a_session_is_in_one_slot(
    backend: Backend, redis_cluster: RedisClusterNodes, key_prefix: str
) -> None:
    root, child, deleted = make_chain(3)
    async with backend.open() as store:
        for turn in (root, child, deleted):
            await store.record(turn)
        await store.delete(deleted.id, "alice")  # leaves a tombstone
        await store.flush()
    tag = f"{{{root.session}}}"
    by_node = redis_cluster.keys(f"{key_prefix}{tag}*")
    held = {key.decode().removeprefix(key_prefix) for keys in by_node.values() for key in keys}
    assert held == {f"{tag}:h", f"{tag}:idx", f"{tag}:del:{deleted.id}"}  # nothing pending
    assert len([node for node, keys in by_node.items() if keys]) == 1
    keys = Keys(key_prefix)
    named = [*keys.session_keys(root.session), keys.tombstone(child.id)]
    named += [keys.durable_note(child.id)]
    assert len({redis_cluster.keyslot(name) for name in named}) == 1
    # An instance's marker sits with the stream: it vanishes when that shard loses its data.
    assert redis_cluster.keyslot(keys.alive("any-instance")) == redis_cluster.keyslot(keys.stream)


async def test_sessions_spread_over_every_primary_and_the_census_finds_them_all(
    backend: Backend, redis_cluster: RedisClusterNodes, key_prefix: str
) -> None:
    turns = [make_turn() for _ in range(30)]
    async with backend.open() as store:
        for turn in turns:
            await store.record(turn)
        census = await store.census()
    assert census is not None
    assert (census.sessions, census.records, census.complete) == (30, 30, True)
    by_node = redis_cluster.keys(f"{key_prefix}{{*}}:h")
    assert len(by_node) == 3
    assert all(by_node.values())  # 30 random sessions: every primary holds some


async def test_a_writer_faster_than_the_session_write_leaves_nothing_pending(
    redis_client: RedisCluster, key_prefix: str
) -> None:
    # On a Cluster the journal entry goes first; another instance's writer may commit
    # it before the session write lands. The session must still expire.
    keys = Keys(key_prefix)
    cache = RedisCache(redis_client, CacheSettings(ttl_seconds=2), keys)
    late, on_time = Entry.of(make_turn()), Entry.of(make_turn())
    await cache.mark_durable([late])  # the writer, first
    await cache.add_pending(late)  # the session write, second
    await cache.add_pending(on_time)
    assert not await redis_client.exists(keys.pending(late.session))
    assert 0 < await redis_client.pttl(keys.records(late.session)) <= 2000
    assert (await cache.walk(late.id, 1)).records == [late.data]
    assert await redis_client.pttl(keys.records(on_time.session)) == -1  # held: pending
    await cache.mark_durable([on_time])
    assert 0 < await redis_client.pttl(keys.records(on_time.session)) <= 2000


async def test_scripts_come_back_after_every_primary_flushed_them(
    backend: Backend, redis_client: RedisCluster
) -> None:
    chains = [make_chain(2) for _ in range(6)]  # sessions on several primaries
    async with backend.open() as store:
        for turn in [turn for chain in chains for turn in chain[:1]]:
            await store.record(turn)
        await redis_client.script_flush()  # every primary
        await store.flush()  # pipelined EVALSHA: NOSCRIPT, load everywhere, again
        for turn in [chain[1] for chain in chains]:
            await store.record(turn)  # the Cluster's session-write script
        await store.flush()
        for chain in chains:
            assert await store.load_chain(chain[1].id, "alice") == chain
        stats = store.stats()
        assert stats.writer_rows == 12
        assert stats.cache_errors == stats.sync_writes == 0


async def test_a_primary_restarted_empty_is_noticed_whichever_shard_it_is(
    redis_client: RedisCluster, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    cache = RedisCache(redis_client, CacheSettings(), keys, "instance-1")
    assert await cache.heartbeat() == "ok"  # the markers are placed: one on every primary
    held = {
        node.name
        for node in redis_client.get_primaries()
        if await redis_client.keys(f"{key_prefix}alive:*", target_nodes=node)
    }
    assert len(held) == 3
    stream_shard = redis_client.get_node_from_key(keys.stream)
    assert stream_shard is not None
    other = next(node for node in redis_client.get_primaries() if node.name != stream_shard.name)
    # That primary loses its data (as a restart without persistence would): only its keys.
    await redis_client.execute_command("FLUSHALL", target_nodes=other)
    assert await cache.heartbeat() == "lost"
    assert await cache.heartbeat() == "ok"  # placed again: the next loss is a new one
