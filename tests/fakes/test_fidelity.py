"""The fake upstream servers (tests/fakes/upstream.py) against the official OpenAI and Anthropic
SDKs: what the other suites rely on the fakes to do, checked here once."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.fakes.upstream import FakeUpstream, run_fake_upstream, script_reply

WEATHER_OPENAI: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
WEATHER_ANTHROPIC: list[Any] = [
    {
        "name": "get_weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
CALL_PARIS = 'call get_weather {"city": "Paris"}'


@pytest.fixture(scope="module")
def server() -> Iterator[FakeUpstream]:
    with run_fake_upstream() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeUpstream) -> Iterator[FakeUpstream]:
    server.clear()
    yield server
    server.clear()


@pytest.fixture
def oai(fake: FakeUpstream) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.openai_base, api_key="x", max_retries=0)


@pytest.fixture
def claude(fake: FakeUpstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.anthropic_base, api_key="x", max_retries=0)


def assert_connection_dropped(action: Callable[[], object]) -> None:
    """SDKs surface a dropped stream wrapped or as their httpx flavour's transport error."""
    with pytest.raises(Exception, match=r"(?i)connection") as info:
        action()
    names = {cls.__name__ for cls in type(info.value).__mro__}
    assert names & {"APIConnectionError", "TransportError"}, repr(info.value)


# --------------------------------------------------------------------------- scripting


def test_script_reply_rules() -> None:
    plain = script_reply(
        user_text="hi  there",
        tool_results=None,
        tools_offered=False,
        max_tokens=None,
        prompt_tokens=2,
        id_prefix="call_",
    )
    assert (plain.text, plain.completion_tokens, plain.truncated) == (
        "reply to: hi  there",
        4,
        False,
    )

    cut = script_reply(
        user_text="a b c d",
        tool_results=None,
        tools_offered=False,
        max_tokens=3,
        prompt_tokens=4,
        id_prefix="call_",
    )
    assert (cut.text, cut.completion_tokens, cut.truncated) == ("reply to: a", 3, True)

    call = script_reply(
        user_text=CALL_PARIS,
        tool_results=None,
        tools_offered=True,
        max_tokens=None,
        prompt_tokens=4,
        id_prefix="toolu_",
    )
    assert call.text == ""
    assert [(c.name, c.arguments) for c in call.tool_calls] == [
        ("get_weather", '{"city": "Paris"}')
    ]
    assert call.tool_calls[0].id.startswith("toolu_")
    assert call.completion_tokens == 3

    no_tools = script_reply(
        user_text=CALL_PARIS,
        tool_results=None,
        tools_offered=False,
        max_tokens=None,
        prompt_tokens=4,
        id_prefix="call_",
    )
    assert no_tools.text == "reply to: " + CALL_PARIS
    assert not no_tools.tool_calls

    two = script_reply(
        user_text='call a\ncall b {\n  "x": 1\n}',
        tool_results=None,
        tools_offered=True,
        max_tokens=None,
        prompt_tokens=0,
        id_prefix="call_",
    )
    assert [(c.name, json.loads(c.arguments)) for c in two.tool_calls] == [
        ("a", {}),
        ("b", {"x": 1}),
    ]

    bad_args = script_reply(
        user_text="call f [1]",
        tool_results=None,
        tools_offered=True,
        max_tokens=None,
        prompt_tokens=0,
        id_prefix="call_",
    )
    assert bad_args.text == "reply to: call f [1]"

    tool = script_reply(
        user_text="ignored",
        tool_results=["sunny", "22C"],
        tools_offered=True,
        max_tokens=None,
        prompt_tokens=0,
        id_prefix="call_",
    )
    assert tool.text == "tool said: sunny 22C"

    long = script_reply(
        user_text="go [long]",
        tool_results=None,
        tools_offered=False,
        max_tokens=50,
        prompt_tokens=2,
        id_prefix="call_",
    )
    assert long.truncated
    assert len(long.text.split()) == 50 == long.completion_tokens


# --------------------------------------------------------------------------- openai


