"""Bounded waits: every loop in the tests ends, with a message saying what never came."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


def wait_until(check: Callable[[], object], timeout: float, what: str, step: float = 0.05) -> None:
    """Poll `check()` until it is true; TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(step)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Await `check()` until it is true; AssertionError after `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.05)
