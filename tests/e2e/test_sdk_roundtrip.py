"""The official SDK against a running tether, for every provider kind."""

from __future__ import annotations

import json

import pytest
from openai import OpenAI

from tests.e2e.conftest import MODELS

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def reply(model: str, text: str) -> str:
    """What each model answers: echo repeats, the fake upstreams prefix."""
    return text if model == "echo" else f"reply to: {text}"


@pytest.mark.parametrize("model", MODELS)
def test_create_returns_a_complete_response(client: OpenAI, model: str) -> None:
    response = client.responses.create(model=model, input="hello there")
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.output_text == reply(model, "hello there")
    assert response.model == model
    assert response.usage is not None
    assert response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    message = response.output[0]
    assert message.type == "message"
    assert message.id.startswith("msg_")


@pytest.mark.parametrize("model", MODELS)
def test_stream_events_follow_the_protocol(client: OpenAI, model: str) -> None:
    events = list(client.responses.create(model=model, input="stream me please", stream=True))
    kinds = [event.type for event in events]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    ids = {events[0].response.id, events[-1].response.id}  # type: ignore[union-attr]
    assert len(ids) == 1
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    final = events[-1].response  # type: ignore[union-attr]
    assert deltas == final.output_text == reply(model, "stream me please")
    assert final.usage is not None
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_stream_helper_gives_the_final_response(client: OpenAI, model: str) -> None:
    with client.responses.stream(model=model, input="helper stream") as stream:
        texts = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(texts) == final.output_text == reply(model, "helper stream")


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_function_call_round_trip_with_full_items(client: OpenAI, model: str, stream: bool) -> None:
    ask = {"role": "user", "content": 'call get_weather {"city": "Paris"}'}
    first = _create(client, stream, model=model, input=[ask], tools=[WEATHER_TOOL])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id
    result = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"}
    items = [ask, call.model_dump(exclude_none=True), result]
    second = _create(client, stream, model=model, input=items, tools=[WEATHER_TOOL])
    assert second.output_text == "tool said: sunny, 21C"


def _create(client: OpenAI, stream: bool, **kwargs: object):  # type: ignore[no-untyped-def]
    if not stream:
        return client.responses.create(**kwargs)  # type: ignore[call-overload]
    with client.responses.stream(**kwargs) as events:  # type: ignore[call-overload]
        for _ in events:
            pass
        return events.get_final_response()


@pytest.mark.parametrize("model", ["chat", "claude"])
def test_settings_reach_the_upstream(client: OpenAI, upstream, model: str) -> None:  # type: ignore[no-untyped-def]
    upstream.clear()
    client.responses.create(
        model=model,
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "look"},
                    {"type": "input_image", "image_url": "https://example.com/cat.png"},
                ],
            }
        ],
        instructions="Be brief.",
        temperature=0.5,
        top_p=0.9,
        max_output_tokens=77,
    )
    body = upstream.requests[-1].body
    assert body["temperature"] == 0.5
    assert body["top_p"] == 0.9
    if model == "chat":
        assert body["model"] == "fake-chat"
        assert body["max_tokens"] == 77
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        parts = body["messages"][1]["content"]
        assert parts[1]["image_url"]["url"] == "https://example.com/cat.png"
    else:
        assert body["model"] == "fake-claude"
        assert body["max_tokens"] == 77
        assert body["system"] == "Be brief."
        blocks = body["messages"][0]["content"]
        assert blocks[1]["source"] == {"type": "url", "url": "https://example.com/cat.png"}


@pytest.mark.parametrize("model", MODELS)
def test_max_output_tokens_gives_an_incomplete_response(client: OpenAI, model: str) -> None:
    response = client.responses.create(
        model=model, input="one two three four five six seven", max_output_tokens=3
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


def test_models_lists_the_configured_names(client: OpenAI) -> None:
    names = {model.id for model in client.models.list()}
    assert {"echo", "transcript", "chat", "claude"} <= names
