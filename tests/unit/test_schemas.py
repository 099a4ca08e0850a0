"""Request bodies as the openai SDK sends them, and 400s that name the offending field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tether.api.errors import invalid_body
from tether.api.schemas import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InputItemsQuery,
    MessageItem,
    ResponseCreate,
)
from tether.core.settings import ToolChoiceFunction
from tether.errors import InvalidRequest

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}


def create(**body: Any) -> ResponseCreate:
    return ResponseCreate.model_validate({"model": "echo", **body})


def rejection(**body: Any) -> InvalidRequest:
    """The error a client gets for this body."""
    with pytest.raises(ValidationError) as caught:
        create(**body)
    return invalid_body(caught.value)


# --- accepted -------------------------------------------------------------------------------


def test_string_input_with_defaults() -> None:
    req = create(input="hello")

    assert req.input == "hello"
    assert req.store is True
    assert req.stream is False
    assert req.tools == []
    assert req.tool_choice == "auto"
    assert req.parallel_tool_calls is True


def test_easy_input_messages_without_type() -> None:
    req = create(
        input=[
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "again"},
        ]
    )

    assert isinstance(req.input, list)
    assert all(isinstance(item, MessageItem) for item in req.input)
    assert [item.role for item in req.input if isinstance(item, MessageItem)] == [
        "developer",
        "user",
        "assistant",
        "user",
    ]


def test_message_with_text_and_image_parts() -> None:
    req = create(
        input=[
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "what is this?"},
                    {
                        "type": "input_image",
                        "image_url": "data:image/png;base64,AAA=",
                        "detail": "low",
                    },
                ],
            }
        ]
    )

    assert isinstance(req.input, list)
    [message] = req.input
    assert isinstance(message, MessageItem)
    assert [part.type for part in message.content if not isinstance(part, str)] == [
        "input_text",
        "input_image",
    ]


def test_a_tool_round_trip_as_the_sdk_sends_it() -> None:
    req = create(
        previous_response_id="resp_" + "a" * 64,
        input=[
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
                "status": "completed",
            },
            {"type": "function_call_output", "call_id": "call_1", "output": '{"temp":21}'},
        ],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
    )

    assert isinstance(req.input, list)
    call, output = req.input
    assert isinstance(call, FunctionCallItem)
    assert (call.call_id, call.name, call.arguments) == (
        "call_1",
        "get_weather",
        '{"city":"Paris"}',
    )
    assert isinstance(output, FunctionCallOutputItem)
    assert output.output == '{"temp":21}'
    assert req.tool_choice == ToolChoiceFunction(type="function", name="get_weather")
    assert req.tools[0].name == "get_weather"
    assert req.parallel_tool_calls is False


def test_output_items_of_an_earlier_response_can_be_sent_back() -> None:
    req = create(
        input=[
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "hi", "annotations": []}],
            }
        ]
    )

    assert isinstance(req.input, list)
    assert isinstance(req.input[0], MessageItem)


def test_unknown_top_level_fields_are_ignored() -> None:
    req = create(input="hi", service_tier="auto", prompt_cache_key="k", include=["x"])

    assert req.input == "hi"


def test_sampling_metadata_and_text_format() -> None:
    req = create(
        input="hi",
        temperature=0,
        top_p=1,
        max_output_tokens=16,
        metadata={"team": "a"},
        text={"format": {"type": "json_object"}},
        store=False,
        stream=True,
    )

    assert (req.temperature, req.top_p, req.max_output_tokens) == (0, 1, 16)
    assert req.metadata == {"team": "a"}
    assert req.text == {"format": {"type": "json_object"}}
    assert (req.store, req.stream) == (False, True)


# --- rejected, naming the field ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [{"role": "bot", "content": "x"}]}, "input[0].role"),
        ({"input": "x", "temperature": 3}, "temperature"),
        ({"input": "x", "temperature": -0.1}, "temperature"),
        ({"input": "x", "top_p": 1.5}, "top_p"),
        ({"input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"input": "x", "tools": [{"type": "function", "name": "has space"}]}, "tools[0].name"),
        ({"input": [{"type": "reasoning", "summary": []}]}, "input[0]"),
        (
            {"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
            "input[0].call_id",
        ),
        ({"input": [{"type": "function_call_output", "call_id": "c"}]}, "input[0].output"),
        ({"input": ["just a string"]}, "input[0]"),
        ({"input": "x", "metadata": {"a": 1}}, "metadata.a"),
        ({}, "input"),
        ({"input": "x", "model": ""}, "model"),
    ],
)
def test_invalid_bodies_name_the_param(body: dict[str, Any], param: str) -> None:
    error = rejection(**body)

    assert error.param == param
    assert error.status == 400
    assert error.type == "invalid_request_error"
    assert error.message.startswith(f"Invalid value for '{param}': ")


def test_the_error_body_has_openai_shape() -> None:
    body = rejection(input=[{"role": "bot", "content": "x"}]).body()

    assert body == {
        "error": {
            "message": body["error"]["message"],  # type: ignore[index]
            "type": "invalid_request_error",
            "param": "input[0].role",
            "code": None,
        }
    }
    assert "'user'" in body["error"]["message"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("part", "param"),
    [
        ({"type": "input_image", "detail": "huge"}, "input[0].content[0].detail"),
        ({"type": "input_text"}, "input[0].content[0].text"),
    ],
)
def test_bad_content_part_names_the_part_field(part: dict[str, Any], param: str) -> None:
    error = rejection(input=[{"role": "user", "content": [part]}])

    assert error.param == param


@pytest.mark.parametrize(
    ("choice", "param"),
    [({"type": "function"}, "tool_choice.name"), ("sometimes", "tool_choice")],
)
def test_bad_tool_choice_names_tool_choice(choice: Any, param: str) -> None:
    error = rejection(input="x", tool_choice=choice)

    assert error.param == param


def test_input_items_query_defaults_and_bounds() -> None:
    query = InputItemsQuery.model_validate({})

    assert (query.after, query.limit, query.order) == (None, 20, "desc")
    for bad in ({"limit": 0}, {"limit": 101}, {"order": "up"}):
        with pytest.raises(ValidationError):
            InputItemsQuery.model_validate(bad)
    # What the SDK may add (`include`) is accepted, as OpenAI does.
    assert InputItemsQuery.model_validate({"include": "x", "limit": "5"}).limit == 5
