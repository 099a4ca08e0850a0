"""The state layer's ports: what every backend stores, and the Cache, Database and
Journal protocols the store and the durable writer are written against.

The Cache contract (tests/integration/test_cache_contract.py runs it on every implementation):
- records live per session; a session with a *pending* record (`add_pending`, not
  yet `mark_durable`) never expires, and pending records are never trimmed;
- otherwise a session expires `ttl_seconds` after its last read or write, and it
  keeps at most `max_responses_per_session` records (the oldest durable go first);
- `walk` follows parent ids from a response and reports where it had to stop;
- a removed id is never brought back by a later `add_durable` (a racing refill).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from tether.core.records import Turn, decode_turn, encode_turn
from tether.errors import StorageUnavailable

# What a heartbeat finds: answering; answering but its data was lost; not answering.
Health = Literal["ok", "lost", "down"]


@dataclass(frozen=True, slots=True)
class Entry:
    """What every backend stores: the columns the state layer routes on, plus the
    encoded record (`encode_turn` output, kept as bytes end to end)."""

    id: str
    session: str
    parent_id: str | None
    owner: str
    created_at: float
    data: bytes

    @classmethod
    def of(cls, turn: Turn) -> Entry:
        return cls(
            turn.id, turn.session, turn.parent_id, turn.owner, turn.created_at, encode_turn(turn)
        )

    def turn(self) -> Turn:
        return decode_turn(self.data)


class CacheUnavailable(StorageUnavailable):
    """The cache did not answer. The store degrades to the database; clients never see it."""


@dataclass(frozen=True, slots=True)
class Walk:
    """Records found from a response upward, newest first.

    `stop` is the id the walk could not serve (missing, in another session, or past
    `limit`); None when it reached the root. `room` is how many more records the
    session takes before trimming, so a refill never adds what would be dropped.
    `lost` is True when the cache shows it lost its data since this instance last
    looked (a Redis restarted empty or flushed): missing records may be on their way
    to the database from another instance's local copies.
    """

    records: list[bytes]
    stop: str | None
    room: int
    lost: bool = False


@dataclass(frozen=True, slots=True)
class Census:
    sessions: int
    records: int
    bytes: int  # memory used by tether's keys (Redis: MEMORY USAGE, sampled if large)
    complete: bool  # False when the count stopped at the scan bound

    @property
    def average_record_bytes(self) -> float:
        return self.bytes / self.records if self.records else 0.0


class Cache(Protocol):
    backend: str  # "redis" | "memory", for health reports

    async def walk(self, response_id: str, limit: int) -> Walk:
        """Follow the parent chain from `response_id`; renews the session's TTL."""
        ...

    async def add_pending(self, entry: Entry) -> bool:
        """Store a record that is not durable yet, and (Redis) append it to the journal: one
        script on one server; on a Cluster two steps, the journal entry first (see
        docs/architecture.md, "Redis Cluster").

        Returns True when the cache shows it lost its data (as `Walk.lost`).
        """
        ...

    async def add_durable(self, entries: Sequence[Entry]) -> None:
        """Store records already in the database (a refill), then apply the session cap."""
        ...

    async def mark_durable(self, entries: Sequence[Entry]) -> None:
        """Records now in the database stop holding their session; the cap applies."""
        ...

    async def remove(self, response_id: str) -> bool:
        """Forget a response for good (tombstoned, so nothing brings it back)."""
        ...

    async def ping(self) -> bool: ...

    async def persistence(self) -> str:
        """How the cache itself survives a restart (for operators' warnings)."""
        ...

    async def census(self) -> Census:
        """How much the cache holds, for the statistics endpoint (may sample)."""
        ...


class Database(Protocol):
    """The durable store (PostgreSQL or SQLite): every turn ends up here."""

    async def insert(self, entries: Sequence[Entry]) -> None:
        """Store entries in one transaction; ids already stored are left as they are."""
        ...

    async def chain(self, response_id: str, limit: int) -> list[Entry]:
        """`response_id` and up to `limit - 1` ancestors, oldest first, in one query."""
        ...

    async def delete(self, ids: Sequence[str]) -> int: ...

    @property
    def dialect(self) -> str: ...

    async def ping(self) -> bool: ...

    async def revision(self) -> str | None:
        """The schema's migration revision (None when it cannot be read)."""
        ...


class StreamLost(Exception):
    """The journal vanished (Redis restarted empty, or was flushed).

    The journal is already recreated when this is raised; what it held must now come
    from the instances' own pending copies.
    """


@dataclass(frozen=True, slots=True)
class Delivery:
    """A journal entry handed to this instance's writer; acknowledged once durable."""

    stream_id: bytes
    entry: Entry


class Journal(Protocol):
    """The shared log of records waiting for the database, read by every instance's
    durable writer as one consumer group. Errors surface as CacheUnavailable."""

    async def create_group(self) -> None: ...

    async def read(self, count: int) -> list[Delivery]:
        """New entries for this consumer (they stay pending for it until acked)."""
        ...

    async def claim(self, min_idle_ms: int, count: int) -> list[Delivery]:
        """Entries another consumer took and left idle that long (it probably died)."""
        ...

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge and delete, so the journal only ever holds unfinished work."""
        ...

    async def tombstoned(self, ids: Sequence[str]) -> set[str]:
        """The ids deleted while they were pending."""
        ...

    async def states(self, ids: Sequence[str]) -> list[str]:
        """Where each record stands in the cache: "pending", "durable" or "gone"."""
        ...

    async def forget_consumers(self, idle_ms: int) -> None:
        """Remove consumers (dead instances) idle that long with nothing pending."""
        ...
