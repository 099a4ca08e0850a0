"""The Cache port: the fast, bounded copy of recent turns that every read tries first.

Contract (tests/integration/test_cache_contract.py runs it on every implementation):
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

from tether.errors import StorageUnavailable
from tether.state.entry import Entry

# What a heartbeat finds: answering; answering but its data was lost; not answering.
Health = Literal["ok", "lost", "down"]


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
        """Store a record that is not durable yet (and, for Redis, journal it atomically).

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
