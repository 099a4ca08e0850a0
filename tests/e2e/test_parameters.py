"""Every create parameter is honoured, echoed, or refused by name: none is dropped in silence."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.support.server import TetherServer


def post(tether: TetherServer, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{tether.url}/v1/responses", json=body, timeout=30)


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("conversation", "conv_123"),
        ("conversation", {"id": "conv_123"}),
        ("prompt", {"id": "pmpt_123", "version": "2"}),
        ("background", True),
    ],
)
def test_a_parameter_not_served_is_refused_by_name(
    client: OpenAI, parameter: str, value: Any
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="echo", input="hi", extra_body={parameter: value})
    assert raised.value.status_code == 400
    assert raised.value.param == parameter
    assert parameter in raised.value.message


def test_background_false_is_served(client: OpenAI) -> None:
    response = client.responses.create(model="echo", input="hi", background=False)
    assert response.status == "completed"


def test_echo_only_parameters_come_back_as_sent(client: OpenAI) -> None:
    response = client.responses.create(
        model="echo",
        input="hi",
        prompt_cache_key="tenant-7",
        safety_identifier="user-hash-1",
        service_tier="flex",
        user="u-1",
    )
    assert response.prompt_cache_key == "tenant-7"
    assert response.safety_identifier == "user-hash-1"
    assert response.service_tier == "flex"
    assert response.user == "u-1"
    stored = client.responses.retrieve(response.id)
    assert stored.prompt_cache_key == "tenant-7"
    assert stored.safety_identifier == "user-hash-1"


def test_echo_only_parameters_not_sent_show_openai_defaults(client: OpenAI) -> None:
    response = client.responses.create(model="echo", input="hi")
    assert response.prompt_cache_key is None
    assert response.safety_identifier is None
    assert response.service_tier == "default"
    assert response.truncation == "disabled"
    assert (response.temperature, response.top_p) == (1.0, 1.0)


def test_a_tool_output_answering_no_call_is_refused_naming_the_call(client: OpenAI) -> None:
    first = client.responses.create(model="echo", input="hi")
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(
            model="echo",
            previous_response_id=first.id,
            input=[{"type": "function_call_output", "call_id": "call_nobody", "output": "42"}],
        )
    assert raised.value.param == "input[0].call_id"
    assert "call_nobody" in raised.value.message


def test_a_tool_output_answering_a_call_in_the_same_input_is_served(client: OpenAI) -> None:
    response = client.responses.create(
        model="echo",
        input=[
            {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "42"},
        ],
    )
    assert response.output_text == "tool said: 42"


def test_a_tool_output_answering_a_call_of_the_chain_is_served(client: OpenAI) -> None:
    tools: Any = [{"type": "function", "name": "get_time", "parameters": {"type": "object"}}]
    first = client.responses.create(model="echo", input="call get_time {}", tools=tools)
    call = first.output[0]
    assert call.type == "function_call"
    second = client.responses.create(
        model="echo",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "noon"}],
    )
    assert second.output_text == "tool said: noon"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/responses/nope"), ("GET", "/v1/responses/compact/x"), ("GET", "/v1/nope")],
)
def test_a_path_not_served_is_an_openai_shaped_404(
    tether: TetherServer, method: str, path: str
) -> None:
    response = httpx.request(method, f"{tether.url}{path}", json={}, timeout=30)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Unknown path."


def test_the_openapi_document_lists_every_public_operation(tether: TetherServer) -> None:
    document = httpx.get(f"{tether.url}/openapi.json", timeout=30).json()
    operations = {
        (method, path): operation["operationId"]
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    assert operations == {
        ("post", "/v1/responses"): "createResponse",
        ("post", "/v1/responses/compact"): "compactResponse",
        ("get", "/v1/responses/{response_id}"): "getResponse",
        ("delete", "/v1/responses/{response_id}"): "deleteResponse",
        ("get", "/v1/responses/{response_id}/input_items"): "listInputItems",
        ("get", "/v1/models"): "listModels",
    }
    assert "ResponseCreate" in document["components"]["schemas"]
