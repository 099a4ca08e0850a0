"""Connections that misbehave, and inputs that cost the server time or memory: broken HTTP,
stalled and vanishing clients, regex backtracking, unbounded metric labels."""

from __future__ import annotations

import secrets
import socket
import time

import httpx
import pytest

from tests.fuzz.conftest import Probe, create, openai_error, raw_exchange
from tests.support.server import TetherServer


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"POST /v1/responses HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n{}",
        b"POST /v1/responses HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n{}",
        b"POST /v1/responses HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /v1/responses HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /v1/responses/\xff\xfe HTTP/1.1\r\nHost: t\r\n\r\n",
    ],
)
def test_broken_http_is_refused_at_once(embedded: TetherServer, request_bytes: bytes) -> None:
    # The HTTP server answers these before tether sees them, in its own plain-text shape.
    status, _ = raw_exchange(embedded.port, request_bytes, timeout=5)
    assert status == 400
    assert httpx.get(f"{embedded.url}/health/liveliness", timeout=5).status_code == 200


def test_a_stalled_client_does_not_stall_anyone_else(embedded: TetherServer, probe: Probe) -> None:
    head = b"POST /v1/responses HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n"
    stalled = [socket.create_connection(("127.0.0.1", embedded.port), timeout=5) for _ in range(20)]
    try:
        for sock in stalled:
            sock.sendall(head + b'{"model": "echo", "in')
        started = time.monotonic()
        assert create(probe, input="still here")["output"][0]["content"][0]["text"] == "still here"
        assert time.monotonic() - started < 2.0
    finally:
        for sock in stalled:
            sock.close()


def test_a_client_leaving_mid_stream_leaves_the_server_serving(
    embedded: TetherServer, probe: Probe
) -> None:
    body = {"model": "echo", "input": "word " * 5000, "stream": True}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", f"{embedded.url}/v1/responses", json=body) as response,
    ):
        assert response.status_code == 200
        next(response.iter_bytes())  # then the connection closes, mid-stream
    assert create(probe, input="after")["output"][0]["content"][0]["text"] == "after"


def test_a_tool_call_lookalike_is_answered_promptly(probe: Probe) -> None:
    body = {
        "model": "echo",
        "input": "call f" + " " * 35_000 + "!",
        "tools": [{"type": "function", "name": "f"}],
    }
    started = time.monotonic()
    response = probe.post("/v1/responses", json=body)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 1.0, f"one 35 KB request held the server for {elapsed:.1f} s"


def test_invented_model_names_do_not_become_metric_labels(probe: Probe) -> None:
    invented = [f"no-such-model-{secrets.token_hex(6)}" for _ in range(3)]
    for name in invented:
        response = probe.post("/v1/responses", json={"model": name, "input": "x"})
        assert openai_error(response)["code"] == "model_not_found"
    metrics = probe.get("/metrics").text
    assert not [name for name in invented if name in metrics]


def test_a_body_that_stops_arriving_gets_a_408(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A client that declares a length and goes quiet is answered, not held forever."""
    config = {"server": {"body_timeout_seconds": 0.5}}
    server = TetherServer(config, tmp_path_factory.mktemp("slow-body")).start()
    try:
        status, body = raw_exchange(  # the head and the body may come in two segments
            server.port,
            b"POST /v1/responses HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b'content-length: 100\r\n\r\n{"model"',
            timeout=5,
        )
        assert status == 408
        assert b'"code":"request_timeout"' in body
    finally:
        server.stop()
