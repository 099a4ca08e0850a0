"""Responses items ↔ OpenAI Chat Completions, as an OpenAI-compatible server sees them."""

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
from tether.providers import openai_chat
from tether.providers.openai_chat import ChunkReader

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}
PNG_DATA_URL = "data:image/png;base64,iVBORw0KGgo="


def request(items: Any = "hi", **settings: Any) -> CompletionRequest:
    return CompletionRequest("qwen2.5-7b", normalize_input(items), settings_of(**settings))


def body(items: Any = "hi", *, stream: bool = False, **settings: Any) -> dict[str, Any]:
    return openai_chat.request_body(request(items, **settings), stream=stream)


# --- messages -------------------------------------------------------------------------


def test_instructions_lead_as_a_system_message() -> None:
    messages = body("hi", instructions="Answer in French.")["messages"]

    assert messages == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "hi"},
    ]


def test_developer_and_system_messages_become_system() -> None:
    messages = body(
        [
            {"role": "developer", "content": "be brief"},
            {"role": "system", "content": "no emoji"},
            {"role": "user", "content": "hi"},
        ]
    )["messages"]

    assert messages == [
        {"role": "system", "content": "be brief"},
        {"role": "system", "content": "no emoji"},
        {"role": "user", "content": "hi"},
    ]


def test_single_text_part_is_sent_as_a_plain_string() -> None:
    messages = body([{"role": "user", "content": [{"type": "input_text", "text": "hello"}]}])[
        "messages"
    ]

    assert messages == [{"role": "user", "content": "hello"}]


def test_multi_part_user_content_maps_images_to_image_url_parts() -> None:
    content = [
        {"type": "input_text", "text": "compare"},
        {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "high"},
        {"type": "input_image", "image_url": PNG_DATA_URL},
    ]

    [message] = body([{"role": "user", "content": content}])["messages"]

    assert message == {
        "role": "user",
        "content": [
            {"type": "text", "text": "compare"},
            {
                "type": "image_url",
                "image_url": {"url": "https://example.com/a.png", "detail": "high"},
            },
            {"type": "image_url", "image_url": {"url": PNG_DATA_URL, "detail": "auto"}},
        ],
    }


def test_a_lone_image_is_still_a_part_list() -> None:
    content = [{"type": "input_image", "image_url": PNG_DATA_URL}]

    [message] = body([{"role": "user", "content": content}])["messages"]

    assert message["content"] == [
        {"type": "image_url", "image_url": {"url": PNG_DATA_URL, "detail": "auto"}}
    ]


def test_assistant_output_text_becomes_plain_content() -> None:
    messages = body(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello there"},
            {"role": "user", "content": "again"},
        ]
    )["messages"]

    assert messages[1] == {"role": "assistant", "content": "hello there"}


def test_assistant_text_and_following_calls_merge_into_one_message() -> None:
    messages = body(
        [
            {"role": "user", "content": "weather in Paris and Rome?"},
            {"role": "assistant", "content": "Checking both."},
            {
                "type": "function_call",
                "call_id": "call_p",
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
            },
            {
                "type": "function_call",
                "call_id": "call_r",
                "name": "get_weather",
                "arguments": '{"city":"Rome"}',
            },
            {"type": "function_call_output", "call_id": "call_p", "output": "sunny"},
            {"type": "function_call_output", "call_id": "call_r", "output": "rain"},
        ]
    )["messages"]

    assert messages == [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking both.",
            "tool_calls": [
                {
                    "id": "call_p",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_r",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_p", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_r", "content": "rain"},
    ]


def test_a_call_with_no_text_before_it_is_an_assistant_message_with_null_content() -> None:
    messages = body(
        [
            {"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        ]
    )["messages"]

    assert messages[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        ],
    }


def test_empty_assistant_text_before_a_call_becomes_null_content() -> None:
    messages = body(
        [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": ""},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        ]
    )["messages"]

    assert len(messages) == 2
    assert messages[1]["content"] is None
    assert messages[1]["tool_calls"][0]["id"] == "c1"


def test_a_call_after_a_tool_result_starts_a_new_assistant_message() -> None:
    messages = body(
        [
            {"role": "user", "content": "go"},
            {"type": "function_call", "call_id": "c1", "name": "step", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {"type": "function_call", "call_id": "c2", "name": "step", "arguments": "{}"},
        ]
    )["messages"]

    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[3]["tool_calls"][0]["id"] == "c2"


def test_function_call_output_parts_are_joined_into_tool_content() -> None:
    messages = body(
        [
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": [
                    {"type": "input_text", "text": "part one, "},
                    {"type": "input_text", "text": "part two"},
                ],
            },
        ]
    )["messages"]

    assert messages[-1] == {"role": "tool", "tool_call_id": "c1", "content": "part one, part two"}


# --- request settings -----------------------------------------------------------------


def test_tools_are_wrapped_in_function_objects() -> None:
    sent = body(tools=[WEATHER_TOOL])

    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER_TOOL["parameters"],
                "description": "Current weather for a city",
                "strict": True,
            },
        }
    ]
    assert sent["tool_choice"] == "auto"
    assert sent["parallel_tool_calls"] is True


