"""`tether serve` claims its port before any start-up work, and says it is ready only once
it listens."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REDIS_URL
from tests.support.server import free_port


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def serve(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "TETHER_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", "serve", *args],
        cwd=workdir,  # where the default SQLite database would be created
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_a_taken_port_fails_at_once_with_one_line(
    tmp_path: Path, taken_port: int, workers: int
) -> None:
    config = tmp_path / "tether.yaml"
    config.write_text(f"router_settings: {{redis_url: '{REDIS_URL}'}}\n" if workers > 1 else "")

    result = serve(
        tmp_path, "--config", str(config), "--port", str(taken_port), "--workers", str(workers)
    )

    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"tether: cannot listen on 127.0.0.1:{taken_port}: address already in use"
    ]
    assert result.stdout == ""  # nothing started, so nothing logged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tether.yaml"]  # no tether.db


def test_ready_is_logged_once_the_port_answers(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "tether.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tether.cli", "serve", "--port", str(port)],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + 30
        while "tether ready" not in log_path.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log_path.read_text()
            time.sleep(0.01)
        response = httpx.get(f"http://127.0.0.1:{port}/health/liveliness", timeout=5)
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(20)
    assert process.returncode == 0
