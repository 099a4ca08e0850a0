"""The durable writer: the owned background task that moves pending records into the
database in batches (`DurableWriter`), and the steps of one batch (`Flusher`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tether.errors import StorageUnavailable
from tether.state.pending import PendingCopies
from tether.state.ports import (
    Cache,
    CacheUnavailable,
    Database,
    Delivery,
    Entry,
    Journal,
    StreamLost,
)

log = logging.getLogger("tether.state")

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
        journal: Journal,
        cache: Cache,
        database: Database,
        copies: PendingCopies,
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


class DurableWriter:
    """Flushes every `interval`, or at once when a batch is full, a flush is asked
    for, or the cache fails; backs off while the database fails. Started by the
    factory; `close()` drains what is pending and awaits the task.
    """

    def __init__(
        self, journal: Journal, flusher: Flusher, copies: PendingCopies, timing: WriterTiming
    ) -> None:
        self._journal = journal
        self._flusher = flusher
        self._copies = copies
        self._timing = timing
        self._wake = asyncio.Event()
        self._fresh = 0
        self._fresh_bytes = 0
        self._failing = False
        self._copies_first = False
        self._stopping = False
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def stats(self) -> WriterStats:
        return self._flusher.stats

    @property
    def held(self) -> int:
        return len(self._flusher.held)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Create the group, run a first cycle now, then cycle in the background.

        The first cycle runs before the store serves anything: what a dead instance
        left in the stream (entries idle past claim_idle, or never read) goes to the
        database at once rather than an interval later.
        """
        with contextlib.suppress(StorageUnavailable):  # Redis down: a cycle creates it later
            await self._journal.create_group()
        failures = await self._attempt(0)
        self._task = asyncio.create_task(self._run(failures), name="tether.state.writer")

    def notify(self, size: int) -> None:
        """A record of `size` bytes was journaled; a full batch (by rows or by bytes)
        wakes the writer, unless it is backing off."""
        self._fresh += 1
        self._fresh_bytes += size
        full = self._fresh >= self._timing.batch_size
        if (full or self._fresh_bytes >= self._timing.batch_bytes) and not self._failing:
            self._wake.set()

    def cache_failed(self) -> None:
        """Redis is down or lost its data: local copies go to the database now, first thing."""
        self._copies_first = True
        self._wake.set()

    async def flush(self) -> None:
        """Run a cycle now and wait for it; raises StorageUnavailable if it failed."""
        if self._task is None or self._task.done():
            raise RuntimeError("the durable writer is not running")
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake.set()
        await waiter

    async def close(self) -> None:
        """Stop, drain what is pending into the database, and wait for the task."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        await self._task

    async def _run(self, failures: int) -> None:
        while not self._stopping:
            await self._pause(self._timing.interval if not failures else _backoff(failures))
            if not self._stopping:
                failures = await self._attempt(failures)
        await self._drain()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    async def _attempt(self, failures: int) -> int:
        waiters, self._waiters = self._waiters, []
        self._fresh = self._fresh_bytes = 0
        error: BaseException | None = None
        try:
            await self._cycle(until_empty=False)
        except StorageUnavailable as exc:
            error = exc
            if not failures:
                log.error(
                    "durable writer: %s; %d stream entries and %d local copies kept, retrying",
                    exc,
                    self.held,
                    len(self._copies),
                )
        except Exception as exc:
            # A bug must not stop durability for good: log it with its traceback, retry.
            error = exc
            log.exception("durable writer cycle failed unexpectedly; retrying")
        for waiter in waiters:
            _settle(waiter, error)
        self._failing = error is not None
        if error is None:
            if failures:
                log.warning("durable writer recovered after %d failed attempts", failures)
            return 0
        self.stats.failures += 1
        return failures + 1

    async def _cycle(self, *, until_empty: bool) -> None:
        if self._copies_first:  # before any Redis call, which may take a timeout to fail
            await self._flusher.write_copies(self._copies.older_than(0))
            self._copies_first = False
        try:
            await self._flusher.consume(until_empty=until_empty)
            await self._flusher.reclaim()
        except StreamLost:
            self.stats.stream_resets += 1
            log.warning("the pending-writes stream was lost; writing local copies directly")
            await self._flusher.write_copies(self._copies.older_than(0))
        except CacheUnavailable:
            # Redis is down: what this instance holds goes to the database at once.
            await self._flusher.write_copies(self._copies.older_than(0))
            raise
        await self._flusher.reconcile()

    async def _drain(self) -> None:
        deadline = time.monotonic() + self._timing.drain_timeout
        failures = 0
        while True:
            try:
                await self._cycle(until_empty=True)
                # Whoever holds their stream entries, this instance's records are in now.
                await self._flusher.write_copies(self._copies.older_than(0))
                break
            except StorageUnavailable as exc:
                failures += 1
                # Redis down with every local copy written: nothing left this instance can do.
                hopeless = isinstance(exc, CacheUnavailable) and not self._copies
                if hopeless or time.monotonic() + _backoff(failures) > deadline:
                    self._give_up(exc)
                    break
                await asyncio.sleep(_backoff(failures))
        for waiter in self._waiters:
            _settle(waiter, None)

    def _give_up(self, exc: StorageUnavailable) -> None:
        if self._copies:  # this process's memory is all that holds them if Redis lost them
            log.error(
                "durable writer stopped with %d records not durable (%s); their stream "
                "entries stay in Redis for another instance",
                len(self._copies),
                exc,
            )
        elif self.held:
            log.warning(
                "durable writer stopped: %d stream entries left to another instance", self.held
            )


def _backoff(failures: int) -> float:
    # Capped low: a recovered database should see its backlog within seconds, and one
    # failing attempt every few seconds costs a dead one nothing.
    return float(min(5.0, 0.5 * 2 ** (failures - 1)))


def _settle(waiter: asyncio.Future[None], error: BaseException | None) -> None:
    if waiter.done():
        return
    if error is None:
        waiter.set_result(None)
    else:
        waiter.set_exception(error)
