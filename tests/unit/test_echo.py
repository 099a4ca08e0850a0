"""EchoProvider: the built-in, deterministic model people try tether with."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.settings import settings_of
from tether.core.completion import (
    Completion,
    CompletionRequest,
    Delta,
    StreamEnd,
    TextDelta,
    ToolCallDelta,
)
from tether.core.items import normalize_input
from tether.providers.echo import EchoProvider

LOOKUP_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "lookup",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
}


def request(items: Any, **settings: Any) -> CompletionRequest:
    return CompletionRequest("echo", normalize_input(items), settings_of(**settings))


async def collect(provider: EchoProvider, req: CompletionRequest) -> list[Delta]:
    return [delta async for batch in provider.stream(req) for delta in batch]


async def test_echo_repeats_the_last_user_text() -> None:
    req = request(
        [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "first"},
            {"role": "user", "content": "second message"},
        ]
    )

    done = await EchoProvider().complete(req)

    assert done.text == "second message"
    assert done.tool_calls == []
    assert done.finish == "stop"
    assert done.usage.output_tokens == 2
    assert done.usage.input_tokens > 0


async def test_echo_joins_the_text_parts_of_the_last_user_message() -> None:
    content = [
        {"type": "input_text", "text": "look: "},
        {"type": "input_image", "image_url": "https://example.com/x.png"},
        {"type": "input_text", "text": "a cat"},
    ]

    done = await EchoProvider().complete(request([{"role": "user", "content": content}]))

    assert done.text == "look: a cat"


async def test_transcript_lists_instructions_and_every_message() -> None:
    req = request(
        [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "again"},
        ],
        instructions="Answer in French.",
    )

    done = await EchoProvider("transcript").complete(req)

    assert done.text.splitlines() == [
        "instructions: Answer in French.",
        "developer: be brief",
        "user: hi",
        "assistant: hello",
        "user: again",
    ]


async def test_transcript_shows_tool_calls_and_outputs() -> None:
    req = request(
        [
            {"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        ]
    )

    done = await EchoProvider("transcript").complete(req)

    assert done.text.splitlines() == [
        "user: weather?",
        "function_call get_weather: {}",
        "function_call_output: sunny",
    ]


async def test_call_command_with_a_matching_tool_calls_it() -> None:
    req = request('call lookup {"q": "tether"}', tools=[LOOKUP_TOOL])

    done = await EchoProvider().complete(req)

    assert done.text == ""
    assert done.finish == "tool_calls"
    [call] = done.tool_calls
    assert call.name == "lookup"
    assert json.loads(call.arguments) == {"q": "tether"}
    assert call.call_id.startswith("call_")


async def test_call_command_without_arguments_sends_an_empty_object() -> None:
    done = await EchoProvider().complete(request("call lookup", tools=[LOOKUP_TOOL]))

    assert done.tool_calls[0].arguments == "{}"


@pytest.mark.parametrize(
    ("text", "settings"),
    [
        ('call lookup {"q": 1}', {}),  # no tools offered
        ('call other {"q": 1}', {"tools": [LOOKUP_TOOL]}),  # not an offered tool
        ('call lookup {"q": 1}', {"tools": [LOOKUP_TOOL], "tool_choice": "none"}),
    ],
)
async def test_call_command_is_echoed_when_it_cannot_call(text: str, settings: Any) -> None:
    done = await EchoProvider().complete(request(text, **settings))

    assert done.tool_calls == []
    assert done.text == text
    assert done.finish == "stop"


async def test_after_a_tool_output_it_reports_what_the_tool_said() -> None:
    req = request(
        [
            {"role": "user", "content": 'call lookup {"q": "x"}'},
            {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "42 results"},
        ],
        tools=[LOOKUP_TOOL],
    )

    done = await EchoProvider().complete(req)

    assert done.text == "tool said: 42 results"
    assert done.tool_calls == []


async def test_max_output_tokens_truncates_and_finishes_length() -> None:
    done = await EchoProvider().complete(request("one two three four five", max_output_tokens=3))

    assert done.text.split() == ["one", "two", "three"]
    assert done.finish == "length"
    assert done.usage.output_tokens == 3


async def test_max_output_tokens_at_the_length_does_not_truncate() -> None:
    done = await EchoProvider().complete(request("one two three", max_output_tokens=3))

    assert done.text == "one two three"
    assert done.finish == "stop"


async def test_stream_deltas_concatenate_to_the_complete_text() -> None:
    provider = EchoProvider()
    req = request("  the quick\nbrown   fox  ")

    deltas = await collect(provider, req)
    done = await provider.complete(req)

    texts = [d.text for d in deltas if isinstance(d, TextDelta)]
    assert len(texts) > 1
    assert "".join(texts) == done.text == "  the quick\nbrown   fox  "
    assert [d for d in deltas if isinstance(d, StreamEnd)] == [deltas[-1]]
    assert deltas[-1] == StreamEnd(done.finish, done.usage)


async def test_stream_of_a_tool_call_gives_id_and_name_then_arguments() -> None:
    deltas = await collect(EchoProvider(), request('call lookup {"q": 1}', tools=[LOOKUP_TOOL]))

    first, second, end = deltas
    assert isinstance(first, ToolCallDelta)
    assert (first.index, first.name) == (0, "lookup")
    assert first.call_id is not None
    assert second == ToolCallDelta(index=0, arguments='{"q": 1}')
    assert isinstance(end, StreamEnd)
    assert end.finish == "tool_calls"


async def test_stream_truncated_ends_with_length() -> None:
    deltas = await collect(EchoProvider(), request("a b c d", max_output_tokens=2))

    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)).split() == ["a", "b"]
    assert isinstance(deltas[-1], StreamEnd)
    assert deltas[-1].finish == "length"
    assert sum(isinstance(d, StreamEnd) for d in deltas) == 1


async def test_no_user_message_echoes_nothing() -> None:
    done: Completion = await EchoProvider().complete(request([]))

    assert done.text == ""
    assert done.finish == "stop"


async def test_aclose_is_harmless() -> None:
    provider = EchoProvider()

    await provider.aclose()

    assert (await provider.complete(request("still works"))).text == "still works"
