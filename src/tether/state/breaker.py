"""CacheBreaker: the written-down policy for a failing cache (Redis), as a circuit breaker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tether.state.ports import CacheUnavailable, Health

log = logging.getLogger("tether.state")
T = TypeVar("T")


async def _always_ok() -> Health:
    return "ok"


class CacheBreaker:
    """A cache failure never fails a request: the call yields its fallback instead.

    Closed, every call goes to the cache. The first failure opens the breaker: it is
    counted, logged once, `on_failure` runs, and from then on calls return their
    fallback at once, so a dead or hung Redis costs requests nothing.

    An owned background task runs `heartbeat` every `interval` seconds: a heartbeat
    that finds Redis down opens the breaker too (even with no traffic); the first
    that finds it answering closes it. A heartbeat (or a cache call) that finds Redis
    lost its data (`lost()`) runs `on_loss`. For `suspect_seconds` after a loss, and
    while open, the breaker is `suspect`: a record may be missing from Redis and on its
    way to the database from another instance's memory.
    """

    def __init__(
        self,
        heartbeat: Callable[[], Awaitable[Health]] = _always_ok,
        *,
        interval: float = 0.5,
        suspect_seconds: float = 5.0,
        on_failure: Callable[[], None] | None = None,
        on_loss: Callable[[], None] | None = None,
    ) -> None:
        self._heartbeat = heartbeat
        self._interval = interval
        self._suspect_seconds = suspect_seconds
        self._on_failure = on_failure
        self._on_loss = on_loss
        self._lost_at = -suspect_seconds
        self._watcher: asyncio.Task[None] | None = None
        self.degraded = False
        self.errors = 0
        self.losses = 0

    @property
    def suspect(self) -> bool:
        return self.degraded or time.monotonic() - self._lost_at < self._suspect_seconds

    def start(self) -> None:
        """Start the heartbeat (needs a running event loop)."""
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name="tether.state.heartbeat")

    async def aclose(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    async def call(self, operation: Callable[[], Awaitable[T]], fallback: T) -> T:
        if self.degraded:
            return fallback
        try:
            return await operation()
        except CacheUnavailable as exc:
            self.errors += 1
            self._open(str(exc))
            return fallback

    def lost(self) -> None:
        """Redis answered without this instance's marker: it restarted empty or was flushed."""
        self.losses += 1
        self._lost_at = time.monotonic()
        log.error("redis lost its data (restarted empty or flushed); writing local copies now")
        if self._on_loss is not None:
            self._on_loss()

    def _open(self, reason: str) -> None:
        if self.degraded:
            return  # a call that started before the breaker opened
        self.degraded = True
        log.error("%s; degraded: reading and writing through the database", reason)
        if self._on_failure is not None:
            self._on_failure()
        self.start()  # whoever opens the breaker, the heartbeat must be there to close it

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            health = await self._heartbeat()
            if health == "down":
                self._open("redis heartbeat failed")
                continue
            if health == "lost":
                self.lost()
            if self.degraded:
                self.degraded = False
                log.warning("cache is back; leaving degraded mode")
