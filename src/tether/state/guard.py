"""CacheGuard: the written-down policy for a failing cache (Redis)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tether.state.cache import CacheUnavailable

log = logging.getLogger("tether.state")
T = TypeVar("T")


class CacheGuard:
    """A cache failure never fails a request: the call yields its fallback instead.

    The failure is counted and logged once per outage (when `on_failure` runs too),
    and the cache is skipped for `cooldown` seconds, so a dead Redis costs one
    timeout rather than one per request.
    """

    def __init__(self, cooldown: float = 1.0, on_failure: Callable[[], None] | None = None) -> None:
        self._cooldown = cooldown
        self._on_failure = on_failure
        self._skip_until = 0.0
        self.degraded = False
        self.errors = 0

    async def call(self, operation: Callable[[], Awaitable[T]], fallback: T) -> T:
        if self.degraded and time.monotonic() < self._skip_until:
            return fallback
        try:
            result = await operation()
        except CacheUnavailable as exc:
            self._failed(exc)
            return fallback
        if self.degraded:
            self.degraded = False
            log.warning("cache is back; leaving degraded mode")
        return result

    def _failed(self, exc: CacheUnavailable) -> None:
        self.errors += 1
        self._skip_until = time.monotonic() + self._cooldown
        if not self.degraded:
            self.degraded = True
            log.error("%s; degraded: reading and writing through the database", exc)
            if self._on_failure is not None:
                self._on_failure()
