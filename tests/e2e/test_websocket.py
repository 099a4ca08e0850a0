"""WebSocket mode on /v1/responses, driven by the official SDK's `responses.connect()`
against two real tether processes sharing Redis and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import websockets.exceptions
from openai import OpenAI
from openai.resources.responses.responses import ResponsesConnection

from tests.e2e.conftest import model_list
from tests.fakes.upstream import FakeUpstream
from tests.support.server import TetherServer
from tether.core.connection import MAX_TURNS

MASTER = "sk-ws-master"
TERMINAL = {"response.completed", "response.incomplete", "response.failed", "error"}


def _config(upstream: FakeUpstream, redis_url: str, pg_url: str) -> dict[str, Any]:
    models = model_list(upstream)
    models.append(
        {
            "model_name": "slow",
            "litellm_params": {
                "model": "openai/fake-chat@150ms",
                "api_base": upstream.openai_base,
                "api_key": "sk-upstream",
            },
        }
    )
    return {
        "model_list": models,
        "router_settings": {"redis_url": redis_url},
        "general_settings": {"database_url": pg_url, "master_key": MASTER},
        "session_cache": {"flush_interval_seconds": 30},
    }


@pytest.fixture(scope="module")
def pair(
    upstream: FakeUpstream, redis_url: str, pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TetherServer, TetherServer]]:
    config = _config(upstream, redis_url, pg_url)
    first = TetherServer(config, tmp_path_factory.mktemp("ws-a")).start()
    second = TetherServer(config, tmp_path_factory.mktemp("ws-b")).start()
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture(scope="module")
def server(pair: tuple[TetherServer, TetherServer]) -> TetherServer:
    return pair[0]


def client_of(server: TetherServer, key: str = MASTER) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


@pytest.fixture
def client(server: TetherServer) -> OpenAI:
    return client_of(server)


def turn(conn: ResponsesConnection, **body: Any) -> list[Any]:
    """Sends one response.create; returns its events up to the terminal one."""
    conn.response.create(**body)
    return rest_of_turn(conn)


def rest_of_turn(conn: ResponsesConnection) -> list[Any]:
    events = []
    while True:
        events.append(conn.recv())
        if events[-1].type in TERMINAL:
            return events


def completed(conn: ResponsesConnection, **body: Any) -> Any:
    events = turn(conn, **body)
    assert events[-1].type == "response.completed", events[-1]
    return events[-1].response


def error_of(conn: ResponsesConnection, **body: Any) -> Any:
    events = turn(conn, **body)
    assert [e.type for e in events] == ["error"], events  # no response.created before it
    return events[0]


def test_events_are_the_streaming_events_numbered(client: OpenAI) -> None:
    with client.responses.connect() as conn:
        events = turn(conn, model="echo", input="hello there")
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].response.output_text == "hello there"


def test_store_false_chain_on_one_connection(client: OpenAI) -> None:
    with client.responses.connect() as conn:
        first = completed(conn, model="transcript", input="code word cobalt", store=False)
        second = completed(
            conn,
            model="transcript",
            input="which word?",
            store=False,
            previous_response_id=first.id,
        )
        # Not the latest any more, but still held: a fork from the first works too.
        fork = completed(
            conn, model="transcript", input="fork", store=False, previous_response_id=first.id
        )
    assert second.output_text.splitlines() == [
        "user: code word cobalt",
        "assistant: user: code word cobalt",
        "user: which word?",
    ]
    assert fork.output_text.splitlines()[-1] == "user: fork"
    assert "which word?" not in fork.output_text
    # Nothing of a store:false turn reaches the store.
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)


def _not_found(conn: ResponsesConnection, previous: str) -> None:
    error = error_of(conn, model="echo", input="again", store=False, previous_response_id=previous)
    assert error.status == 400
    assert error.error.code == "previous_response_not_found"
    assert error.error.param == "previous_response_id"
    assert error.sequence_number is None


def test_store_false_is_private_to_its_connection(
    client: OpenAI, pair: tuple[TetherServer, TetherServer]
) -> None:
    with client.responses.connect() as conn:
        first = completed(conn, model="echo", input="secret", store=False)
        with client.responses.connect() as other:
            _not_found(other, first.id)
        with client_of(pair[1]).responses.connect() as elsewhere:
            _not_found(elsewhere, first.id)
    with client.responses.connect() as again:  # a reconnect forgets it
        _not_found(again, first.id)
        # ... and the socket stays usable.
        assert completed(again, model="echo", input="fresh").output_text == "fresh"


def test_a_failed_continuation_evicts_its_previous_response(client: OpenAI) -> None:
    with client.responses.connect() as conn:
        first = completed(conn, model="echo", input="remember ember", store=False)
        orphan = {"type": "function_call_output", "call_id": "call_missing", "output": "x"}
        failed = error_of(
            conn, model="echo", input=[orphan], store=False, previous_response_id=first.id
        )
        assert failed.status == 400
        assert failed.error.param == "input[0].call_id"
        _not_found(conn, first.id)


def test_error_frames_leave_the_socket_usable(client: OpenAI) -> None:
    with client.responses.connect() as conn:
        bad = error_of(conn, model="echo", input="x", temperature=7)
        assert (bad.status, bad.error.type, bad.error.param) == (
            400,
            "invalid_request_error",
            "temperature",
        )
        # The same message as over HTTP.
        with pytest.raises(openai.BadRequestError) as over_http:
            client.responses.create(model="echo", input="x", temperature=7)
        assert isinstance(over_http.value.body, dict)
        assert bad.error.message == over_http.value.body["message"]
        background = error_of(conn, model="echo", input="x", background=True)
        assert background.error.param == "background"
        unknown = error_of(conn, model="nope", input="x")
        assert (unknown.status, unknown.error.code) == (404, "model_not_found")
        assert completed(conn, model="echo", input="still here").output_text == "still here"


def test_a_second_create_while_one_runs_is_refused(client: OpenAI) -> None:
    with client.responses.connect() as conn:
        conn.response.create(model="slow", input="one two three four five six")
        first = conn.recv()
        assert first.type == "response.created"
        conn.response.create(model="echo", input="impatient")
        events = rest_of_turn(conn)  # the refusal arrives among the running turn's events
        refusals = [e for e in events if e.type == "error"]
        assert refusals
        assert refusals[0].error.code == "response_already_in_progress"
        assert refusals[0].sequence_number is None
        if events[-1].type == "error":
            events = rest_of_turn(conn)
        assert events[-1].type == "response.completed"
        assert events[-1].response.id == first.response.id
        assert "six" in events[-1].response.output_text
        assert completed(conn, model="echo", input="now").output_text == "now"


def test_handshake_without_a_valid_key_is_a_401(server: TetherServer) -> None:
    for key in ("wrong-key", ""):
        connect = client_of(server, key or "x").responses.connect
        with (
            pytest.raises(websockets.exceptions.InvalidStatus) as refused,
            connect(extra_headers={"Authorization": key}),
        ):
            pass
        assert refused.value.response.status_code == 401
        body = refused.value.response.body or b""
        assert b"invalid_api_key" in body


def test_upgrade_on_a_path_without_websocket_is_a_404(server: TetherServer) -> None:
    from websockets.sync.client import connect

    headers = {"Authorization": f"Bearer {MASTER}"}
    url = server.url.replace("http", "ws") + "/v1/models"
    with (
        pytest.raises(websockets.exceptions.InvalidStatus) as refused,
        connect(url, additional_headers=headers),
    ):
        pass
    assert refused.value.response.status_code == 404


def test_store_true_turns_continue_over_http_elsewhere_and_back(
    client: OpenAI, pair: tuple[TetherServer, TetherServer]
) -> None:
    other = client_of(pair[1])
    with client.responses.connect() as conn:
        first = completed(conn, model="transcript", input="socket turn")
        # Recorded before its response.completed: the other instance continues it at once.
        over_http = other.responses.create(
            model="transcript", input="http turn", previous_response_id=first.id
        )
        assert over_http.output_text.splitlines()[0] == "user: socket turn"
        # And a socket continues a chain made over HTTP on the other instance.
        back = completed(
            conn, model="transcript", input="socket again", previous_response_id=over_http.id
        )
    assert back.output_text.splitlines() == [
        "user: socket turn",
        "assistant: user: socket turn",
        "user: http turn",
        "assistant: " + over_http.output_text.splitlines()[0],
        *[line for line in over_http.output_text.splitlines()[1:]],
        "user: socket again",
    ]
    assert other.responses.retrieve(back.id).id == back.id


def _lookups(server: TetherServer) -> int:
    stats = httpx.get(
        f"{server.url}/v1/session-cache/stats", headers={"Authorization": f"Bearer {MASTER}"}
    ).json()
    return int(stats["hits"] + stats["misses"] + stats["latency_ms"]["chain_lookup"]["count"])


@pytest.mark.parametrize("store", [True, False])
def test_continuing_the_latest_response_needs_no_lookup(
    client: OpenAI, server: TetherServer, store: bool
) -> None:
    with client.responses.connect() as conn:
        previous = completed(conn, model="echo", input="start", store=store)
        before = _lookups(server)
        for n in range(3):
            previous = completed(
                conn, model="echo", input=f"next {n}", store=store, previous_response_id=previous.id
            )
        assert _lookups(server) == before


def test_generate_false_warms_a_turn_up(client: OpenAI) -> None:
    with client.responses.connect() as conn:
        events = turn(
            conn,
            model="transcript",
            instructions="be brief",
            input="context only",
            generate=False,
            store=False,
        )
        assert [e.type for e in events] == [
            "response.created",
            "response.in_progress",
            "response.completed",
        ]
        warm = events[-1].response
        assert warm.output == []
        reply = completed(
            conn, model="transcript", input="now answer", previous_response_id=warm.id
        )
    assert reply.output_text.splitlines() == ["user: context only", "user: now answer"]


def test_a_turn_is_logged_and_counted(server: TetherServer, client: OpenAI) -> None:
    with client.responses.connect() as conn:
        completed(conn, model="echo", input="count me")
        error_of(conn, model="echo", input="x", previous_response_id="resp_missing")
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'tether_websocket_turns_total{model="echo",status="200"}' in metrics
    assert 'tether_websocket_errors_total{code="previous_response_not_found"}' in metrics
    assert "tether_websocket_connections" in metrics
    log = Path(server.log_path).read_text()
    assert "WS /v1/responses response.create 200" in log


def test_past_its_bound_a_connection_forgets_its_oldest_store_false_response(
    client: OpenAI, server: TetherServer
) -> None:
    with client.responses.connect() as conn:
        ids = [
            completed(conn, model="echo", input=f"n{n}", store=False).id
            for n in range(MAX_TURNS + 1)
        ]
        _not_found(conn, ids[0])
        assert completed(conn, model="echo", input="on", previous_response_id=ids[1]).id
    forgotten = [
        line
        for line in httpx.get(f"{server.url}/metrics").text.splitlines()
        if line.startswith("tether_websocket_forgotten_total ")
    ]
    assert forgotten
    assert float(forgotten[0].split()[1]) >= 1


def test_a_client_that_vanishes_cancels_its_upstream_call(server: TetherServer) -> None:
    words = " ".join(f"w{i}" for i in range(100))  # ~15 s of upstream stream if not cancelled
    with client_of(server).responses.connect() as conn:
        conn.response.create(model="slow", input=words)
        created = conn.recv()
        assert created.type == "response.created"
        while conn.recv().type != "response.output_text.delta":
            pass
    response_id = created.response.id
    deadline = time.monotonic() + 5
    expected = f"client left stream {response_id}; upstream request cancelled"
    while expected not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert expected in server.log()


def test_upstream_failures_are_error_frames(client: OpenAI, upstream: FakeUpstream) -> None:
    with client.responses.connect() as conn:
        first = completed(conn, model="chat", input="base", store=False)
        upstream.fail_with_status(500)  # at once: one error frame, nothing before it
        failed = error_of(conn, model="chat", input="more", previous_response_id=first.id)
        assert failed.status == 502
        assert failed.sequence_number is None
        _not_found(conn, first.id)  # a failed continuation forgets its parent
        upstream.cut_stream_after(3)  # mid-stream: an error frame numbered, then failed
        events = turn(conn, model="chat", input="one two three four five six seven")
        if events[-1].type == "error":
            events += rest_of_turn(conn)
        error, last = events[-2], events[-1]
        assert error.type == "error"
        assert error.sequence_number == len(events) - 2
        assert error.status == 502
        assert error.error.code
        assert last.type == "response.failed"
        assert completed(conn, model="chat", input="fine").output_text == "reply to: fine"


def test_sigterm_lets_the_running_turn_finish_then_closes_with_1001(
    upstream: FakeUpstream, redis_url: str, pg_url: str, tmp_path: Path
) -> None:
    server = TetherServer(_config(upstream, redis_url, pg_url), tmp_path).start()
    try:
        with client_of(server).responses.connect() as conn:
            conn.response.create(model="slow", input="one two three four five six")
            created = conn.recv()
            assert created.type == "response.created"
            stopping = threading.Thread(target=server.stop)
            stopping.start()
            events = rest_of_turn(conn)
            assert events[-1].type == "response.completed"
            assert events[-1].response.output_text == "reply to: one two three four five six"
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                conn.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1001
        stopping.join(30)
    finally:
        server.stop()
