"""The whole Response object, wherever a response appears: the JSON body, the stream's
`response.*` events and GET, each echoing what the request sent."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai import OpenAI
from openai.types.responses import Response

from tests.fakes.upstream import FakeUpstream

# Required by the Open Responses `ResponseResource` schema but not declared by the SDK.
OPEN_RESPONSES_ONLY = {"store", "presence_penalty", "frequency_penalty"}
RESPONSE_FIELDS = set(Response.model_fields) | OPEN_RESPONSES_ONLY

# Every echoable create parameter, each with a value other than what an unsent one shows.
SENT: dict[str, Any] = {
    "instructions": "Be brief.",
    "store": True,
    "temperature": 0.25,
    "top_p": 0.5,
    "top_logprobs": 0,
    "max_output_tokens": 64,
    "max_tool_calls": 3,
    "tool_choice": "none",
    "parallel_tool_calls": False,
    "metadata": {"ticket": "T-17"},
    "text": {"format": {"type": "text"}, "verbosity": "low"},
    "reasoning": {"effort": "low"},
    "truncation": "auto",
    "user": "u-17",
    "prompt_cache_key": "tenant-17",
    "safety_identifier": "hash-17",
    "prompt_cache_retention": "24h",
    "service_tier": "priority",
}
TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
# The SDK has no arguments for these yet; the Open Responses schema does.
PENALTIES = {"presence_penalty": 0.5, "frequency_penalty": -0.25}


def echoes_everything(shown: dict[str, Any], parent: str) -> None:
    assert set(shown) == RESPONSE_FIELDS
    assert {name: shown[name] for name in SENT} == SENT
    assert {name: shown[name] for name in PENALTIES} == PENALTIES
    assert shown["previous_response_id"] == parent
    assert [tool["name"] for tool in shown["tools"]] == ["get_weather"]
    assert (shown["background"], shown["conversation"]) == (False, None)
    Response.model_validate(shown)


def create(client: OpenAI, model: str, parent: str, **extra: Any) -> Any:
    return client.responses.create(
        model=model,
        input="hello there",
        previous_response_id=parent,
        tools=[TOOL],  # type: ignore[list-item]
        extra_body=PENALTIES,
        **SENT,
        **extra,
    )


@pytest.mark.parametrize("model", ["echo", "chat"])
def test_every_parameter_comes_back_in_the_body_and_on_get(client: OpenAI, model: str) -> None:
    parent = client.responses.create(model=model, input="first").id

    response = create(client, model, parent)

    echoes_everything(response.to_dict(), parent)
    assert response.status == "completed"
    assert response.completed_at is not None
    assert response.completed_at >= response.created_at
    echoes_everything(client.responses.retrieve(response.id).to_dict(), parent)


@pytest.mark.parametrize("model", ["echo", "chat"])
def test_every_parameter_comes_back_in_the_stream_events(client: OpenAI, model: str) -> None:
    parent = client.responses.create(model=model, input="first").id

    events = list(create(client, model, parent, stream=True))

    kinds = ("response.created", "response.in_progress", "response.completed")
    shown = {e.type: e.response.to_dict() for e in events if e.type in kinds}
    assert set(shown) == set(kinds)
    for kind in kinds:
        echoes_everything(shown[kind], parent)
    final = shown["response.completed"]
    assert final["usage"]["input_tokens_details"]["cached_tokens"] >= 0
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] >= 0
    echoes_everything(client.responses.retrieve(final["id"]).to_dict(), parent)


def test_unsent_parameters_show_openai_defaults(client: OpenAI) -> None:
    shown = client.responses.create(model="echo", input="hi").to_dict()

    assert set(shown) == RESPONSE_FIELDS
    assert (shown["presence_penalty"], shown["frequency_penalty"]) == (0, 0)
    assert (shown["top_logprobs"], shown["max_tool_calls"]) == (0, None)
    assert (shown["service_tier"], shown["prompt_cache_retention"]) == ("default", None)


def test_penalties_reach_a_chat_server(client: OpenAI, upstream: FakeUpstream) -> None:
    client.responses.create(model="chat", input="hi", extra_body=PENALTIES)

    sent = upstream.requests[-1].body
    assert {name: sent[name] for name in PENALTIES} == PENALTIES


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("name", ["presence_penalty", "frequency_penalty"])
def test_a_penalty_anthropic_cannot_apply_is_refused_by_name(
    client: OpenAI, name: str, stream: bool
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="claude", input="hi", stream=stream, extra_body={name: 0.5})
    assert raised.value.param == name


def test_zero_penalties_are_served_by_anthropic(client: OpenAI) -> None:
    response = client.responses.create(
        model="claude", input="hi", extra_body={"presence_penalty": 0, "frequency_penalty": 0}
    )
    assert response.status == "completed"


@pytest.mark.parametrize("model", ["echo", "chat", "claude"])
def test_log_probabilities_are_refused_by_name(client: OpenAI, model: str) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model=model, input="hi", top_logprobs=5)
    assert raised.value.param == "top_logprobs"
    assert "log probabilities" in raised.value.message


def test_an_assistant_message_phase_is_accepted(client: OpenAI) -> None:
    response = client.responses.create(
        model="echo",
        input=[
            {"type": "message", "role": "assistant", "phase": "commentary", "content": "Hm."},
            {"type": "message", "role": "assistant", "phase": "final_answer", "content": "4"},
            {"type": "message", "role": "user", "content": "Repeat only the number."},
        ],
    )
    assert response.status == "completed"
