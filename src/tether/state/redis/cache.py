"""RedisCache: the shared Cache every gateway instance reads first."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import groupby
from typing import Any

from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError
from redis.typing import EncodableT, KeyT

from tether.config import CacheSettings
from tether.state.ports import CacheUnavailable, Census, Entry, Health, Walk
from tether.state.redis.clients import Bounded, RedisClient
from tether.state.redis.journal import journal_fields
from tether.state.redis.keys import (
    DURABLE_NOTE_SECONDS,
    MARKER_MS,
    TOMBSTONE_SECONDS,
    Keys,
    pack,
    parent_of,
    record_of,
    session_tag,
)
from tether.state.redis.scripts import ADD_PENDING, MARK_DURABLE, RECORD, REFILL, REMOVE, TOUCH

# One script call: its keys (all in one slot) and its arguments.
ScriptCall = tuple[list[KeyT], list[EncodableT]]
AnyPipeline = Pipeline | ClusterPipeline


CENSUS_LIMIT = 10_000
# Tags tried to place a marker on every primary: random slots, so 3 primaries need a few
# tags, and a thousand cover a cluster of hundreds.
SHARD_TAG_SEARCH = 4096
SCRIPTS_PER_ROUND_TRIP = 32
CENSUS_SECONDS = 10.0


class RedisCache:
    """A session per hash under its hash tag; `keys` has the layout.

    The client (one server, a Sentinel primary, or a Cluster) is passed in and owned
    by the caller; it must not decode responses.
    """

    backend = "redis"

    def __init__(
        self,
        client: RedisClient,
        settings: CacheSettings,
        keys: Keys,
        instance: str | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """`timeout`: the deadline of each operation, for a client that times nothing
        itself (see `Bounded`); None leaves it to the client's socket timeouts."""
        if client.get_encoder().decode_responses:
            raise ValueError("RedisCache needs a client with decode_responses=False")
        self._client = client
        # A Cluster keeps the stream and each session in different slots: no MULTI spans them.
        self._sharded = isinstance(client, RedisCluster)
        self._keys = keys
        # This instance's `alive` marker: None, and the cache never reports a loss.
        self._instance = instance
        self._marker = keys.alive(instance) if instance is not None else None
        self._markers_set: set[str] = set()  # markers this instance has placed
        self._ttl_ms = settings.ttl_seconds * 1000
        self._cap = settings.max_responses_per_session
        self._add = client.register_script(ADD_PENDING)
        self._mark = client.register_script(MARK_DURABLE)
        self._refill = client.register_script(REFILL)
        self._remove = client.register_script(REMOVE)
        self._record = client.register_script(RECORD)
        self._touch = client.register_script(TOUCH)
        self._timeout = timeout

    def _bounded(self, operation: str) -> Bounded:
        return Bounded(operation, self._timeout)

    async def walk(self, response_id: str, limit: int) -> Walk:
        # One round trip: the session's records (or just this one), and the upkeep.
        records, index, _ = self._keys.session_keys(session_tag(response_id))

        def queue(pipe: AnyPipeline) -> None:
            if limit == 1:
                pipe.hget(records, response_id)
                pipe.hlen(records)
            else:
                pipe.hgetall(records)
            self._upkeep(pipe, records, index)

        async with self._bounded("walk"):
            replies = await self._execute(queue, self._touch)
        if limit == 1:
            value, size = replies[0], replies[1]
            session = {response_id.encode(): value} if value is not None else {}
        else:
            session = replies[0]
            size = len(session)
        return _follow(session, response_id, limit, max(0, self._cap - size), self._lost(replies))

    def _upkeep(self, pipe: AnyPipeline, records: str, index: str) -> None:
        """A lookup's TTL renewal (XX keeps it off sessions holding pending records) and
        marker check: the TOUCH script on one server; on a Cluster, where the marker lives
        in the stream's slot, the commands themselves."""
        if self._sharded:
            pipe.pexpire(records, self._ttl_ms, xx=True)
            pipe.pexpire(index, self._ttl_ms, xx=True)
            self._check_marker(pipe)
            return
        keys = (records, index, self._marker or records)
        marker_ms = MARKER_MS if self._marker is not None else 0
        pipe.execute_command("EVALSHA", self._touch.sha, 3, *keys, self._ttl_ms, marker_ms)

    async def add_pending(self, entry: Entry) -> bool:
        if self._sharded:
            return await self._add_pending_sharded(entry)
        # One server (or a Sentinel primary): one script holds the record, its index
        # entry, the session held without TTL (never evicted before durable), the
        # journal entry the durable writer picks up, and the marker check.
        keys: list[KeyT] = [
            *self._keys.session_keys(session_tag(entry.id)),
            self._keys.stream,
            self._marker or self._keys.stream,
        ]
        args: list[EncodableT] = [
            entry.id,
            pack(entry),
            entry.created_at,
            MARKER_MS if self._marker is not None else 0,
            *journal_fields(entry),
        ]
        async with self._bounded("record"):
            return bool(await self._record(keys=keys, args=args))

    async def _add_pending_sharded(self, entry: Entry) -> bool:
        # Redis Cluster: the journal entry first (the marker rides along: same slot),
        # then the session's keys in one script. See docs/architecture.md for why this order.
        async with self._bounded("record"):
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.execute_command("XADD", self._keys.stream, "*", *journal_fields(entry))
                self._check_marker(pipe)
                replies = await pipe.execute()
            keys: list[KeyT] = [
                *self._keys.session_keys(session_tag(entry.id)),
                self._keys.durable_note(entry.id),
            ]
            args: list[EncodableT] = [
                self._ttl_ms,
                self._cap,
                entry.id,
                pack(entry),
                entry.created_at,
            ]
            await self._add(keys=keys, args=args)
        return self._lost(replies)

    async def add_durable(self, entries: Sequence[Entry]) -> None:
        for session, group in _by_session(entries):
            keys = self._keys.session_keys(session)
            args: list[EncodableT] = [self._ttl_ms, self._cap]
            for entry in group:
                keys.append(self._keys.tombstone(entry.id))
                args += [entry.created_at, entry.id, pack(entry)]
            async with self._bounded("refill"):
                await self._refill(keys=keys, args=args)

    async def mark_durable(self, entries: Sequence[Entry]) -> None:
        calls: list[ScriptCall] = []
        for session, group in _by_session(entries):
            keys: list[KeyT] = [*self._keys.session_keys(session)]
            args: list[EncodableT] = [self._ttl_ms, self._cap, DURABLE_NOTE_SECONDS]
            for entry in group:
                keys.append(self._keys.durable_note(entry.id))
                args += [entry.created_at, entry.id]
            calls.append((keys, args))
        # Redis runs a pipeline's commands back to back: a few sessions per round trip
        # let requests' commands in between (a 500-session batch held them ~10 ms).
        for start in range(0, len(calls), SCRIPTS_PER_ROUND_TRIP):
            async with self._bounded("mark durable"):
                await self._pipelined(self._mark, calls[start : start + SCRIPTS_PER_ROUND_TRIP])

    async def _pipelined(self, script: AsyncScript, calls: list[ScriptCall]) -> None:
        """Many calls of one script in one pipeline (on a Cluster: one per node, at once)."""

        def queue(pipe: AnyPipeline) -> None:
            for keys, args in calls:
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)

        await self._execute(queue, script)

    async def _execute(
        self, queue: Callable[[AnyPipeline], None], script: AsyncScript
    ) -> list[Any]:
        """One pipeline (what `queue` puts in it) whose scripts survive a lost script cache.

        A server that lost its script cache (restarted, failed over) answers NOSCRIPT,
        which a pipeline cannot fix as it goes: load the script (on every primary) and
        run the pipeline once more; what these pipelines run is idempotent. (That
        NOSCRIPT is why redis-py blocks `evalsha` on cluster pipelines; the raw command
        is queued.) Any other error is raised.
        """
        replies = await self._run(queue)
        if any(isinstance(reply, NoScriptError) for reply in replies):
            await self._client.script_load(script.script)
            replies = await self._run(queue)
        if error := next((reply for reply in replies if isinstance(reply, Exception)), None):
            raise error
        return replies

    async def _run(self, queue: Callable[[AnyPipeline], None]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            queue(pipe)
            return await pipe.execute(raise_on_error=False)

    async def remove(self, response_id: str) -> bool:
        keys = self._keys.session_keys(session_tag(response_id))
        keys.append(self._keys.tombstone(response_id))
        args: list[EncodableT] = [self._ttl_ms, response_id, TOMBSTONE_SECONDS]
        async with self._bounded("delete"):
            return bool(await self._remove(keys=keys, args=args))

    async def heartbeat(self) -> Health:
        """Renew this instance's markers: "lost" if one it placed was gone (that server
        restarted empty or was flushed), "down" if Redis did not answer."""
        if (self._marker is None or self._sharded) and not await self.ping():
            return "down"
        if self._marker is None or self._instance is None:
            return "ok"
        markers = self._every_marker(self._marker, self._instance)
        try:
            async with (
                self._bounded("heartbeat"),
                self._client.pipeline(transaction=False) as pipe,
            ):
                for marker in markers:
                    pipe.set(marker, 1, px=MARKER_MS, get=True)
                previous = await pipe.execute()
        except CacheUnavailable:
            return "down"
        gone = {marker for marker, value in zip(markers, previous, strict=True) if value is None}
        lost = bool(gone & self._markers_set)  # a new one (a new primary) is no loss
        self._markers_set.update(markers)
        return "lost" if lost else "ok"

    def _every_marker(self, stream_marker: str, instance: str) -> list[str]:
        """The stream's marker, and on a Cluster one on every other primary: any shard
        restarted empty loses cached records that other instances may be reading."""
        if not isinstance(self._client, RedisCluster):
            return [stream_marker]
        cluster = self._client

        def shard(key: str) -> str | None:
            node = cluster.get_node_from_key(key)
            return node.name if node is not None else None

        uncovered = {node.name for node in cluster.get_primaries()} - {shard(stream_marker)}
        markers = [stream_marker]
        for n in range(SHARD_TAG_SEARCH):
            if not uncovered:
                break
            candidate = self._keys.alive(instance, f"shard-{n}")
            if (name := shard(candidate)) in uncovered:
                uncovered.discard(name)
                markers.append(candidate)
        return markers

    def _check_marker(self, pipe: AnyPipeline) -> None:
        # Last in the round trip: sets the marker only if it was missing (Redis lost it).
        if self._marker is not None:
            pipe.set(self._marker, 1, px=MARKER_MS, nx=True)

    def _lost(self, replies: list[Any]) -> bool:
        return self._marker is not None and bool(replies[-1])

    async def ping(self) -> bool:
        try:
            async with self._bounded("ping"):
                if isinstance(self._client, RedisCluster):
                    # Every primary: a shard that does not answer fails the requests it holds.
                    return bool(await self._client.ping(target_nodes=RedisCluster.PRIMARIES))
                return bool(await self._client.ping())
        except CacheUnavailable:
            return False

    async def census(self) -> Census:
        """Counts sessions by SCAN (every primary of a Cluster; at most CENSUS_LIMIT sessions)."""
        sessions = records = size = 0
        complete = True
        # A scan of many sessions takes many round trips: a deadline of its own.
        async with Bounded("census", CENSUS_SECONDS if self._timeout is not None else None):
            async for key in self._client.scan_iter(match=self._keys.records("*"), count=1000):
                if sessions == CENSUS_LIMIT:
                    complete = False
                    break
                sessions += 1
                async with self._client.pipeline(transaction=False) as pipe:
                    pipe.hlen(key)
                    pipe.memory_usage(key)
                    count, used = await pipe.execute()
                records += int(count or 0)
                size += int(used or 0)
        return Census(sessions, records, size, complete)

    async def persistence(self) -> str:
        """`off`, `rdb`, `aof` or `rdb+aof`; `unknown` where CONFIG is not allowed."""
        try:
            async with self._bounded("config get"):
                save = await self._client.config_get("save")
                aof = await self._client.config_get("appendonly")
        except CacheUnavailable:
            return "unknown"
        kinds = [
            k
            for k, on in (("rdb", save.get("save")), ("aof", aof.get("appendonly") == "yes"))
            if on
        ]
        return "+".join(kinds) or "off"


def _follow(
    session: dict[bytes, bytes], response_id: str, limit: int, room: int, lost: bool
) -> Walk:
    """Walk parent headers through one session's records, newest first."""
    found: list[bytes] = []
    cursor: bytes | None = response_id.encode()
    while cursor is not None:
        value = session.get(cursor)
        if value is None or len(found) == limit:
            return Walk(found, cursor.decode(), room, lost)
        found.append(record_of(value))
        cursor = parent_of(value)
    return Walk(found, None, room, lost)


def _by_session(entries: Sequence[Entry]) -> Iterator[tuple[str, list[Entry]]]:
    def tag(entry: Entry) -> str:
        return session_tag(entry.id)

    for session, group in groupby(sorted(entries, key=tag), key=tag):
        yield session, list(group)
