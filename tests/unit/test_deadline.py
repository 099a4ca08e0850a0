"""deadline(): asyncio.timeout's behaviour with one shared watcher instead of a timer each."""

from __future__ import annotations

import asyncio

import pytest

from tether import deadline as module
from tether.deadline import TICK, deadline


async def test_a_wait_past_its_deadline_raises_timeout_error_never_early() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError, match=r"^took longer than 0\.05 s$"):
        async with deadline(0.05):
            await asyncio.Event().wait()  # never set: only the deadline ends it
    ended = loop.time()
    # Never early: deadline() reads this same clock, so this holds however loaded the
    # machine. And the wait, which would never end, ended: the generous upper bound
    # only says "soon", since a stalled loop fires every timer late.
    assert ended >= started + 0.05
    assert ended - started < 2


async def test_a_wait_within_its_deadline_is_left_alone_and_the_task_goes_on() -> None:
    async with deadline(0.05):
        await asyncio.sleep(0)  # done at once, before the watcher's first look
    await asyncio.sleep(0.1)  # past the bound: no stray cancellation arrives later
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_none_means_no_bound() -> None:
    # The same block that a zero bound cuts short at the first look runs to the end.
    async def block() -> str:
        await asyncio.sleep(TICK * 3)  # past the watcher's first look, and more
        return "finished"

    with pytest.raises(TimeoutError):
        async with deadline(0):
            await block()
    async with deadline(None):
        assert await block() == "finished"
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


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
    # Half the waits end as soon as they start, half never would: no timing involved.
    ready, never = asyncio.Event(), asyncio.Event()
    ready.set()

    async def wait(event: asyncio.Event) -> str:
        try:
            async with deadline(0.1):
                await event.wait()
        except TimeoutError:
            return "timeout"
        return "done"

    results = await asyncio.gather(*(wait(ready if i % 2 else never) for i in range(50)))
    assert results == ["timeout" if i % 2 == 0 else "done" for i in range(50)]


async def test_the_watcher_stops_once_nothing_is_pending() -> None:
    async with deadline(1):
        await asyncio.sleep(0)
    await asyncio.sleep(TICK * 3)
    watcher = module._watchers[asyncio.get_running_loop()]
    assert not watcher._scheduled
