"""Private redis-server and PostgreSQL processes that a test may kill, hang or restart.

Each listens on a free loopback port and keeps its files in a temporary directory;
`close()` always stops the process and removes the files.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

PG_BIN = Path(os.environ.get("TETHER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_BINARY = os.environ.get("TETHER_TEST_REDIS_SERVER", "redis-server")
_PG_USER = "postgres"  # PostgreSQL refuses to run as root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: object, timeout: float, what: str, step: float = 0.05) -> None:
    """Poll `check()` until it is true; fail after `timeout` seconds (every loop is bounded)."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(step)


class RedisProcess:
    """A redis-server without persistence: a restart brings it back empty."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        binary = shutil.which(REDIS_BINARY)
        if binary is None:
            raise RuntimeError(f"{REDIS_BINARY} not found (set TETHER_TEST_REDIS_SERVER)")
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.workdir)]
        self._process = subprocess.Popen(
            [binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(self.ping, 10, f"redis-server on port {self.port}")
        return self

    def ping(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def kill(self) -> None:
        """SIGKILL: gone at once, nothing saved."""
        self._signal(signal.SIGKILL)
        self._reap()

    def pause(self) -> None:
        """SIGSTOP: connections stay open, nothing answers (a hung Redis)."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def restart_empty(self) -> None:
        self.kill()
        self.start()

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)
            self._process.kill()
        self._reap()

    def _signal(self, sig: signal.Signals) -> None:
        assert self._process is not None, "redis-server is not running"
        self._process.send_signal(sig)

    def _reap(self) -> None:
        if self._process is not None:
            self._process.wait(10)
            self._process = None


class PostgresCluster:
    """A throw-away PostgreSQL cluster (trust auth, fsync off) that tests stop and start."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tether-pg-"))
        self.data = self.root / "data"
        self._process: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            shutil.chown(self.root, _PG_USER)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> PostgresCluster:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(f"no initdb in {PG_BIN}: set TETHER_TEST_PG_BIN to PostgreSQL's bin")
        command = [str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust"]
        command += ["-U", "postgres", "--no-sync", "-E", "UTF8"]
        self._run(command)
        return self

    def start(self) -> PostgresCluster:
        log = (self.root / "postgres.log").open("ab")
        command = [str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        command += ["-k", str(self.root), "-c", "listen_addresses=127.0.0.1"]
        command += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        with log:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, user=_owner(), group=_owner()
            )
        wait_until(self.accepting, 15, f"PostgreSQL on port {self.port}")
        return self

    def stop(self) -> None:
        """Fast shutdown: open sessions are cut, new connections refused."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._process = None

    def accepting(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                pass
        except OSError:
            return False
        done = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
            check=False,
        )
        return done.returncode == 0

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, command: list[str]) -> None:
        subprocess.run(command, check=True, capture_output=True, user=_owner(), group=_owner())


def _owner() -> str | None:
    """Who runs PostgreSQL: `postgres` when the tests run as root, else the caller."""
    return _PG_USER if os.geteuid() == 0 else None


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (Linux /proc), children before grandchildren."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = [child for parent in frontier for child in parents.get(parent, [])]
        found += children
        frontier = children
    return found
