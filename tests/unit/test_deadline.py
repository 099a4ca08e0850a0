"""deadline(): asyncio.timeout's behaviour with one shared watcher instead of a timer each."""

from __future__ import annotations

import asyncio
import time

import pytest

from tether import deadline as module
from tether.deadline import TICK, deadline


async def test_a_wait_past_its_deadline_raises_timeout_error_soon_after() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with deadline(0.05):
            await asyncio.sleep(5)
    elapsed = time.monotonic() - started
    assert 0.05 <= elapsed < 0.05 + TICK + 0.1


async def test_a_wait_within_its_deadline_is_left_alone_and_the_task_goes_on() -> None:
    async with deadline(0.05):
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.1)  # no stray cancellation arrives later
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_none_means_no_bound() -> None:
    async with deadline(None):
        await asyncio.sleep(0.05)


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    async def bounded() -> None:
        async with deadline(5):
            await asyncio.sleep(5)

    task = asyncio.create_task(bounded())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_inner_deadline_expiring_leaves_the_outer_one_running() -> None:
    async with deadline(1):
        with pytest.raises(TimeoutError):
            async with deadline(0.02):
                await asyncio.sleep(1)
        await asyncio.sleep(0.05)  # still inside the outer bound: no cancellation


async def test_many_waits_each_get_their_own_deadline() -> None:
    async def wait(seconds: float, bound: float) -> str:
        try:
            async with deadline(bound):
                await asyncio.sleep(seconds)
        except TimeoutError:
            return "timeout"
        return "done"

    results = await asyncio.gather(*(wait(0.01 if i % 2 else 1, 0.1) for i in range(50)))
    assert results == ["timeout" if i % 2 == 0 else "done" for i in range(50)]


async def test_the_watcher_stops_once_nothing_is_pending() -> None:
    async with deadline(1):
        await asyncio.sleep(0)
    await asyncio.sleep(TICK * 3)
    watcher = module._watchers[asyncio.get_running_loop()]
    assert not watcher._scheduled
