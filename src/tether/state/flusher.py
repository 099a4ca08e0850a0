"""Flusher: the steps that make pending records durable, one batch at a time."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tether.state.cache import Cache, CacheUnavailable
from tether.state.database import Database
from tether.state.entry import Entry
from tether.state.journal import Delivery, RedisJournal
from tether.state.local import LocalCopies

# Consumers gone this long with nothing pending are removed from the group.
_CONSUMER_RETENTION_MS = 3600 * 1000
_STATE_CHUNK = 500


# The writer also starts once this many bytes of records wait: pending records are held
# in memory too (local copies), and 500 turns of 200 KB are 100 MB.
BATCH_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class WriterTiming:
    interval: float  # flush at least this often
    batch_size: int  # ... or as soon as this many records wait; also rows per commit
    claim_idle: float  # entries idle this long in another consumer are taken over
    drain_timeout: float  # how long shutdown keeps retrying a failing database
    batch_bytes: int = BATCH_BYTES  # ... or as soon as this many bytes of records wait

    @property
    def orphan_after(self) -> float:
        """A local copy this old whose record is still pending lost its stream entry."""
        return self.claim_idle + 2 * self.interval


@dataclass(slots=True)
class WriterStats:
    batches: int = 0  # database commits made by the writer
    rows: int = 0
    reclaimed: int = 0  # entries taken over from idle consumers
    direct_writes: int = 0  # local copies written without their stream entry
    failures: int = 0
    stream_resets: int = 0


class Flusher:
    """Per batch: insert (one transaction, idempotent) → undo rows deleted meanwhile →
    settle the cached records (TTL, trim) → XACK + XDEL. A failure anywhere keeps the
    batch in `held` for the next attempt; nothing is acknowledged early.
    """

    def __init__(
        self,
        journal: RedisJournal,
        cache: Cache,
        database: Database,
        copies: LocalCopies,
        timing: WriterTiming,
    ) -> None:
        self._journal = journal
        self._cache = cache
        self._database = database
        self._copies = copies
        self._timing = timing
        self.stats = WriterStats()
        self.held: list[Delivery] = []  # read from the stream, not yet committed
        self._next_cleanup = time.monotonic()

    async def consume(self, *, until_empty: bool) -> None:
        """Commit new entries batch by batch while full batches keep coming."""
        batch = self._timing.batch_size
        while True:
            if not self.held:
                self.held = await self._journal.read(batch)
            if not self.held:
                return
            full = len(self.held) >= batch
            await self._commit()
            if not (full or until_empty):
                return

    async def reclaim(self) -> None:
        """Take over entries a dead consumer left idle, then forget long-gone consumers."""
        idle_ms = int(self._timing.claim_idle * 1000)
        while not self.held:
            self.held = await self._journal.claim(idle_ms, self._timing.batch_size)
            if not self.held:
                break
            self.stats.reclaimed += len(self.held)
            await self._commit()
        if time.monotonic() >= self._next_cleanup:
            self._next_cleanup = time.monotonic() + 600
            await self._journal.forget_consumers(_CONSUMER_RETENTION_MS)

    async def write_copies(self, entries: Sequence[Entry]) -> None:
        """Write local copies straight to the database (their stream entry may be lost)."""
        for start in range(0, len(entries), self._timing.batch_size):
            chunk = entries[start : start + self._timing.batch_size]
            await self._database.insert(chunk)
            self.stats.batches += 1
            self.stats.direct_writes += len(chunk)
            kept = await self._undo_deleted(chunk)
            self._copies.discard(entry.id for entry in chunk)
            with contextlib.suppress(CacheUnavailable):  # their stream entries settle them
                await self._cache.mark_durable(kept)

    async def reconcile(self) -> None:
        """Settle local copies some writer should have handled by now.

        Any instance's writer may commit this instance's records; their copies go
        once Redis shows them settled. A record gone from Redis before it was
        durable (Redis restarted empty) or pending so long that its stream entry
        must be lost is written from the copy.
        """
        stale = self._copies.older_than(self._timing.interval)
        orphans = {entry.id for entry in self._copies.older_than(self._timing.orphan_after)}
        for start in range(0, len(stale), _STATE_CHUNK):
            chunk = stale[start : start + _STATE_CHUNK]
            states = await self._journal.states([entry.id for entry in chunk])
            settled = [e.id for e, state in zip(chunk, states, strict=True) if state == "durable"]
            self._copies.discard(settled)
            await self.write_copies(
                [
                    entry
                    for entry, state in zip(chunk, states, strict=True)
                    if state == "gone" or (state == "pending" and entry.id in orphans)
                ]
            )

    async def _commit(self) -> None:
        entries = list({d.entry.id: d.entry for d in self.held}.values())
        await self._database.insert(entries)
        self.stats.batches += 1
        self.stats.rows += len(entries)
        kept = await self._undo_deleted(entries)
        await self._cache.mark_durable(kept)
        await self._journal.ack(self.held)
        self._copies.discard(entry.id for entry in entries)
        self.held = []

    async def _undo_deleted(self, entries: Sequence[Entry]) -> list[Entry]:
        """Delete rows whose response was deleted while they were pending.

        Checked after the insert: a delete either tombstoned the id before this
        check, or deletes the row itself after the insert committed.
        """
        ids = [entry.id for entry in entries]
        gone = self._copies.deleted(ids)
        with contextlib.suppress(CacheUnavailable):  # local memory still covers this instance
            gone |= await self._journal.tombstoned(ids)
        if gone:
            await self._database.delete(sorted(gone))
        return [entry for entry in entries if entry.id not in gone]
