"""A private, throw-away redis-server, for what a shared Redis must not suffer:
restarting it empty, flushing its script cache.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import time
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

BINARY = os.environ.get("TETHER_TEST_REDIS_SERVER", "redis-server")


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which(BINARY)
        if binary is None:
            raise RuntimeError(
                f"{BINARY} not found: these tests restart a private Redis; install "
                "redis-server or set TETHER_TEST_REDIS_SERVER to its path"
            )
        self._process = await asyncio.create_subprocess_exec(
            binary,
            *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "no", "--dir", str(self._workdir)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await self._wait_ready()

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGCONT)  # a paused one too
            self._process.terminate()
            await self._process.wait()
        self._process = None

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a hung Redis)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    async def restart_empty(self) -> None:
        """No persistence configured: it comes back with nothing, as Redis often does."""
        await self.stop()
        await self.start()

    async def _wait_ready(self) -> None:
        client = Redis.from_url(self.url)
        deadline = time.monotonic() + 5
        try:
            while True:
                try:
                    await client.ping()
                    return
                except (RedisError, OSError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.02)
        finally:
            await client.aclose()
