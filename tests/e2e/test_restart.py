"""A chain continues after the gateway restarts: the database holds every turn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from openai import OpenAI

from tests.support.databases import create_pg_database, drop_pg_database, fresh_redis_url
from tests.support.server import TetherServer
from tests.support.services import DATABASE_URL, REDIS_URL

MODELS = [{"model_name": "transcript", "litellm_params": {"model": "echo/transcript"}}]


@pytest.fixture
def own_pg() -> Iterator[str]:
    url = create_pg_database(DATABASE_URL, "tether_restart")
    yield url
    drop_pg_database(url)


def _chain_then_continue(server: TetherServer, between: Any = None) -> None:
    with OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0) as client:
        first = client.responses.create(model="transcript", input="one")
        second = client.responses.create(
            model="transcript", input="two", previous_response_id=first.id
        )
    server.stop()  # SIGTERM: the writer drains before the process exits
    if between is not None:
        between()
    server.start()
    with OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0) as client:
        third = client.responses.create(
            model="transcript", input="three", previous_response_id=second.id
        )
        assert third.output_text.splitlines()[0] == "user: one"
        assert third.output_text.splitlines()[-1] == "user: three"
        assert client.responses.retrieve(first.id).output_text == "user: one"


def test_chain_survives_a_restart_with_redis_emptied(own_pg: str, tmp_path: Path) -> None:
    redis_url = fresh_redis_url(REDIS_URL, db=2)
    config = {
        "model_list": MODELS,
        "router_settings": {"redis_url": redis_url},
        "general_settings": {"database_url": own_pg},
        "session_cache": {"flush_interval_seconds": 30},
    }
    server = TetherServer(config, tmp_path).start()
    try:
        # Redis restarted empty while the gateway was down: only PostgreSQL remembers.
        _chain_then_continue(server, between=lambda: redis.Redis.from_url(redis_url).flushdb())
    finally:
        server.stop()


def test_embedded_default_survives_a_restart(tmp_path: Path) -> None:
    config = {"model_list": MODELS}  # in-process cache, SQLite at ./tether.db
    server = TetherServer(config, tmp_path).start()
    try:
        _chain_then_continue(server)
        assert (tmp_path / "tether.db").exists()
    finally:
        server.stop()
