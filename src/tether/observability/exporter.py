"""Mirrors the store's counters into Prometheus on a fixed period, for every worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from tether.observability.metrics import Metrics
from tether.state.store import StoreStats

log = logging.getLogger("tether.metrics")
Stats = Callable[[], StoreStats]


async def _mirror_forever(metrics: Metrics, stats: Stats, interval: float) -> None:
    while True:
        metrics.mirror(stats())
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def mirrored_stats(
    metrics: Metrics, stats: Stats, interval: float = 1.0
) -> AsyncIterator[None]:
    task = asyncio.create_task(_mirror_forever(metrics, stats, interval), name="metrics-mirror")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if not task.cancelled() and task.exception() is not None:
            log.error("metrics mirror stopped", exc_info=task.exception())
        metrics.mirror(stats())  # the last figures, before the process goes
