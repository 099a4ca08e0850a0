"""ConversationStore: the one façade the HTTP layer uses to load and record turns."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tether.core.ids import is_response_id, session_of
from tether.core.records import Turn, decode_turn
from tether.errors import PreviousResponseNotFound, StorageUnavailable
from tether.state.breaker import CacheBreaker
from tether.state.pending import PendingCopies
from tether.state.ports import Cache, Census, Database, Entry, Walk
from tether.state.writer import DurableWriter, WriterStats

log = logging.getLogger("tether.state")
# Longest chain one lookup returns; a guard, far beyond any real conversation.
MAX_CHAIN = 10_000
# A suspect lookup is made again after each pause (1.25 s in all): long enough for a
# heartbeat (every 0.5 s) to close the breaker, or for another instance's to notice
# that Redis lost its data and its writer to commit its local copies.
_GRACE_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.5)


@dataclass(slots=True)
class _Counters:
    hits: int = 0
    misses: int = 0
    refills: int = 0
    refilled_records: int = 0
    records_written: int = 0
    sync_writes: int = 0
    grace_retries: int = 0


@dataclass(frozen=True, slots=True)
class StoreStats:
    """The state layer's counters at one moment (`/metrics` and the statistics endpoint)."""

    hits: int  # chain lookups served without the database
    misses: int  # chain lookups that needed the database (found or not)
    hit_rate: float
    refills: int  # cache refills from database rows
    refilled_records: int
    records_written: int
    sync_writes: int  # records committed inside record(): embedded mode, or Redis down
    db_commits: int
    writer_batches: int
    writer_rows: int
    writer_failures: int
    writer_backlog: int  # records waiting for the database
    writer_held: int  # journal entries read, not yet committed
    reclaimed: int  # journal entries taken over from a dead instance
    direct_writes: int  # pending copies written without their journal entry
    stream_resets: int
    local_copy_drops: int  # pending records not copied: the bound was hit
    cache_errors: int
    cache_losses: int  # times Redis was found to have lost its data
    grace_retries: int  # database lookups repeated while Redis was down or had lost data
    degraded: bool


