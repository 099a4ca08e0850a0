"""RedisJournal: the Redis Stream of records waiting for the database, both sides.

The request path appends an entry (`journal_fields`) in the same script as the cache
write, or just before it on a Cluster (`RedisCache.add_pending`); every instance's
durable writer reads the stream as one consumer of the `tether-writers` group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redis.exceptions import ResponseError
from redis.typing import EncodableT, KeyT, StreamIdT

from tether.state.ports import Delivery, Entry, StreamLost
from tether.state.redis.clients import RedisClient, redis_errors
from tether.state.redis.keys import WRITER_GROUP, Keys, session_tag


def journal_fields(entry: Entry) -> list[EncodableT]:
    """The journal entry as XADD's field/value list (`entry_from_fields` reads it back)."""
    return [
        "id",
        entry.id,
        "s",
        entry.session,
        "p",
        entry.parent_id or "",
        "o",
        entry.owner,
        "t",
        repr(entry.created_at),
        "r",
        entry.data,
    ]


def entry_from_fields(fields: Mapping[bytes, bytes]) -> Entry:
    return Entry(
        id=fields[b"id"].decode(),
        session=fields[b"s"].decode(),
        parent_id=fields[b"p"].decode() or None,
        owner=fields[b"o"].decode(),
        created_at=float(fields[b"t"]),
        data=fields[b"r"],
    )


class RedisJournal:
    """One consumer of the writers' group. Errors surface as CacheUnavailable.

    On a Cluster the stream lives in one slot; the pipelines below that touch session
    keys (tombstones, states) are not transactions, so they may span slots.
    """

    def __init__(self, client: RedisClient, keys: Keys, consumer: str) -> None:
        self._client = client
        self._keys = keys
        self.consumer = consumer
        self._claim_cursor = "0-0"

    async def create_group(self) -> None:
        # From id 0, so entries added after a restart but before the group exist count.
        async with redis_errors("create writer group"):
            try:
                await self._client.xgroup_create(
                    self._keys.stream, WRITER_GROUP, "0", mkstream=True
                )
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def read(self, count: int) -> list[Delivery]:
        """New entries for this consumer (they stay pending for it until acked)."""
        streams: dict[KeyT, StreamIdT] = {self._keys.stream: ">"}
        reply = await self._guarded(
            self._client.xreadgroup(WRITER_GROUP, self.consumer, streams, count=count)
        )
        return _deliveries(reply)

    async def claim(self, min_idle_ms: int, count: int) -> list[Delivery]:
        """Entries another consumer took and left idle that long (it probably died)."""
        reply = await self._guarded(
            self._client.xautoclaim(
                self._keys.stream,
                WRITER_GROUP,
                self.consumer,
                min_idle_ms,
                start_id=self._claim_cursor,
                count=count,
            )
        )
        cursor = reply[0]
        self._claim_cursor = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        return [Delivery(sid, entry_from_fields(f)) for sid, f in reply[1] if f is not None]

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge and delete, so the stream only ever holds unfinished work."""
        ids = [delivery.stream_id for delivery in deliveries]
        if not ids:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xack(self._keys.stream, WRITER_GROUP, *ids)
            pipe.xdel(self._keys.stream, *ids)
            async with redis_errors("ack"):
                await pipe.execute()

    async def tombstoned(self, ids: Sequence[str]) -> set[str]:
        async with self._client.pipeline(transaction=False) as pipe:
            for response_id in ids:
                pipe.exists(self._keys.tombstone(response_id))
            async with redis_errors("tombstone check"):
                found = await pipe.execute()
        return {response_id for response_id, hit in zip(ids, found, strict=True) if hit}

    async def states(self, ids: Sequence[str]) -> list[str]:
        """Where each record stands in Redis: "pending", "durable" (cached, settled) or "gone"."""
        async with self._client.pipeline(transaction=False) as pipe:
            for response_id in ids:
                records, _, pending = self._keys.session_keys(session_tag(response_id))
                pipe.sismember(pending, response_id)
                pipe.hexists(records, response_id)
            async with redis_errors("state check"):
                replies = await pipe.execute()
        pairs = zip(replies[::2], replies[1::2], strict=True)
        return ["pending" if held else "durable" if cached else "gone" for held, cached in pairs]

    async def forget_consumers(self, idle_ms: int) -> None:
        """Remove consumers (dead instances) idle that long with nothing pending."""
        async with redis_errors("consumer cleanup"):
            try:
                consumers = await self._client.xinfo_consumers(self._keys.stream, WRITER_GROUP)
            except ResponseError:  # no stream or group right now: nothing to clean
                return
            for consumer in consumers:
                if consumer["pending"] == 0 and consumer["idle"] > idle_ms:
                    name = consumer["name"]
                    await self._client.xgroup_delconsumer(self._keys.stream, WRITER_GROUP, name)

    async def _guarded(self, command: Any) -> Any:
        async with redis_errors("stream read"):
            try:
                return await command
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
        await self.create_group()
        self._claim_cursor = "0-0"
        raise StreamLost(self._keys.stream)


def _deliveries(reply: Any) -> list[Delivery]:
    # The client speaks RESP2: [[stream, [(id, fields), ...]]].
    if not reply:
        return []
    return [Delivery(sid, entry_from_fields(fields)) for sid, fields in reply[0][1]]
