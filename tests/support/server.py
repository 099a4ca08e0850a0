"""Runs tether as a real process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from .ports import free_port


class TetherServer:
    """`tether serve` with a given config; its output is kept in a log file."""

    def __init__(self, config: dict[str, Any], workdir: Path, *, workers: int = 1) -> None:
        self.config = config
        self.workdir = workdir
        self.workers = workers
        self.port = free_port()
        self.config_path = workdir / f"tether-{self.port}.yaml"
        self.log_path = workdir / f"tether-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> TetherServer:
        self.config_path.write_text(yaml.safe_dump(self.config))
        command = [sys.executable, "-m", "tether.cli", "serve", "--config", str(self.config_path)]
        command += ["--port", str(self.port), "--workers", str(self.workers)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"tether exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health/liveliness", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"tether did not start within {timeout} s:\n{self.log()}")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.process is None:
            return None
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        return process.returncode

    def restart(self) -> TetherServer:
        self.stop()
        return self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""
