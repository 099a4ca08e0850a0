"""The one way tests run a redis-server of their own, for what the shared Redis must not
suffer: killing, hanging or restarting it, flushing its scripts, reconfiguring it.

It listens on a free loopback port (or the one given), keeps its files and its log
(`redis-PORT.log`) in a directory the test owns, and persists nothing, so a restart
brings it back empty, as Redis often comes back. Each suite adds what it needs as
options: `args` (a Cluster node's or a replica's flags), `config` (a file to start
from: Sentinel rewrites its own), `password` (what the readiness probe and `client()`
authenticate with). Every wait is bounded; `close()` always ends the process.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import redis

from .ports import free_port
from .services import REDIS_SERVER
from .waits import wait_until


class RedisServer:
    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        args: Sequence[str] = (),
        config: Path | None = None,
        password: str | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = free_port() if port is None else port
        self.args = tuple(args)
        self.config = config
        self.password = password
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"redis-{self.port}.log"

    def start(self, timeout: float = 10) -> RedisServer:
        """Start it and wait until it answers PING."""
        self.spawn()
        self.wait_ready(timeout)
        return self

    def spawn(self) -> None:
        """Start it without waiting (several processes then come up side by side)."""
        binary = shutil.which(REDIS_SERVER)
        if binary is None:
            raise RuntimeError(
                f"{REDIS_SERVER} not found: these tests run Redis processes of their own; "
                "install redis-server or set TETHER_TEST_REDIS_SERVER to its path"
            )
        command = [binary, *([str(self.config)] if self.config else [])]
        command += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        command += ["--save", "", "--appendonly", "no", "--dbfilename", f"dump-{self.port}.rdb"]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [*command, *self.args], stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, timeout: float = 10) -> None:
        wait_until(self._answers_or_died, timeout, f"redis-server on port {self.port}")
        if not self.running:
            raise RuntimeError(f"redis-server on port {self.port} exited:\n{self.log()}")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def ping(self) -> bool:
        client = self.client(socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def client(
        self, socket_timeout: float = 5.0, socket_connect_timeout: float = 2.0
    ) -> redis.Redis:
        """A synchronous client, for what a test checks or breaks behind tether's back."""
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_connect_timeout,
        )

    def info(self, section: str) -> dict[str, object]:
        """INFO `section`; empty while the server does not answer."""
        try:
            with self.client(socket_timeout=2.0) as client:
                info: dict[str, object] = client.info(section)
                return info
        except (redis.RedisError, OSError):
            return {}

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a hung Redis)."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: gone at once, nothing saved."""
        self._signal(signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        """SIGTERM (a paused one is woken first); SIGKILL if it does not exit."""
        if self.running:
            assert self._process is not None
            self._process.send_signal(signal.SIGCONT)
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._reap()

    def restart_empty(self) -> None:
        """Killed and started again on the same port, holding nothing."""
        self.kill()
        self.start()

    def close(self) -> None:
        """Ends it whatever state it is in (running, paused, already gone)."""
        if self.running:
            assert self._process is not None
            self._process.send_signal(signal.SIGCONT)
            self._process.kill()
        self._reap()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _answers_or_died(self) -> bool:
        return self.ping() or not self.running

    def _signal(self, sig: signal.Signals) -> None:
        assert self._process is not None, f"redis-server on port {self.port} is not running"
        self._process.send_signal(sig)

    def _reap(self) -> None:
        if self._process is not None:
            self._process.wait(10)
            self._process = None