def test_openai_text(fake: FakeUpstream, oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="gpt-test",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "hello world"},
        ],
    )
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-test"
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "reply to: hello world"
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 8
    assert completion.usage.completion_tokens == 4
    assert completion.usage.total_tokens == 12

    path, body, headers = fake.last_request
    assert path == "/v1/chat/completions"
    assert [m["content"] for m in body["messages"]][-1] == "hello world"
    assert headers["authorization"] == "Bearer x"
    assert len(fake.requests) == 1


def test_openai_content_parts(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="gpt-test",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "text", "text": "this?"},
                ],
            }
        ],
    )
    assert completion.choices[0].message.content == "reply to: what is this?"


def test_openai_stream_with_usage(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "stream  me please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [
        c.choices[0].delta.content for c in chunks[1:] if c.choices and c.choices[0].delta.content
    ]
    assert pieces == ["reply ", "to: ", "stream  ", "me ", "please"]
    assert "".join(pieces) == "reply to: stream  me please"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (3, 5)
    assert all(c.usage is None for c in chunks[:-1])


def test_openai_stream_without_usage(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


def test_openai_tool_call(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": CALL_PARIS}],
        tools=WEATHER_OPENAI,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert call.type == "function"
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3


def test_openai_tool_call_stream(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": CALL_PARIS}],
            tools=WEATHER_OPENAI,
            stream=True,
        )
    )
    deltas = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id is not None
    assert deltas[0].id.startswith("call_")
    assert deltas[0].function is not None
    assert deltas[0].function.name == "get_weather"
    fragments = [d.function.arguments or "" for d in deltas[1:] if d.function]
    assert all(len(f) <= 8 for f in fragments)
    assert len(fragments) > 1
    assert json.loads("".join(fragments)) == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_openai_stream_helper_reassembles_tool_call(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(
        model="gpt-test",
        messages=[{"role": "user", "content": 'call get_weather {"city": "Saint-Étienne"}'}],
        tools=WEATHER_OPENAI,
    ) as stream:
        final = stream.get_final_completion()
    [call] = final.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Saint-Étienne"}
    assert final.choices[0].finish_reason == "tool_calls"


def test_openai_tool_result(fake: FakeUpstream, oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="gpt-test",
        messages=[
            {"role": "user", "content": CALL_PARIS},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 22C"},
        ],
        tools=WEATHER_OPENAI,
    )
    assert completion.choices[0].message.content == "tool said: sunny, 22C"
    assert completion.choices[0].finish_reason == "stop"
    assert fake.last_request.body["messages"][-1]["tool_call_id"] == "call_1"


@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
def test_openai_length_truncation(oai: openai.OpenAI, limit: str) -> None:
    completion = oai.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "one two three four"}],
        extra_body={limit: 3},
    )
    assert completion.choices[0].message.content == "reply to: one"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3


def test_openai_long_stream_hits_limit(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "tell me [long]"}],
            max_completion_tokens=40,
            stream=True,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) == 40
    assert text.startswith("reply to: tell me [long] reply to:")
    assert chunks[-1].choices[0].finish_reason == "length"


def test_openai_path_without_v1(fake: FakeUpstream) -> None:
    response = httpx.post(
        fake.base_url + "/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "reply to: hi"
    assert "x-request-id" in response.headers


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_openai_error_mapping(
    fake: FakeUpstream, oai: openai.OpenAI, status: int, error: type[openai.APIStatusError]
) -> None:
    fake.fail_with_status(status)
    with pytest.raises(error) as info:
        oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == status
    assert isinstance(info.value.body, dict)
    assert {"message", "type", "param", "code"} <= info.value.body.keys()
    # the fault was used up: the next request succeeds
    oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert len(fake.requests) == 2


def test_openai_streaming_request_gets_error_before_stream(
    fake: FakeUpstream, oai: openai.OpenAI
) -> None:
    fake.fail_with_status(429, times=None)
    for _ in range(3):
        with pytest.raises(openai.RateLimitError):
            oai.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], stream=True
            )
    assert len(fake.requests) == 3


