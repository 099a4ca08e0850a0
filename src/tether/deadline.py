"""Deadlines for the hot path: asyncio.timeout's behaviour, without a timer apiece.

Kept because `bench/ab.py` shows it pays, with the id entropy buffer (docs/architecture.md).
The waits in progress sit in a set, and one watcher, scheduled only while some are
pending, looks at them every TICK seconds: a wait is cancelled between its deadline and
TICK later.

    async with deadline(0.25):
        await something()          # TimeoutError once 0.25 s (+ at most TICK) have passed
"""

from __future__ import annotations

import asyncio
import weakref
from types import TracebackType

TICK = 0.01  # how late a deadline may fire; every bound here is 25 times longer or more


class _Watch:
    __slots__ = ("cancelling", "expired", "expires", "task")

    def __init__(self, task: asyncio.Task[object], expires: float) -> None:
        self.task = task
        self.expires = expires
        self.cancelling = task.cancelling()
        self.expired = False


class _Watcher:
    """One per event loop: the waits in progress, looked at every TICK while any are."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._watches: set[_Watch] = set()
        self._scheduled = False

    def add(self, watch: _Watch) -> None:
        self._watches.add(watch)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_later(TICK, self._tick)

    def remove(self, watch: _Watch) -> None:
        self._watches.discard(watch)

    def _tick(self) -> None:
        now = self._loop.time()
        for watch in list(self._watches):
            if watch.expires <= now:
                self._watches.discard(watch)
                watch.expired = True
                watch.task.cancel()
        self._scheduled = bool(self._watches)
        if self._scheduled:
            self._loop.call_later(TICK, self._tick)


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watcher] = (
    weakref.WeakKeyDictionary()
)


class deadline:  # noqa: N801  (used like asyncio.timeout)
    """`async with deadline(seconds)`: TimeoutError if the block outlasts it (None: no bound)."""

    __slots__ = ("_seconds", "_watch", "_watcher")

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._watch: _Watch | None = None

    async def __aenter__(self) -> None:
        if self._seconds is None:
            return
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("deadline() must be used inside a task")
        watcher = _watchers.get(loop)
        if watcher is None:
            watcher = _watchers[loop] = _Watcher(loop)
        self._watcher = watcher
        self._watch = _Watch(task, loop.time() + self._seconds)
        watcher.add(self._watch)

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        watch = self._watch
        if watch is None:
            return
        self._watch = None
        if not watch.expired:
            self._watcher.remove(watch)
            return
        # Ours was the cancellation (as asyncio.timeout decides): a timeout, unless the
        # task was also cancelled from outside, which then goes on.
        if watch.task.uncancel() <= watch.cancelling and kind is asyncio.CancelledError:
            raise TimeoutError(f"took longer than {self._seconds:g} s") from exc
