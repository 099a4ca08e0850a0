"""What an operator sees: probes, metrics, statistics, logs, and `tether verify`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from tests.support.ports import free_port
from tests.support.server import TetherServer


def metric(text: str, name: str, labels: str = "") -> float:
    """The value of one sample in a Prometheus exposition (0 when absent)."""
    pattern = rf"^{re.escape(name)}(\{{[^}}]*{re.escape(labels)}[^}}]*\}})? ([0-9.e+-]+)$"
    values = [float(m.group(2)) for m in re.finditer(pattern, text, re.MULTILINE)]
    return sum(values)


def test_liveliness(tether: TetherServer) -> None:
    response = httpx.get(f"{tether.url}/health/liveliness")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readiness_reports_redis_and_database(tether: TetherServer) -> None:
    response = httpx.get(f"{tether.url}/health/readiness")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["redis"]["status"] == "ok"
    assert body["redis"]["latency_ms"] >= 0
    assert body["database"]["status"] == "ok"
    assert body["database"]["dialect"] == "postgresql"
    assert body["database"]["migration"]
    assert body["writer"]["pending"] >= 0


def test_metrics_move_as_traffic_flows(tether: TetherServer, client: OpenAI) -> None:
    before = httpx.get(f"{tether.url}/metrics").text
    first = client.responses.create(model="echo", input="count me")
    client.responses.create(model="echo", input="and me", previous_response_id=first.id)
    after = httpx.get(f"{tether.url}/metrics").text
    requests = 'route="responses",status="200"'
    assert (
        metric(after, "tether_requests_total", requests)
        >= metric(before, "tether_requests_total", requests) + 2
    )
    assert metric(after, "tether_cache_hits_total") >= metric(before, "tether_cache_hits_total") + 1
    assert metric(after, "tether_records_written_total") >= 2 + metric(
        before, "tether_records_written_total"
    )
    assert metric(after, "tether_gateway_overhead_seconds_count") > metric(
        before, "tether_gateway_overhead_seconds_count"
    )


def test_session_cache_stats(tether: TetherServer, client: OpenAI) -> None:
    first = client.responses.create(model="echo", input="stats")
    client.responses.create(model="echo", input="again", previous_response_id=first.id)
    stats = httpx.get(f"{tether.url}/v1/session-cache/stats").json()
    assert stats["hits"] >= 1
    assert 0 <= stats["hit_rate"] <= 1
    assert stats["degraded"] is False
    assert stats["available"] is True
    assert stats["cached_sessions"] >= 1
    assert stats["cached_records"] >= 2
    assert stats["average_record_bytes"] > 100
    assert stats["cache_memory_bytes"] > stats["average_record_bytes"]
    assert set(stats["fallbacks"]) == {"cache_miss", "cache_unavailable"}
    lookups, records = stats["latency_ms"]["chain_lookup"], stats["latency_ms"]["record"]
    assert lookups["count"] >= 1
    assert records["count"] >= 2
    assert 0 < lookups["p50"] <= lookups["p99"] <= lookups["max"]
    for key in ("misses", "refills", "writer_backlog"):
        assert key in stats


@pytest.mark.parametrize("stream", [False, True])
def test_overhead_and_request_id_headers(tether: TetherServer, stream: bool) -> None:
    body = {"model": "echo", "input": "timing", "stream": stream}
    headers = {"x-request-id": "req-from-client-1"}
    with httpx.stream("POST", f"{tether.url}/v1/responses", json=body, headers=headers) as response:
        response.read()
    assert response.status_code == 200
    assert float(response.headers["x-tether-overhead-ms"]) >= 0
    assert response.headers["x-request-id"] == "req-from-client-1"


def test_one_log_line_per_request_without_content(tether: TetherServer, client: OpenAI) -> None:
    client.responses.create(
        model="echo",
        input="a very private sentence",
        extra_headers={"x-request-id": "req-log-check"},
    )
    log = tether.log()
    lines = [line for line in log.splitlines() if "req-log-check" in line]
    assert len(lines) == 1
    assert "model=echo" in lines[0]
    assert "status=200" in lines[0]
    assert "a very private sentence" not in log


def run_verify(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tether.cli", "verify", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_verify_passes_against_a_live_deployment(tether: TetherServer) -> None:
    result = run_verify("--url", tether.url, "--model", "echo")
    assert result.returncode == 0, result.stdout + result.stderr
    for step in (
        "readiness",
        "create",
        "immediate follow-up",
        "streamed follow-up",
        "retrieve",
        "input items",
        "delete",
    ):
        assert step in result.stdout
    assert "passed" in result.stdout


def test_verify_fails_honestly_against_a_dead_url() -> None:
    result = run_verify("--url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode != 0
    assert "FAIL" in result.stdout
    assert "readiness" in result.stdout


def test_verify_fails_when_redis_is_down(tmp_path: Path) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    config = {
        "model_list": [{"model_name": "echo", "litellm_params": {"model": "echo/echo"}}],
        "router_settings": {"redis_url": dead_redis},
        "general_settings": {"database_url": f"sqlite:///{tmp_path}/t.db"},
    }
    server = TetherServer(config, tmp_path).start()
    try:
        readiness = httpx.get(f"{server.url}/health/readiness").json()
        assert readiness["redis"]["status"] == "degraded"
        result = run_verify("--url", server.url)
        assert result.returncode != 0
        assert "redis" in result.stdout.lower()
    finally:
        server.stop()


def test_session_cache_stats_need_the_master_key_when_auth_is_on(tmp_path: Path) -> None:
    config = {
        "general_settings": {
            "master_key": "sk-master-ops",
            "api_keys": [{"name": "alice", "key": "sk-alice-ops"}],
        }
    }
    server = TetherServer(config, tmp_path).start()
    try:
        url = f"{server.url}/v1/session-cache/stats"
        assert httpx.get(url).status_code == 401
        tenant = httpx.get(url, headers={"authorization": "Bearer sk-alice-ops"})
        assert tenant.status_code == 403
        assert tenant.json()["error"]["type"] == "permission_error"
        master = httpx.get(url, headers={"authorization": "Bearer sk-master-ops"})
        assert master.status_code == 200
        assert master.json()["backend"] == "memory"
        # Probes and metrics stay open for load balancers and scrapers.
        assert httpx.get(f"{server.url}/health/readiness").status_code == 200
        assert httpx.get(f"{server.url}/metrics").status_code == 200
    finally:
        server.stop()