class ConversationStore:
    """Cache first, then this instance's local copies, then one database query.

    With a `writer` (Redis mode) record() journals the turn and returns; the writer
    makes it durable. Without one (embedded mode) record() commits it first.
    """

    def __init__(
        self,
        cache: Cache,
        database: Database,
        *,
        writer: DurableWriter | None = None,
        copies: PendingCopies | None = None,
        breaker: CacheBreaker | None = None,
    ) -> None:
        self._cache = cache
        self._database = database
        self._writer = writer
        self._copies = copies if copies is not None else PendingCopies()
        self._breaker = breaker if breaker is not None else CacheBreaker()
        self._stats = _Counters()

    async def load_chain(self, response_id: str, owner: str | None) -> list[Turn]:
        """Ancestors of response_id including itself, oldest first.

        Unknown, malformed, expired, deleted and foreign ids all raise the same
        PreviousResponseNotFound. `owner` None is the master key and sees everything.
        """
        if not is_response_id(response_id):
            raise PreviousResponseNotFound(response_id)
        chain = await self._resolve(response_id, MAX_CHAIN, refill=True)
        if not chain or not _visible(chain[-1], owner):
            raise PreviousResponseNotFound(response_id)
        return chain

    async def get(self, response_id: str, owner: str | None) -> Turn | None:
        if not is_response_id(response_id):
            return None
        found = await self._resolve(response_id, 1, refill=True)
        return found[-1] if found and _visible(found[-1], owner) else None

    async def record(self, turn: Turn) -> None:
        """Store a finished turn; every instance sharing the Redis (or database) sees it now."""
        if session_of(turn.id) != turn.session:
            raise ValueError(f"turn {turn.id} does not carry its session {turn.session}")
        entry = Entry.of(turn)
        if self._writer is None:
            await self._write_through(entry)  # embedded: durable before it is visible
            await self._breaker.call(lambda: self._cache.add_durable([entry]), None)
        else:
            self._copies.add(entry)
            if await self._breaker.call(lambda: self._journal(entry), False):
                self._writer.notify(len(entry.data))
            else:
                await self._write_through_degraded(entry)
        self._stats.records_written += 1

    async def delete(self, response_id: str, owner: str | None) -> bool:
        """Remove a response from the cache, the local copies and the database."""
        if not is_response_id(response_id):
            return False
        found = await self._resolve(response_id, 1, refill=False)
        if not found or not _visible(found[-1], owner):
            return False
        self._copies.forget(response_id)
        # The cache tombstones the id first, so a pending write cannot revive it.
        await self._breaker.call(lambda: self._cache.remove(response_id), False)
        await self._database.delete([response_id])
        return True

    async def flush(self) -> None:
        """Make everything pending durable now (tests, admin); a no-op in embedded mode."""
        if self._writer is not None:
            await self._writer.flush()

    async def readiness(self) -> dict[str, dict[str, str | float | int | bool | None]]:
        """Live checks for /health/readiness: each part's status and round-trip time."""
        cache_ok, cache_ms = await _timed(self._cache.ping)
        database_ok, database_ms = await _timed(self._database.ping)
        writer = self._writer
        return {
            "cache": {
                "backend": self._cache.backend,
                "status": "ok" if cache_ok else "unavailable",
                "latency_ms": cache_ms,
                "degraded": self._breaker.degraded,
                "persistence": await self._cache.persistence() if cache_ok else "unknown",
            },
            "database": {
                "dialect": self._database.dialect,
                "status": "ok" if database_ok else "unavailable",
                "latency_ms": database_ms,
                "migration": await self._database.revision() if database_ok else None,
            },
            "writer": {
                "mode": "batched" if writer else "synchronous",
                "running": writer.running if writer else True,
                "pending": len(self._copies) if writer else 0,
                "oldest_pending_seconds": self._copies.oldest_age() if writer else None,
                "held": writer.held if writer else 0,
            },
        }

    async def census(self) -> Census | None:
        """What the cache holds now; None while it cannot be asked."""
        return await self._breaker.call(self._cache.census, None)

    def stats(self) -> StoreStats:
        s, w = self._stats, self._writer.stats if self._writer else WriterStats()
        lookups = s.hits + s.misses
        return StoreStats(
            hits=s.hits,
            misses=s.misses,
            hit_rate=s.hits / lookups if lookups else 0.0,
            refills=s.refills,
            refilled_records=s.refilled_records,
            records_written=s.records_written,
            sync_writes=s.sync_writes,
            db_commits=s.sync_writes + w.batches,
            writer_batches=w.batches,
            writer_rows=w.rows,
            writer_failures=w.failures,
            writer_backlog=len(self._copies) if self._writer else 0,
            writer_held=self._writer.held if self._writer else 0,
            reclaimed=w.reclaimed,
            direct_writes=w.direct_writes,
            stream_resets=w.stream_resets,
            local_copy_drops=self._copies.dropped,
            cache_errors=self._breaker.errors,
            cache_losses=self._breaker.losses,
            grace_retries=s.grace_retries,
            degraded=self._breaker.degraded,
        )

    async def _resolve(self, response_id: str, limit: int, *, refill: bool) -> list[Turn]:
        """Up to `limit` turns ending at response_id, oldest first; [] when it is unknown.

        While the breaker is suspect (Redis down, or it just lost its data) a chain that
        comes out short may only be waiting: for another instance to write its local
        copies out, or for the breaker to close so Redis can serve what it holds. It
        is looked up again a few times, for about a second in all, before believed.
        """
        found = await self._lookup(response_id, limit, refill=refill)
        for pause in _GRACE_PAUSES:
            if _complete(found, limit) or not self._breaker.suspect:
                break
            self._stats.grace_retries += 1
            await asyncio.sleep(pause)
            found = await self._lookup(response_id, limit, refill=refill)
        return found

    async def _lookup(self, response_id: str, limit: int, *, refill: bool) -> list[Turn]:
        """One look: the cache, then this instance's local copies (what Redis lost, or
        cannot serve, before it was durable), then the database, then copies again:
        while Redis is down a turn written through can sit in the database above
        ancestors that only a local copy holds yet.
        """
        walk = await self._breaker.call(
            lambda: self._cache.walk(response_id, limit), Walk([], response_id, 0)
        )
        if walk.lost:
            self._breaker.lost()
        found = [decode_turn(record) for record in walk.records]  # newest first
        stop = self._from_copies(found, walk.stop, limit)
        if stop is None or len(found) >= limit:
            self._stats.hits += 1
            return found[::-1]
        self._stats.misses += 1
        rows = await self._database.chain(stop, limit - len(found))
        # Only the newest rows that fit: older ones would be trimmed on arrival.
        fitting = rows[-walk.room :] if walk.room else []
        if fitting and refill:
            self._stats.refills += 1
            self._stats.refilled_records += len(fitting)
            await self._breaker.call(lambda: self._cache.add_durable(fitting), None)
        while rows:
            found += [row.turn() for row in reversed(rows)]
            gap = rows[0].parent_id  # None at the root; otherwise deleted, or not durable yet
            stop = self._from_copies(found, gap, limit)
            if stop is None or stop == gap or len(found) >= limit:
                break
            rows = await self._database.chain(stop, limit - len(found))
        return found[::-1]

    def _from_copies(self, found: list[Turn], stop: str | None, limit: int) -> str | None:
        """Extend `found` (newest first) with local copies from `stop` upward; returns the new stop."""
        while stop is not None and len(found) < limit:
            copy = self._copies.get(stop)
            if copy is None:
                break
            found.append(copy.turn())
            stop = copy.parent_id
        return stop

    async def _journal(self, entry: Entry) -> bool:
        if await self._cache.add_pending(entry):
            self._breaker.lost()
        return True

    async def _write_through(self, entry: Entry) -> None:
        await self._database.insert([entry])
        self._stats.sync_writes += 1

    async def _write_through_degraded(self, entry: Entry) -> None:
        # Redis is down: commit now so other instances can read it (read-your-writes),
        # with its ancestors still only in local copies, so the database never holds
        # a turn whose history it lacks.
        entries = [*self._copies.lineage(entry.parent_id), entry]
        try:
            await self._database.insert(entries)
        except StorageUnavailable as exc:
            # Both stores down: the local copy keeps it and the writer retries it.
            log.error("record %s kept in memory only: %s", entry.id, exc)
        else:
            self._stats.sync_writes += 1
            self._copies.discard(pending.id for pending in entries)


async def _timed(check: Callable[[], Awaitable[bool]]) -> tuple[bool, float]:
    started = time.perf_counter()
    ok = await check()
    return ok, round((time.perf_counter() - started) * 1000, 3)


def _complete(chain: list[Turn], limit: int) -> bool:
    """Reaches its root or the limit; a gap is a deleted ancestor, or one not durable yet."""
    return bool(chain) and (len(chain) >= limit or chain[0].parent_id is None)


def _visible(turn: Turn, owner: str | None) -> bool:
    return owner is None or turn.owner == owner
