"""A running tether (real process), a fake upstream, and the official SDK as client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI

from tests.fakes.upstream import FakeUpstream, run_fake_upstream
from tests.support.databases import create_pg_database, drop_pg_database, fresh_redis_url
from tests.support.server import TetherServer
from tests.support.services import DATABASE_URL, REDIS_URL

MODELS = ("echo", "chat", "claude")


def model_list(upstream: FakeUpstream) -> list[dict[str, Any]]:
    return [
        {"model_name": "echo", "litellm_params": {"model": "echo/echo"}},
        {"model_name": "transcript", "litellm_params": {"model": "echo/transcript"}},
        {
            "model_name": "chat",
            "litellm_params": {
                "model": "openai/fake-chat",
                "api_base": upstream.openai_base,
                "api_key": "sk-upstream",
            },
        },
        {
            "model_name": "claude",
            "litellm_params": {
                "model": "anthropic/fake-claude",
                "api_base": upstream.anthropic_base,
                "api_key": "sk-ant-upstream",
                "timeout": 5,
            },
        },
    ]


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_upstream() as fake:
        yield fake


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = create_pg_database(DATABASE_URL, "tether_e2e")
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return fresh_redis_url(REDIS_URL, db=1)


def stateful_config(upstream: FakeUpstream, redis_url: str, pg_url: str) -> dict[str, Any]:
    """Redis + PostgreSQL, with a writer so slow that only the cache can answer follow-ups."""
    return {
        "model_list": model_list(upstream),
        "router_settings": {"redis_url": redis_url},
        "general_settings": {"database_url": pg_url},
        "session_cache": {"flush_interval_seconds": 30, "max_responses_per_session": 5},
    }


@pytest.fixture(scope="session")
def tether(
    upstream: FakeUpstream, redis_url: str, pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TetherServer]:
    config = stateful_config(upstream, redis_url, pg_url)
    server = TetherServer(config, tmp_path_factory.mktemp("tether")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def client(tether: TetherServer) -> OpenAI:
    return OpenAI(base_url=f"{tether.url}/v1", api_key="sk-anything", max_retries=0)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
