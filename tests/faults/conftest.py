"""Fault-injection fixtures: private Redis and PostgreSQL processes, tether processes.

Every process a test starts is stopped when it ends, whatever happened. Nothing here
touches the shared Redis or PostgreSQL, so a test may kill, hang or restart them.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.upstream import FakeUpstream, run_fake_upstream
from tests.support.databases import create_pg_database, drop_pg_database
from tests.support.redis_server import RedisServer
from tests.support.server import TetherServer

from .services import PostgresCluster, descendants

MODELS: list[dict[str, Any]] = [
    {"model_name": "transcript", "litellm_params": {"model": "echo/transcript"}},
    {"model_name": "echo", "litellm_params": {"model": "echo/echo"}},
]

Launch = Callable[..., TetherServer]


def config(
    redis_url: str | None,
    database_url: str,
    *,
    flush: float = 30,
    upstream: FakeUpstream | None = None,
) -> dict[str, Any]:
    models = list(MODELS)
    if upstream is not None:
        params = {"model": "openai/slow", "api_base": upstream.openai_base, "api_key": "sk-x"}
        models.append({"model_name": "slow", "litellm_params": params})
    settings: dict[str, Any] = {
        "model_list": models,
        "general_settings": {"database_url": database_url},
        "session_cache": {"flush_interval_seconds": flush},
    }
    if redis_url is not None:
        settings["router_settings"] = {"redis_url": redis_url}
    return settings


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.init().start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def database(postgres: PostgresCluster) -> Iterator[str]:
    """A fresh database on the private cluster (restarted if a test left it stopped)."""
    url = create_pg_database(postgres.url, "tether_faults")
    yield url
    if not postgres.accepting():
        postgres.start()
    drop_pg_database(url)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server, not started: the test decides when it runs."""
    server = RedisServer(tmp_path)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """Starts tether processes; whatever is still running at the end is killed."""
    started: list[TetherServer] = []

    def start(settings: dict[str, Any], *, workers: int = 1) -> TetherServer:
        server = TetherServer(settings, tmp_path, workers=workers)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        kill_tree(server)


def kill_tree(server: TetherServer) -> None:
    """SIGKILL the server and its uvicorn workers (a killed supervisor would orphan them)."""
    if server.process is not None:
        for pid in descendants(server.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    server.stop(signal.SIGKILL, timeout=10)


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_upstream() as fake:
        yield fake
