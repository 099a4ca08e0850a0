"""The processes a bench run starts (fake upstream, tether, load driver), each stopped at the end.

Every child is started in its own session and asked to die with the bench (PDEATHSIG),
so neither an exception nor a killed bench leaves one behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import yaml

from harness.jobs import Job, Result
from harness.procstat import children, command_line

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
# Variables tether would read in place of its config file; the bench config says it all.
_TETHER_ENV = ("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "DATABASE_URL")
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_until(check: Any, what: str, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited early with status {process.returncode}")
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} was not ready within {timeout} s")


class Child:
    """One process the bench started; `stop()` ends it (and its session) by its id."""

    def __init__(self, name: str, command: list[str], log: Path, **popen: Any) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as sink:
            self.process = subprocess.Popen(
                command,
                stdout=popen.pop("stdout", sink),
                stderr=sink,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # safe: the bench starts no threads
                **popen,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 20.0) -> None:
        process = self.process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)  # its own session: only its workers
                process.wait(5)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:  # noqa: S310 - loopback URL built here
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_upstream(workdir: Path) -> tuple[Child, int]:
    port = free_port()
    command = [sys.executable, "-m", "tests.fakes.upstream", "--port", str(port)]
    child = Child("upstream", command, workdir / "upstream.log", cwd=ROOT)
    _wait_until(lambda: _listening(port), "fake upstream", 20.0, child.process)
    return child, port


class Tether(Child):
    def __init__(self, config: dict[str, Any], workdir: Path, workers: int, log_level: str) -> None:
        self.port = free_port()
        self.workers = workers
        path = workdir / f"tether-{self.port}.yaml"
        path.write_text(yaml.safe_dump(config))
        command = [sys.executable, "-m", "tether.cli", "serve", "--config", str(path)]
        command += ["--port", str(self.port), "--workers", str(workers), "--log-level", log_level]
        env = {k: v for k, v in os.environ.items() if k not in _TETHER_ENV}
        env = {k: v for k, v in env.items() if not k.startswith("TETHER_")}
        super().__init__(
            "tether", command, workdir / f"tether-{self.port}.log", cwd=workdir, env=env
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        health = f"http://127.0.0.1:{self.port}/health/liveliness"
        try:
            _wait_until(lambda: _healthy(health), "tether", timeout, self.process)
            if self.workers > 1:
                _wait_until(
                    lambda: len(self.worker_pids()) == self.workers, "workers", 30.0, self.process
                )
                time.sleep(1.0)  # every worker has run its lifespan before it accepts
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n--- tether log ---\n{self.tail()}") from None

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the worker children, or the process itself."""
        if self.workers == 1:
            return [self.pid]
        return [pid for pid in children(self.pid) if "spawn_main" in command_line(pid)]


class Driver(Child):
    """The load driver process; one job at a time, as JSON lines over its stdin and stdout."""

    def __init__(self, workdir: Path) -> None:
        command = [sys.executable, "-m", "harness.driver"]
        pipes: dict[str, Any] = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "bufsize": 0}
        super().__init__("driver", command, workdir / "driver.log", cwd=BENCH, **pipes)
        self._pending = bytearray()
        self._results = workdir / "result.json"

    def run(self, job: Job, timeout: float | None = None) -> Result:
        stdin: IO[bytes] | None = self.process.stdin
        assert stdin is not None
        self._results.unlink(missing_ok=True)
        job = replace(job, result_path=str(self._results))
        unsent = memoryview(job.to_json() + b"\n")
        while unsent:
            unsent = unsent[os.write(stdin.fileno(), unsent) :]
        limit = timeout if timeout is not None else job.seconds + 120.0  # setup is not timed
        if self._line(time.monotonic() + limit) != b"done":
            raise RuntimeError(f"load driver answered oddly:\n{self.tail()}")
        return Result.from_json(self._results.read_bytes())

    def _line(self, deadline: float) -> bytes:
        """The next line of the driver's stdout, read straight from the pipe."""
        stdout: IO[bytes] | None = self.process.stdout
        assert stdout is not None
        while (end := self._pending.find(b"\n")) < 0:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"load driver gave no answer in time:\n{self.tail()}")
            ready, _, _ = select.select([stdout.fileno()], [], [], left)
            if not ready:
                continue
            chunk = os.read(stdout.fileno(), 1 << 16)
            if not chunk:
                raise RuntimeError(f"load driver exited:\n{self.tail()}")
            self._pending += chunk
        line = bytes(self._pending[:end])
        del self._pending[: end + 1]
        return line
