"""Responses items ↔ Anthropic Messages, as the Anthropic API sees them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.settings import settings_of
from tether.core.completion import (
    CompletionRequest,
    Delta,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from tether.core.items import normalize_input
from tether.errors import InvalidRequest
from tether.providers import anthropic
from tether.providers.anthropic import DEFAULT_MAX_TOKENS, EventReader

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def body(items: Any = "hi", *, stream: bool = False, **settings: Any) -> dict[str, Any]:
    req = CompletionRequest("claude-sonnet-4-5", normalize_input(items), settings_of(**settings))
    return anthropic.request_body(req, stream=stream)


# --- request --------------------------------------------------------------------------


def test_minimal_body_has_default_max_tokens_and_no_system() -> None:
    assert body("hi") == {
        "model": "claude-sonnet-4-5",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }
    assert DEFAULT_MAX_TOKENS == 4096


def test_max_output_tokens_sets_max_tokens() -> None:
    assert body(max_output_tokens=200)["max_tokens"] == 200


def test_system_joins_instructions_then_system_and_developer_messages() -> None:
    sent = body(
        [
            {"role": "system", "content": "no emoji"},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": "be brief"},
        ],
        instructions="Answer in French.",
    )

    assert sent["system"] == "Answer in French.\n\nno emoji\n\nbe brief"
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def test_consecutive_same_role_messages_are_merged() -> None:
    sent = body(
        [
            {"role": "user", "content": "first"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": "a"},
            {"role": "assistant", "content": "b"},
        ]
    )

    assert sent["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        },
    ]


def test_messages_merged_across_a_dropped_system_message_still_alternate() -> None:
    sent = body(
        [
            {"role": "user", "content": "one"},
            {"role": "developer", "content": "note"},
            {"role": "user", "content": "two"},
        ]
    )

    assert [m["role"] for m in sent["messages"]] == ["user"]
    assert len(sent["messages"][0]["content"]) == 2


def test_empty_text_is_dropped_and_an_empty_message_disappears() -> None:
    sent = body(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": ""},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": ""},
                    {"type": "input_text", "text": "again"},
                ],
            },
        ]
    )

    assert sent["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "again"}],
        }
    ]


def test_images_become_base64_or_url_sources() -> None:
    content = [
        {"type": "input_text", "text": "compare"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
        {"type": "input_image", "image_url": "https://example.com/cat.jpg"},
    ]

    [message] = body([{"role": "user", "content": content}])["messages"]

    assert message["content"] == [
        {"type": "text", "text": "compare"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_tool_round_trip_becomes_tool_use_and_tool_result_blocks() -> None:
    sent = body(
        [
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": "Checking."},
            {
                "type": "function_call",
                "call_id": "toolu_1",
                "name": "get_weather",
                "arguments": '{"city": "Paris"}',
            },
            {"type": "function_call_output", "call_id": "toolu_1", "output": "sunny, 21C"},
            {"role": "user", "content": "thanks"},
        ]
    )

    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "weather in Paris?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny, 21C"},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]


def test_parallel_calls_and_results_share_one_message_each() -> None:
    sent = body(
        [
            {"role": "user", "content": "both"},
            {"type": "function_call", "call_id": "t1", "name": "a", "arguments": "{}"},
            {"type": "function_call", "call_id": "t2", "name": "b", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "t1", "output": "A"},
            {"type": "function_call_output", "call_id": "t2", "output": "B"},
        ]
    )

    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert [b["id"] for b in sent["messages"][1]["content"]] == ["t1", "t2"]
    assert [b["tool_use_id"] for b in sent["messages"][2]["content"]] == ["t1", "t2"]


@pytest.mark.parametrize("arguments", ["", "not json", "[1, 2]"])
def test_unusable_call_arguments_become_an_empty_input(arguments: str) -> None:
    sent = body([{"type": "function_call", "call_id": "t", "name": "f", "arguments": arguments}])

    assert sent["messages"][0]["content"][0]["input"] == {}


def test_tools_use_input_schema() -> None:
    sent = body(tools=[WEATHER_TOOL, {"type": "function", "name": "ping"}])

    assert sent["tools"] == [
        {
            "name": "get_weather",
            "input_schema": WEATHER_TOOL["parameters"],
            "description": "Current weather for a city",
        },
        {"name": "ping", "input_schema": {"type": "object", "properties": {}}},
    ]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", True, {"type": "auto"}),
        ("required", True, {"type": "any"}),
        (
            {"type": "function", "name": "get_weather"},
            True,
            {"type": "tool", "name": "get_weather"},
        ),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    ],
)
def test_tool_choice_mapping(choice: Any, parallel: bool, expected: dict[str, Any]) -> None:
    sent = body(tools=[WEATHER_TOOL], tool_choice=choice, parallel_tool_calls=parallel)

    assert sent["tool_choice"] == expected


def test_tool_choice_none_sends_no_tools() -> None:
    sent = body(tools=[WEATHER_TOOL], tool_choice="none")

    assert "tools" not in sent
    assert "tool_choice" not in sent


def test_sampling_and_stream_flags() -> None:
    sent = body(temperature=0.0, top_p=0.5, stream=True)

    assert sent["temperature"] == 0.0
    assert sent["top_p"] == 0.5
    assert sent["stream"] is True
    assert "stream" not in body()


@pytest.mark.parametrize("name", ["presence_penalty", "frequency_penalty"])
def test_a_non_zero_penalty_is_refused_naming_it(name: str) -> None:
    penalty: dict[str, Any] = {name: 0.5}
    with pytest.raises(InvalidRequest) as raised:
        body(**penalty)

    assert raised.value.status == 400
    assert raised.value.param == name
    assert name in raised.value.message


def test_zero_penalties_are_accepted_and_not_sent() -> None:
    sent = body(presence_penalty=0.0, frequency_penalty=0.0)

    assert "presence_penalty" not in sent
    assert "frequency_penalty" not in sent


# --- completion() ---------------------------------------------------------------------


def test_completion_with_text_tool_use_and_cache_usage() -> None:
    raw = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "text", "text": "Let me check. "},
            {"type": "text", "text": "One moment."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
            {"type": "tool_use", "id": "toolu_2", "name": "ping", "input": {}},
        ],
        "stop_reason": "tool_use",
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 5,
            "output_tokens": 40,
        },
    }

    done = anthropic.completion(raw)

    assert done.text == "Let me check. One moment."
    assert done.tool_calls == [
        ToolCall("toolu_1", "get_weather", '{"city":"Paris"}'),
        ToolCall("toolu_2", "ping", "{}"),
    ]
    assert done.finish == "tool_calls"
    assert done.usage == Usage(input_tokens=115, output_tokens=40, cached_tokens=100)


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
    ],
)
def test_completion_stop_reasons(stop: str | None, finish: str) -> None:
    raw: dict[str, Any] = {
        "content": [{"type": "text", "text": "x"}],
        "stop_reason": stop,
        "usage": {},
    }

    assert anthropic.completion(raw).finish == finish


# --- EventReader ----------------------------------------------------------------------


def read_all(events: list[dict[str, Any]]) -> list[Delta]:
    reader = EventReader()
    deltas: list[Delta] = []
    for event in events:
        deltas += reader.read(event)
    return [*deltas, reader.end()]


def message_start(**usage: int) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 25, "output_tokens": 1, **usage},
        },
    }


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def block_stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(stop: str, output_tokens: int) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }


def test_event_reader_text_then_tool_use_with_json_deltas() -> None:
    events = [
        message_start(cache_read_input_tokens=200),
        block_start(0, {"type": "text", "text": ""}),
        {"type": "ping"},
        block_delta(0, {"type": "text_delta", "text": "Checking "}),
        block_delta(0, {"type": "text_delta", "text": "now."}),
        block_stop(0),
        block_start(1, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}),
        block_delta(1, {"type": "input_json_delta", "partial_json": ""}),
        block_delta(1, {"type": "input_json_delta", "partial_json": '{"city": '}),
        block_delta(1, {"type": "input_json_delta", "partial_json": '"Paris"}'}),
        block_stop(1),
        message_delta("tool_use", 42),
        {"type": "message_stop"},
    ]

    assert read_all(events) == [
        TextDelta("Checking "),
        TextDelta("now."),
        ToolCallDelta(index=1, call_id="toolu_1", name="get_weather"),
        ToolCallDelta(index=1, arguments='{"city": '),
        ToolCallDelta(index=1, arguments='"Paris"}'),
        StreamEnd("tool_calls", Usage(input_tokens=225, output_tokens=42, cached_tokens=200)),
    ]


def test_event_reader_tool_use_without_input_deltas_gets_empty_object_arguments() -> None:
    events = [
        message_start(),
        block_start(0, {"type": "tool_use", "id": "toolu_9", "name": "ping", "input": {}}),
        block_delta(0, {"type": "input_json_delta", "partial_json": ""}),
        block_stop(0),
        block_start(1, {"type": "tool_use", "id": "toolu_10", "name": "pong", "input": {}}),
        block_stop(1),
        message_delta("tool_use", 12),
        {"type": "message_stop"},
    ]

    deltas = read_all(events)

    assert deltas == [
        ToolCallDelta(index=0, call_id="toolu_9", name="ping"),
        ToolCallDelta(index=0, arguments="{}"),
        ToolCallDelta(index=1, call_id="toolu_10", name="pong"),
        ToolCallDelta(index=1, arguments="{}"),
        StreamEnd("tool_calls", Usage(input_tokens=25, output_tokens=12)),
    ]


def test_event_reader_max_tokens_is_length() -> None:
    events = [
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        block_delta(0, {"type": "text_delta", "text": "cut sh"}),
        block_stop(0),
        message_delta("max_tokens", 2),
        {"type": "message_stop"},
    ]

    assert read_all(events)[-1] == StreamEnd("length", Usage(input_tokens=25, output_tokens=2))


def test_event_reader_text_in_block_start_is_not_lost() -> None:
    events = [message_start(), block_start(0, {"type": "text", "text": "Hi"}), block_stop(0)]

    assert read_all(events)[0] == TextDelta("Hi")


def test_event_reader_ignores_thinking_blocks() -> None:
    events = [
        message_start(),
        block_start(0, {"type": "thinking", "thinking": ""}),
        block_delta(0, {"type": "thinking_delta", "thinking": "hmm"}),
        block_delta(0, {"type": "signature_delta", "signature": "abc"}),
        block_stop(0),
        block_start(1, {"type": "text", "text": ""}),
        block_delta(1, {"type": "text_delta", "text": "answer"}),
        block_stop(1),
        message_delta("end_turn", 5),
    ]

    assert read_all(events) == [
        TextDelta("answer"),
        StreamEnd("stop", Usage(input_tokens=25, output_tokens=5)),
    ]
