"""DurableWriter: the owned background task that moves pending records into the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from tether.errors import StorageUnavailable
from tether.state.cache import CacheUnavailable
from tether.state.flusher import Flusher, WriterStats, WriterTiming
from tether.state.journal import RedisJournal, StreamLost
from tether.state.local import LocalCopies

log = logging.getLogger("tether.state")

__all__ = ["DurableWriter", "WriterStats", "WriterTiming"]


class DurableWriter:
    """Flushes every `interval`, or at once when a batch is full, a flush is asked
    for, or the cache fails; backs off while the database fails. Started by the
    factory; `close()` drains what is pending and awaits the task.
    """

    def __init__(
        self, journal: RedisJournal, flusher: Flusher, copies: LocalCopies, timing: WriterTiming
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
