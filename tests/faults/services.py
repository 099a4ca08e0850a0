"""A private PostgreSQL that a test may stop and start (its redis-server is
tests.support.redis_server.RedisServer), and the processes below a tether.

The cluster listens on a free loopback port and keeps its files in a temporary
directory; `close()` always stops it and removes the files.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.support.ports import free_port
from tests.support.services import PG_BIN
from tests.support.waits import wait_until

_PG_USER = "postgres"  # PostgreSQL refuses to run as root


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