def test_a_tool_without_parameters_gets_an_object_schema() -> None:
    sent = body(tools=[{"type": "function", "name": "ping"}])

    assert sent["tools"] == [
        {"type": "function", "function": {"name": "ping", "parameters": {"type": "object"}}}
    ]


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_string_tool_choice_passes_through(choice: str) -> None:
    assert body(tools=[WEATHER_TOOL], tool_choice=choice)["tool_choice"] == choice


def test_function_tool_choice_names_the_function() -> None:
    sent = body(tools=[WEATHER_TOOL], tool_choice={"type": "function", "name": "get_weather"})

    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_parallel_tool_calls_false_is_sent() -> None:
    assert body(tools=[WEATHER_TOOL], parallel_tool_calls=False)["parallel_tool_calls"] is False


def test_no_tools_means_no_tool_fields() -> None:
    sent = body("hi")

    assert sent == {"model": "qwen2.5-7b", "messages": [{"role": "user", "content": "hi"}]}


def test_sampling_and_max_output_tokens_map_to_chat_names() -> None:
    sent = body(temperature=0.2, top_p=0.9, max_output_tokens=64)

    assert sent["temperature"] == 0.2
    assert sent["top_p"] == 0.9
    assert sent["max_tokens"] == 64
    assert "max_output_tokens" not in sent


def test_zero_temperature_is_sent() -> None:
    assert body(temperature=0.0)["temperature"] == 0.0


def test_penalties_pass_through_under_their_own_names() -> None:
    sent = body(presence_penalty=0.5, frequency_penalty=-1.25, stream=True)

    assert sent["presence_penalty"] == 0.5
    assert sent["frequency_penalty"] == -1.25


def test_zero_penalties_are_sent_and_unsent_ones_are_not() -> None:
    sent = body(presence_penalty=0.0, frequency_penalty=0.0)

    assert (sent["presence_penalty"], sent["frequency_penalty"]) == (0.0, 0.0)
    assert "presence_penalty" not in body()
    assert "frequency_penalty" not in body()


def test_json_schema_text_format_becomes_response_format() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    text = {"format": {"type": "json_schema", "name": "count", "schema": schema, "strict": True}}

    sent = body(text=text)

    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "count", "schema": schema, "strict": True},
    }


def test_json_object_text_format_becomes_json_object() -> None:
    sent = body(text={"format": {"type": "json_object"}})

    assert sent["response_format"] == {"type": "json_object"}


def test_plain_text_format_sends_no_response_format() -> None:
    assert "response_format" not in body(text={"format": {"type": "text"}})


def test_stream_asks_for_usage_in_the_last_chunk() -> None:
    sent = body(stream=True)

    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert "stream" not in body(stream=False)


# --- completion() ---------------------------------------------------------------------


def chat_completion(message: dict[str, Any], finish: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "qwen2.5-7b",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        **extra,
    }


