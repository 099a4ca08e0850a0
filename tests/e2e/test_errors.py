"""Bad input and upstream failures answer in OpenAI's error shape, never a 500."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.fakes.upstream import FakeUpstream
from tests.support.server import TetherServer


def post(tether: TetherServer, body: Any = None, content: bytes | None = None) -> httpx.Response:
    return httpx.post(f"{tether.url}/v1/responses", json=body, content=content, timeout=30)


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


def test_malformed_json_is_a_400(tether: TetherServer) -> None:
    response = post(tether, content=b'{"model": "echo", "input": ')
    assert response.status_code == 400
    assert error_of(response)["type"] == "invalid_request_error"


def test_non_utf8_body_is_a_400(tether: TetherServer) -> None:
    response = post(tether, content=b'{"model": "echo", "input": "\xff\xfe"}')
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "echo"}, "input"),
        ({"model": "echo", "input": 42}, "input"),
        ({"model": "echo", "input": "hi", "temperature": "hot"}, "temperature"),
        ({"model": "echo", "input": "hi", "temperature": 7}, "temperature"),
        ({"model": "echo", "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "echo", "input": [{"role": "wizard", "content": "x"}]}, "input[0].role"),
        ({"model": "echo", "input": [{"type": "mystery"}]}, "input[0]"),
        ({"model": "echo", "input": "hi", "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"model": "echo", "input": "hi", "store": "yes"}, "store"),
    ],
)
def test_wrong_types_name_the_field(tether: TetherServer, body: Any, param: str) -> None:
    response = post(tether, body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


def test_a_body_that_is_not_an_object_is_a_400(tether: TetherServer) -> None:
    assert post(tether, content=b"[1, 2, 3]").status_code == 400


def test_unknown_model_is_model_not_found(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="no-such-model", input="hi")
    assert caught.value.code == "model_not_found"


def test_oversized_body_is_a_413(tether: TetherServer) -> None:
    big = b'{"model": "echo", "input": "' + b"x" * (33 * 1024 * 1024) + b'"}'
    response = post(tether, content=big)
    assert response.status_code == 413
    assert error_of(response)["type"] == "invalid_request_error"


def test_unknown_path_is_an_openai_shaped_404(tether: TetherServer) -> None:
    response = httpx.get(f"{tether.url}/v1/nothing-here")
    assert response.status_code == 404
    error_of(response)


@pytest.mark.parametrize("model", ["chat", "claude"])
def test_upstream_5xx_is_a_502_naming_the_model(
    client: OpenAI, upstream: FakeUpstream, model: str
) -> None:
    upstream.clear()
    upstream.fail_with_status(500)
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model=model, input="hi")
    assert caught.value.status_code == 502
    assert model in caught.value.message
    assert "sk-upstream" not in caught.value.message
    assert "sk-ant-upstream" not in caught.value.message


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (429, openai.RateLimitError),
    ],
)
@pytest.mark.parametrize("model", ["chat", "claude"])
def test_upstream_4xx_is_passed_on(
    client: OpenAI, upstream: FakeUpstream, model: str, status: int, error: type[Exception]
) -> None:
    upstream.clear()
    upstream.fail_with_status(status)
    with pytest.raises(error):
        client.responses.create(model=model, input="hi")


def test_upstream_timeout_is_a_504(client: OpenAI, upstream: FakeUpstream) -> None:
    upstream.clear()
    upstream.delay(7)  # the claude route has a 5 s timeout
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model="claude", input="hi")
    upstream.clear()
    assert caught.value.status_code == 504


def test_unreachable_upstream_is_a_502(tmp_path: Any) -> None:
    from tests.support.server import free_port

    dead = f"http://127.0.0.1:{free_port()}/v1"
    config = {
        "model_list": [
            {"model_name": "gone", "litellm_params": {"model": "openai/x", "api_base": dead}}
        ]
    }
    server = TetherServer(config, tmp_path).start()
    try:
        response = httpx.post(f"{server.url}/v1/responses", json={"model": "gone", "input": "hi"})
        assert response.status_code == 502
        assert "gone" in error_of(response)["message"]
    finally:
        server.stop()


@pytest.mark.parametrize("model", ["chat", "claude"])
def test_stream_cut_midway_ends_with_response_failed(
    client: OpenAI, upstream: FakeUpstream, model: str
) -> None:
    upstream.clear()
    upstream.cut_stream_after(6, abort=False)
    events = list(client.responses.create(model=model, input="a b c d e f g h", stream=True))
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created"
    assert kinds[-2:] == ["error", "response.failed"]
    assert "response.completed" not in kinds


@pytest.mark.parametrize("model", ["chat", "claude"])
def test_malformed_upstream_stream_ends_with_response_failed(
    client: OpenAI, upstream: FakeUpstream, model: str
) -> None:
    upstream.clear()
    upstream.malformed_stream(after_chunks=6)
    events = list(client.responses.create(model=model, input="a b c d e f g h", stream=True))
    assert events[-1].type == "response.failed"


@pytest.mark.parametrize("model", ["chat", "claude"])
def test_upstream_error_before_streaming_is_an_http_error(
    client: OpenAI, upstream: FakeUpstream, model: str
) -> None:
    upstream.clear()
    upstream.fail_with_status(503)
    with pytest.raises(openai.APIStatusError) as caught:
        list(client.responses.create(model=model, input="hi", stream=True))
    assert caught.value.status_code == 502


def test_a_client_leaving_mid_stream_cancels_the_upstream_call(
    tether: TetherServer, upstream: FakeUpstream
) -> None:
    upstream.clear()
    upstream.slow_stream(0.2)
    words = " ".join(f"w{i}" for i in range(100))  # ~20 s of upstream stream if not cancelled
    body = {"model": "chat", "input": words, "stream": True}
    response_id = None
    with httpx.stream("POST", f"{tether.url}/v1/responses", json=body, timeout=10) as response:
        for line in response.iter_lines():
            if line.startswith("data:") and '"response.output_text.delta"' in line:
                break
            if line.startswith("data:") and '"response.created"' in line:
                response_id = json.loads(line[5:])["response"]["id"]
    upstream.clear()
    assert response_id is not None
    deadline = time.monotonic() + 5
    while "upstream request cancelled" not in tether.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"client left stream {response_id}; upstream request cancelled" in tether.log()
    assert httpx.get(f"{tether.url}/v1/responses/{response_id}").status_code == 404
    assert httpx.post(
        f"{tether.url}/v1/responses", json={"model": "echo", "input": "still fine"}
    ).is_success


def log_line(tether: TetherServer, request_id: str) -> str:
    """The one request-log line of a request (the log is written as it happens)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [line for line in tether.log().splitlines() if request_id in line]
        if lines:
            assert len(lines) == 1, lines
            return lines[0]
        time.sleep(0.05)
    raise AssertionError(f"no log line for {request_id}")