def test_openai_sdk_retries_through_fault_sequence(fake: FakeUpstream) -> None:
    client = openai.OpenAI(base_url=fake.openai_base, api_key="x", max_retries=2)
    fast = {"retry-after-ms": "1"}
    fake.fail_with_status(500, headers=fast)
    fake.fail_with_status(
        429, {"error": {"message": "slow down", "type": "requests"}}, headers=fast
    )
    completion = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content == "reply to: hi"
    assert [r.headers["x-stainless-retry-count"] for r in fake.requests] == ["0", "1", "2"]


def test_openai_custom_raw_error_body(fake: FakeUpstream, oai: openai.OpenAI) -> None:
    fake.fail_with_status(502, "<html>bad gateway</html>")
    with pytest.raises(openai.InternalServerError) as info:
        oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 502
    assert info.value.response.text == "<html>bad gateway</html>"


def test_openai_validation(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="m", messages=[])


def test_openai_api_key_checked() -> None:
    with run_fake_upstream(api_key="sk-right") as fake:
        wrong = openai.OpenAI(base_url=fake.openai_base, api_key="sk-wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as info:
            wrong.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert isinstance(info.value.body, dict)
        assert info.value.body["code"] == "invalid_api_key"
        right = openai.OpenAI(base_url=fake.openai_base, api_key="sk-right", max_retries=0)
        right.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])


def test_openai_delay_causes_timeout(fake: FakeUpstream, oai: openai.OpenAI) -> None:
    fake.delay(0.5)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        oai.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], timeout=0.1
        )
    assert time.monotonic() - started < 0.5
    fake.delay(0.2)
    started = time.monotonic()
    oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert time.monotonic() - started >= 0.2


def test_openai_cut_stream_aborts_connection(fake: FakeUpstream, oai: openai.OpenAI) -> None:
    fake.cut_stream_after(2)
    seen: list[str] = []

    def consume() -> None:
        for chunk in oai.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "a b c d e"}], stream=True
        ):
            seen.append(chunk.choices[0].delta.content or "")

    assert_connection_dropped(consume)
    assert seen == ["", "reply "]


def test_openai_cut_stream_clean_eof(fake: FakeUpstream, oai: openai.OpenAI) -> None:
    fake.cut_stream_after(3, abort=False)
    chunks = list(
        oai.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "a b c d e"}], stream=True
        )
    )
    assert len(chunks) == 3
    assert all(c.choices[0].finish_reason is None for c in chunks)


def test_openai_malformed_stream(fake: FakeUpstream, oai: openai.OpenAI) -> None:
    fake.malformed_stream()
    stream = oai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(json.JSONDecodeError):
        list(stream)
    # non-streaming requests do not consume stream faults
    fake.malformed_stream()
    oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(json.JSONDecodeError):
        list(
            oai.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )


async def test_openai_async_client(fake: FakeUpstream) -> None:
    client = openai.AsyncOpenAI(base_url=fake.openai_base, api_key="x", max_retries=0)
    completion = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "async hi"}]
    )
    assert completion.choices[0].message.content == "reply to: async hi"
    stream = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "async hi"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == "reply to: async hi"
    await client.close()


# --------------------------------------------------------------------------- anthropic


def test_anthropic_text(fake: FakeUpstream, claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-test",
        max_tokens=100,
        system="you are terse",
        messages=[
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": [{"type": "text", "text": "first answer"}]},
            {"role": "user", "content": [{"type": "text", "text": "hello world"}]},
        ],
    )
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == "claude-test"
    assert message.id.startswith("msg_")
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].type == "text"
    assert message.content[0].text == "reply to: hello world"
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert (message.usage.input_tokens, message.usage.output_tokens) == (9, 4)

    path, body, headers = fake.last_request
    assert path == "/v1/messages"
    assert body["system"] == "you are terse"
    assert "anthropic-version" in headers