def test_completion_text_and_usage_details() -> None:
    raw = chat_completion(
        {"role": "assistant", "content": "Bonjour"},
        "stop",
        usage={
            "prompt_tokens": 12,
            "completion_tokens": 30,
            "total_tokens": 42,
            "prompt_tokens_details": {"cached_tokens": 8},
            "completion_tokens_details": {"reasoning_tokens": 20},
        },
    )

    done = openai_chat.completion(raw)

    assert done.text == "Bonjour"
    assert done.tool_calls == []
    assert done.finish == "stop"
    assert done.usage == Usage(
        input_tokens=12, output_tokens=30, cached_tokens=8, reasoning_tokens=20
    )


def test_completion_tool_calls_keep_their_ids_in_order() -> None:
    raw = chat_completion(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {"id": "call_b", "type": "function", "function": {"name": "ping", "arguments": ""}},
            ],
        },
        "tool_calls",
    )

    done = openai_chat.completion(raw)

    assert done.text == ""
    assert done.finish == "tool_calls"
    assert done.tool_calls == [
        ToolCall("call_a", "get_weather", '{"city":"Paris"}'),
        ToolCall("call_b", "ping", "{}"),
    ]


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
        ("content_filter", "content_filter"),
        (None, "stop"),
        ("something_new", "stop"),
    ],
)
def test_completion_finish_reasons(reason: str | None, finish: str) -> None:
    raw = chat_completion({"role": "assistant", "content": "x"}, reason)

    assert openai_chat.completion(raw).finish == finish


def test_completion_without_usage_counts_zero() -> None:
    raw = chat_completion({"role": "assistant", "content": "x"}, "stop")

    assert openai_chat.completion(raw).usage == Usage()


# --- ChunkReader ----------------------------------------------------------------------


def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "qwen2.5-7b",
        "choices": choices,
        **extra,
    }


def read_all(chunks: list[dict[str, Any]]) -> list[Delta]:
    reader = ChunkReader()
    deltas: list[Delta] = []
    for raw in chunks:
        deltas += reader.read(raw)
    return [*deltas, reader.end()]


def test_chunk_reader_text_then_tool_call_with_usage_chunk() -> None:
    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Let me "}),
        chunk({"content": "check."}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_w",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk({}, "tool_calls", usage=None),
        chunk(
            None,
            usage={
                "prompt_tokens": 20,
                "completion_tokens": 9,
                "total_tokens": 29,
                "prompt_tokens_details": {"cached_tokens": 16},
            },
        ),
    ]

    assert read_all(chunks) == [
        TextDelta("Let me "),
        TextDelta("check."),
        ToolCallDelta(index=0, arguments="", call_id="call_w", name="get_weather"),
        ToolCallDelta(index=0, arguments='{"city":'),
        ToolCallDelta(index=0, arguments='"Paris"}'),
        StreamEnd("tool_calls", Usage(input_tokens=20, output_tokens=9, cached_tokens=16)),
    ]


def test_chunk_reader_parallel_calls_keep_their_indexes() -> None:
    chunks = [
        chunk(
            {
                "role": "assistant",
                "tool_calls": [
                    {"index": 0, "id": "c0", "function": {"name": "a", "arguments": "{}"}}
                ],
            }
        ),
        chunk({"tool_calls": [{"index": 1, "id": "c1", "function": {"name": "b"}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
    ]

    deltas = read_all(chunks)

    assert deltas == [
        ToolCallDelta(index=0, arguments="{}", call_id="c0", name="a"),
        ToolCallDelta(index=1, arguments="", call_id="c1", name="b"),
        ToolCallDelta(index=1, arguments="{}"),
        StreamEnd("tool_calls", Usage()),
    ]


def test_chunk_reader_length_finish() -> None:
    deltas = read_all([chunk({"role": "assistant", "content": "trunc"}), chunk({}, "length")])

    assert deltas == [TextDelta("trunc"), StreamEnd("length", Usage())]


def test_chunk_reader_without_finish_or_usage_ends_stop_with_zero_usage() -> None:
    assert read_all([chunk({"content": "hi"})]) == [TextDelta("hi"), StreamEnd("stop", Usage())]
