"""RedisCache: the shared Cache every gateway instance reads, with the write journal beside it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import groupby
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError
from redis.typing import EncodableT

from tether.config import CacheSettings
from tether.state.cache import CacheUnavailable, Census, Health, Walk
from tether.state.entry import Entry
from tether.state.keys import (
    MARK_DURABLE,
    MARKER_MS,
    REFILL,
    REMOVE,
    TOMBSTONE_SECONDS,
    Keys,
    pack,
    parent_of,
    record_of,
    session_tag,
    stream_fields,
)


@contextmanager
def translate_errors(operation: str) -> Iterator[None]:
    """Redis and socket failures become CacheUnavailable, the one error the store degrades on."""
    try:
        yield
    except (RedisError, OSError) as exc:
        raise CacheUnavailable(f"redis {operation} failed: {exc}") from exc


CENSUS_LIMIT = 10_000


class RedisCache:
    """A session per hash under its hash tag; see `keys` for the layout.

    The client is passed in and owned by the caller; it must not decode responses.
    """

    backend = "redis"

    def __init__(
        self, client: Redis, settings: CacheSettings, keys: Keys, instance: str | None = None
    ) -> None:
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisCache needs a client with decode_responses=False")
        self._client = client
        self._keys = keys
        # This instance's `alive` marker: None, and the cache never reports a loss.
        self._marker = keys.alive(instance) if instance is not None else None
        self._ttl_ms = settings.ttl_seconds * 1000
        self._cap = settings.max_responses_per_session
        self._mark = client.register_script(MARK_DURABLE)
        self._refill = client.register_script(REFILL)
        self._remove = client.register_script(REMOVE)

    async def walk(self, response_id: str, limit: int) -> Walk:
        # One round trip: the session's records (or just this one), and a TTL renewal
        # that XX keeps off sessions still holding pending records.
        records, index, _ = self._keys.session_keys(session_tag(response_id))
        async with self._client.pipeline(transaction=False) as pipe:
            if limit == 1:
                pipe.hget(records, response_id)
                pipe.hlen(records)
            else:
                pipe.hgetall(records)
            pipe.pexpire(records, self._ttl_ms, xx=True)
            pipe.pexpire(index, self._ttl_ms, xx=True)
            self._check_marker(pipe)
            with translate_errors("walk"):
                replies = await pipe.execute()
        if limit == 1:
            value, size = replies[0], replies[1]
            session = {response_id.encode(): value} if value is not None else {}
        else:
            session = replies[0]
            size = len(session)
        return _follow(session, response_id, limit, max(0, self._cap - size), self._lost(replies))

    async def add_pending(self, entry: Entry) -> bool:
        # One MULTI: the record, its index entry, the session held without TTL (never
        # evicted before durable) and the journal entry the durable writer picks up.
        records, index, pending = self._keys.session_keys(session_tag(entry.id))
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(records, entry.id, pack(entry))
            pipe.zadd(index, {entry.id: entry.created_at})
            pipe.sadd(pending, entry.id)
            pipe.persist(records)
            pipe.persist(index)
            pipe.xadd(self._keys.stream, stream_fields(entry))
            self._check_marker(pipe)
            with translate_errors("record"):
                replies = await pipe.execute()
        return self._lost(replies)

    async def add_durable(self, entries: Sequence[Entry]) -> None:
        for session, group in _by_session(entries):
            keys = self._keys.session_keys(session)
            args: list[EncodableT] = [self._ttl_ms, self._cap]
            for entry in group:
                keys.append(self._keys.tombstone(entry.id))
                args += [entry.created_at, entry.id, pack(entry)]
            with translate_errors("refill"):
                await self._refill(keys=keys, args=args)

    async def mark_durable(self, entries: Sequence[Entry]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for session, group in _by_session(entries):
                args: list[EncodableT] = [self._ttl_ms, self._cap]
                for entry in group:
                    args += [entry.created_at, entry.id]
                await self._mark(keys=self._keys.session_keys(session), args=args, client=pipe)
            with translate_errors("mark durable"):
                await pipe.execute()

    async def remove(self, response_id: str) -> bool:
        keys = self._keys.session_keys(session_tag(response_id))
        keys.append(self._keys.tombstone(response_id))
        args: list[EncodableT] = [self._ttl_ms, response_id, TOMBSTONE_SECONDS]
        with translate_errors("delete"):
            return bool(await self._remove(keys=keys, args=args))

    async def heartbeat(self) -> Health:
        """Renew this instance's marker: "lost" if it was gone, "down" if Redis did not answer."""
        if self._marker is None:
            return "ok" if await self.ping() else "down"
        try:
            previous = await self._client.set(self._marker, 1, px=MARKER_MS, get=True)
        except (RedisError, OSError):
            return "down"
        return "ok" if previous is not None else "lost"

    def _check_marker(self, pipe: Pipeline) -> None:
        # Last in the round trip: sets the marker only if it was missing (Redis lost it).
        if self._marker is not None:
            pipe.set(self._marker, 1, px=MARKER_MS, nx=True)

    def _lost(self, replies: list[Any]) -> bool:
        return self._marker is not None and bool(replies[-1])

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def census(self) -> Census:
        """Counts sessions by SCAN (bounded: at most CENSUS_LIMIT sessions are visited)."""
        sessions = records = size = 0
        complete = True
        try:
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
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(f"redis census failed: {exc}") from exc
        return Census(sessions, records, size, complete)

    async def persistence(self) -> str:
        """`off`, `rdb`, `aof` or `rdb+aof`; `unknown` where CONFIG is not allowed."""
        try:
            save = await self._client.config_get("save")
            aof = await self._client.config_get("appendonly")
        except (RedisError, OSError):
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