def test_the_request_log_says_why_a_request_failed(client: OpenAI, tether: TetherServer) -> None:
    with pytest.raises(openai.BadRequestError):
        client.responses.create(
            model="echo",
            input="a confidential sentence nobody may log",
            previous_response_id="resp_" + "0" * 64,
            extra_headers={"x-request-id": "req-why-failed"},
        )
    line = log_line(tether, "req-why-failed")
    assert "status=400" in line
    assert "code=previous_response_not_found" in line
    assert "param=previous_response_id" in line
    assert "confidential" not in tether.log()


def test_the_request_log_names_the_invalid_field_not_its_value(tether: TetherServer) -> None:
    body = {"model": "echo", "input": [{"role": "wizard of private words", "content": "x"}]}
    response = httpx.post(
        f"{tether.url}/v1/responses", json=body, headers={"x-request-id": "req-bad-field"}
    )
    assert response.status_code == 400
    line = log_line(tether, "req-bad-field")
    assert "param=input[0].role" in line
    assert "wizard" not in tether.log()


def test_a_success_logs_no_error_fields(client: OpenAI, tether: TetherServer) -> None:
    client.responses.create(model="echo", input="fine", extra_headers={"x-request-id": "req-ok"})
    line = log_line(tether, "req-ok")
    assert "status=200" in line
    assert "code=" not in line
    assert "param=" not in line


INTERNALS = (
    "tagged-union",
    "_item_type",
    "discriminator",
    "function-after",
    "literal_error",
    "union_tag",
    "Input tag",
    "after validation",
    "extract fields",
    "dictionary",
)


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        (
            {"model": "echo", "input": [{"type": "mystery"}]},
            "input[0]",
            "Invalid value for 'input[0]': type 'mystery' is not a supported input item type; "
            "supported: message, function_call, function_call_output, compaction.",
        ),
        (
            {"model": "echo", "input": ["just a string"]},
            "input[0]",
            "Invalid value for 'input[0]': expected an input item object whose 'type' is one of: "
            "message, function_call, function_call_output, compaction.",
        ),
        (
            {"model": "echo", "input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "input[0].content[0]",
            "Invalid value for 'input[0].content[0]': type 'input_audio' is not a supported "
            "content part type; supported: input_text, input_image, output_text, refusal.",
        ),
        (
            {"model": "echo", "input": [{"role": "user", "content": [{"text": "x"}]}]},
            "input[0].content[0]",
            "Invalid value for 'input[0].content[0]': expected a content part object whose "
            "'type' is one of: input_text, input_image, output_text, refusal.",
        ),
        (
            {"model": "echo", "input": 42},
            "input",
            "Invalid value for 'input': expected a string or an array.",
        ),
        (
            {"model": "echo", "input": "x", "metadata": {str(i): "v" for i in range(17)}},
            "metadata",
            "Invalid value for 'metadata': expected at most 16 entries.",
        ),
        (
            {"model": "echo", "input": "x", "text": "plain"},
            "text",
            "Invalid value for 'text': expected an object.",
        ),
        (
            {
                "model": "echo",
                "input": "x",
                "tool_choice": {"type": "function", "name": "f", "x": 1},
            },
            "tool_choice.x",
            "Invalid value for 'tool_choice.x': unknown field.",
        ),
        (
            {"model": "echo", "input": [{"role": "wizard", "content": "x"}]},
            "input[0].role",
            "Invalid value for 'input[0].role': expected 'user', 'assistant', 'system' or "
            "'developer'.",
        ),
    ],
)
def test_validation_errors_speak_plainly(
    tether: TetherServer, body: Any, param: str, message: str
) -> None:
    response = post(tether, body)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["param"], error["message"]) == (param, message)
    assert not [word for word in INTERNALS if word.lower() in message.lower()]