def test_anthropic_stream_text(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="claude-test",
        max_tokens=100,
        system=[{"type": "text", "text": "sys prompt"}],
        messages=[{"role": "user", "content": "stream me"}],
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert pieces == ["reply ", "to: ", "stream ", "me"]
    assert final.content[0].type == "text"
    assert final.content[0].text == "reply to: stream me"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (4, 4)


def test_anthropic_raw_event_sequence(claude: anthropic.Anthropic) -> None:
    events = list(
        claude.messages.create(
            model="claude-test",
            max_tokens=100,
            messages=[{"role": "user", "content": CALL_PARIS}],
            tools=WEATHER_ANTHROPIC,
            stream=True,
        )
    )
    types = [e.type for e in events]  # the SDK swallows "ping"
    assert types[:3] == ["message_start", "content_block_start", "content_block_delta"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = events[0]
    assert start.type == "message_start"
    assert start.message.usage.input_tokens == 4
    deltas = [e for e in events if e.type == "content_block_delta"]
    assert {d.delta.type for d in deltas} == {"input_json_delta"}
    partial = "".join(d.delta.partial_json for d in deltas if d.delta.type == "input_json_delta")
    assert partial == '{"city": "Paris"}'
    message_delta = events[-2]
    assert message_delta.type == "message_delta"
    assert message_delta.delta.stop_reason == "tool_use"
    assert message_delta.usage.output_tokens == 3


def test_anthropic_wire_format(fake: FakeUpstream) -> None:
    with httpx.stream(
        "POST",
        fake.anthropic_base + "/v1/messages",
        json={
            "model": "m",
            "max_tokens": 10,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
        headers={"anthropic-version": "2023-06-01"},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    frames = [f for f in raw.split("\n\n") if f]
    kinds = []
    for frame in frames:
        event_line, data_line = frame.split("\n")
        kind = event_line.removeprefix("event: ")
        assert json.loads(data_line.removeprefix("data: "))["type"] == kind
        kinds.append(kind)
    assert kinds == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_openai_wire_format(fake: FakeUpstream) -> None:
    with httpx.stream(
        "POST",
        fake.openai_base + "/chat/completions",
        json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    frames = [f for f in raw.split("\n\n") if f]
    assert all(f.startswith("data: ") and "\n" not in f for f in frames)
    assert frames[-1] == "data: [DONE]"
    assert raw.endswith("\n\n")


def test_anthropic_tool_use(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-test",
        max_tokens=100,
        messages=[{"role": "user", "content": CALL_PARIS}],
        tools=WEATHER_ANTHROPIC,
    )
    assert message.stop_reason == "tool_use"
    [block] = message.content
    assert block.type == "tool_use"
    assert block.id.startswith("toolu_")
    assert block.name == "get_weather"
    assert block.input == {"city": "Paris"}
    assert message.usage.output_tokens == 3


def test_anthropic_stream_tool_use(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="claude-test",
        max_tokens=100,
        messages=[{"role": "user", "content": 'call get_weather {"city": "Saint-Étienne"}'}],
        tools=WEATHER_ANTHROPIC,
    ) as stream:
        final = stream.get_final_message()
    [block] = final.content
    assert block.type == "tool_use"
    assert block.name == "get_weather"
    assert block.input == {"city": "Saint-Étienne"}
    assert final.stop_reason == "tool_use"


def test_anthropic_tool_result(fake: FakeUpstream, claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-test",
        max_tokens=100,
        messages=[
            {"role": "user", "content": CALL_PARIS},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "sunny, 22C"}],
                    }
                ],
            },
        ],
        tools=WEATHER_ANTHROPIC,
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "tool said: sunny, 22C"
    assert message.stop_reason == "end_turn"
    assert fake.last_request.body["messages"][-1]["content"][0]["tool_use_id"] == "toolu_1"


def test_anthropic_max_tokens_truncation(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-test",
        max_tokens=3,
        messages=[{"role": "user", "content": "one two three four"}],
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "reply to: one"
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 3

    with claude.messages.stream(
        model="claude-test",
        max_tokens=25,
        messages=[{"role": "user", "content": "go [long]"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens"
    assert final.content[0].type == "text"
    assert len(final.content[0].text.split()) == 25


def test_anthropic_validation(fake: FakeUpstream, claude: anthropic.Anthropic) -> None:
    url = fake.anthropic_base + "/v1/messages"
    good = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    version = {"anthropic-version": "2023-06-01"}

    no_limit = httpx.post(url, json={**good, "max_tokens": None}, headers=version)
    assert no_limit.status_code == 400
    assert no_limit.json()["type"] == "error"
    assert no_limit.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in no_limit.json()["error"]["message"]

    no_version = httpx.post(url, json=good)
    assert no_version.status_code == 400
    assert "anthropic-version" in no_version.json()["error"]["message"]

    ok = httpx.post(url, json=good, headers=version)
    assert ok.status_code == 200
    assert "request-id" in ok.headers

    system_turn: list[Any] = [
        {"role": "system", "content": "nope"},
        {"role": "user", "content": "hi"},
    ]
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(model="m", max_tokens=10, messages=system_turn)
    assert "system" in str(info.value)


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (403, anthropic.PermissionDeniedError, "permission_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.APIStatusError, "overloaded_error"),
    ],
)
def test_anthropic_error_mapping(
    fake: FakeUpstream,
    claude: anthropic.Anthropic,
    status: int,
    error: type[anthropic.APIStatusError],
    kind: str,
) -> None:
    fake.fail_with_status(status)
    with pytest.raises(error) as info:
        claude.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.status_code == status
    assert info.value.body == {"type": "error", "error": {"type": kind, "message": kind}}
    assert len(fake.requests) == 1


def test_anthropic_api_key_checked() -> None:
    with run_fake_upstream(api_key="sk-ant-right") as fake:
        wrong = anthropic.Anthropic(
            base_url=fake.anthropic_base, api_key="sk-ant-wrong", max_retries=0
        )
        with pytest.raises(anthropic.AuthenticationError):
            wrong.messages.create(
                model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
        right = anthropic.Anthropic(
            base_url=fake.anthropic_base, api_key="sk-ant-right", max_retries=0
        )
        right.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
        raw = httpx.post(
            fake.anthropic_base + "/v1/messages",
            json={"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
            headers={"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-right"},
        )
        assert raw.status_code == 200


def test_anthropic_cut_stream(fake: FakeUpstream, claude: anthropic.Anthropic) -> None:
    fake.cut_stream_after(4)

    def consume() -> None:
        with claude.messages.stream(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "a b c"}]
        ) as stream:
            stream.get_final_message()

    assert_connection_dropped(consume)

    fake.cut_stream_after(5, abort=False)
    with claude.messages.stream(
        model="m", max_tokens=10, messages=[{"role": "user", "content": "a b c"}]
    ) as stream:
        partial = stream.get_final_message()
    assert partial.stop_reason is None
    assert partial.content[0].type == "text"
    assert partial.content[0].text == "reply to: "


def test_anthropic_malformed_stream(fake: FakeUpstream, claude: anthropic.Anthropic) -> None:
    fake.malformed_stream(after_chunks=3)
    with (
        pytest.raises(json.JSONDecodeError),
        claude.messages.stream(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        stream.get_final_message()


def test_clear_resets_requests_and_faults(fake: FakeUpstream, claude: anthropic.Anthropic) -> None:
    fake.fail_with_status(500, times=None)
    fake.delay(5)
    fake.clear()
    claude.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert len(fake.requests) == 1
    with pytest.raises(ValueError, match="times"):
        fake.delay(1, times=0)


def test_a_paced_model_streams_with_that_gap_between_events(server: FakeUpstream) -> None:
    client = openai.OpenAI(base_url=server.openai_base, api_key="x", max_retries=0)
    arrivals: dict[str, list[float]] = {}
    for model in ("bench", "bench@5ms"):
        started = time.perf_counter()
        stream = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "one two three four"}], stream=True
        )
        arrivals[model] = [time.perf_counter() - started for chunk in stream if chunk.choices]
    paced, plain = arrivals["bench@5ms"], arrivals["bench"]
    assert len(paced) == len(plain) >= 6
    gaps = [later - earlier for earlier, later in itertools.pairwise(paced)]
    assert sorted(gaps)[len(gaps) // 2] >= 0.004  # the median gap: the pace, give or take
    assert plain[-1] < paced[-1] - 0.02
