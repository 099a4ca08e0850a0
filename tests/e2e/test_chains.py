"""previous_response_id chains through a running tether whose database writer flushes
only every 30 s, so every follow-up here is answered from the cache."""

from __future__ import annotations

import asyncio
import json
import random

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from tests.e2e.test_sdk_roundtrip import WEATHER_TOOL, reply
from tests.fakes.upstream import FakeUpstream
from tests.support.server import TetherServer

Transcript = list[tuple[str, str]]


def transcript_reply(history: Transcript, new: str, instructions: str | None = None) -> str:
    """What the `transcript` model answers: every message it was sent, one per line."""
    lines = [f"instructions: {instructions}"] if instructions else []
    lines += [f"{role}: {text}" for role, text in [*history, ("user", new)]]
    return "\n".join(lines)


def create(client: OpenAI, stream: bool, **kwargs: object):  # type: ignore[no-untyped-def]
    if not stream:
        return client.responses.create(**kwargs)  # type: ignore[call-overload]
    with client.responses.stream(**kwargs) as events:  # type: ignore[call-overload]
        return events.get_final_response()


@pytest.mark.parametrize("stream", [False, True])
def test_four_turn_chain_replays_the_whole_history(client: OpenAI, stream: bool) -> None:
    history: Transcript = []
    previous = None
    for turn in range(4):
        text = f"turn {turn} {'streamed' if stream else 'plain'}"
        response = create(
            client, stream, model="transcript", input=text, previous_response_id=previous
        )
        assert response.output_text == transcript_reply(history, text)
        history += [("user", text), ("assistant", response.output_text)]
        previous = response.id


@pytest.mark.parametrize("model", ["chat", "claude"])
@pytest.mark.parametrize("stream", [False, True])
def test_four_turn_chain_reaches_the_upstream_whole(
    client: OpenAI, upstream: FakeUpstream, model: str, stream: bool
) -> None:
    previous = None
    sent: list[tuple[str, str]] = []
    for turn in range(4):
        upstream.clear()
        text = f"question {turn}"
        response = create(client, stream, model=model, input=text, previous_response_id=previous)
        assert response.output_text == reply(model, text)
        sent += [("user", text)]
        messages = upstream.requests[-1].body["messages"]
        assert [(m["role"], _text(m["content"])) for m in messages] == sent
        sent += [("assistant", response.output_text)]
        previous = response.id


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    assert isinstance(content, list)
    return "".join(part.get("text", "") for part in content)


def test_follow_up_sent_the_instant_completed_arrives(client: OpenAI) -> None:
    """Before the first stream has even closed, its response is continuable."""
    stream = client.responses.create(model="transcript", input="first", stream=True)
    follow_up = None
    for event in stream:
        if event.type == "response.completed":
            follow_up = client.responses.create(
                model="transcript", input="second", previous_response_id=event.response.id
            )
            break
    stream.close()
    assert follow_up is not None
    assert follow_up.output_text == "user: first\nassistant: user: first\nuser: second"


def test_branches_never_see_each_other_and_older_turns_resume(client: OpenAI) -> None:
    root = client.responses.create(model="transcript", input="root")
    left = client.responses.create(model="transcript", input="left", previous_response_id=root.id)
    right = client.responses.create(model="transcript", input="right", previous_response_id=root.id)
    assert "left" not in right.output_text
    deeper = client.responses.create(
        model="transcript", input="deeper", previous_response_id=left.id
    )
    resumed = client.responses.create(
        model="transcript", input="again", previous_response_id=root.id
    )
    assert "left" not in resumed.output_text
    assert "deeper" not in resumed.output_text
    assert resumed.output_text == transcript_reply(
        [("user", "root"), ("assistant", "user: root")], "again"
    )
    assert "right" not in deeper.output_text


def test_a_100_kb_turn_is_replayed_whole(client: OpenAI, upstream: FakeUpstream) -> None:
    big = "".join(random.choices("abcdefghij ", k=100_000))
    first = client.responses.create(model="chat", input=big)
    upstream.clear()
    client.responses.create(model="chat", input="next", previous_response_id=first.id)
    messages = upstream.requests[-1].body["messages"]
    assert messages[0]["content"] == big
    assert messages[1]["content"] == first.output_text
    assert client.responses.retrieve(first.id).output_text == first.output_text


def test_a_chain_longer_than_the_cache_cap_is_replayed_whole(client: OpenAI) -> None:
    history: Transcript = []
    previous = None
    for turn in range(8):  # the server keeps at most 5 responses a session in the cache
        text = f"t{turn}"
        response = client.responses.create(model="echo", input=text, previous_response_id=previous)
        history += [("user", text), ("assistant", response.output_text)]
        previous = response.id
    final = client.responses.create(model="transcript", input="all?", previous_response_id=previous)
    assert final.output_text == transcript_reply(history, "all?")


async def test_forty_concurrent_chains_stay_exact(tether: TetherServer) -> None:
    async with AsyncOpenAI(base_url=f"{tether.url}/v1", api_key="x", max_retries=0) as client:

        async def chain(n: int) -> None:
            history: Transcript = []
            previous = None
            for turn in range(6):
                text = f"chain {n} turn {turn}"
                if n % 2:
                    async with client.responses.stream(
                        model="transcript", input=text, previous_response_id=previous
                    ) as events:
                        response = await events.get_final_response()
                else:
                    response = await client.responses.create(
                        model="transcript", input=text, previous_response_id=previous
                    )
                assert response.output_text == transcript_reply(history, text)
                history += [("user", text), ("assistant", response.output_text)]
                previous = response.id

        await asyncio.wait_for(asyncio.gather(*(chain(n) for n in range(40))), timeout=90)


@pytest.mark.parametrize("model", ["echo", "chat", "claude"])
@pytest.mark.parametrize("stream", [False, True])
def test_function_call_round_trip_through_previous_response_id(
    client: OpenAI, model: str, stream: bool
) -> None:
    first = create(
        client, stream, model=model, input='call get_weather {"city": "Oslo"}', tools=[WEATHER_TOOL]
    )
    call = next(item for item in first.output if item.type == "function_call")
    assert json.loads(call.arguments) == {"city": "Oslo"}
    output = {"type": "function_call_output", "call_id": call.call_id, "output": "snow, -3C"}
    second = create(
        client,
        stream,
        model=model,
        input=[output],
        previous_response_id=first.id,
        tools=[WEATHER_TOOL],
    )
    assert second.output_text == "tool said: snow, -3C"


def test_instructions_are_not_inherited(client: OpenAI) -> None:
    first = client.responses.create(model="transcript", input="ahoy", instructions="Be a pirate.")
    assert first.output_text == "instructions: Be a pirate.\nuser: ahoy"
    second = client.responses.create(
        model="transcript", input="and?", previous_response_id=first.id
    )
    assert "pirate" not in second.output_text.split("\n")[0]
    assert second.instructions is None


def test_retrieve_delete_and_input_items(client: OpenAI) -> None:
    items = [{"role": "user", "content": f"item {i}"} for i in range(5)]
    response = client.responses.create(model="echo", input=items)  # type: ignore[arg-type]
    fetched = client.responses.retrieve(response.id)
    assert fetched.id == response.id
    assert fetched.output_text == response.output_text

    desc = client.responses.input_items.list(response.id, limit=2)
    assert [_text_of(i) for i in desc.data] == ["item 4", "item 3"]
    assert desc.has_more
    assert all(item.id for item in desc.data)
    rest = client.responses.input_items.list(response.id, limit=10, after=desc.data[-1].id)
    assert [_text_of(i) for i in rest.data] == ["item 2", "item 1", "item 0"]
    assert not rest.has_more
    asc = client.responses.input_items.list(response.id, order="asc", limit=3)
    assert [_text_of(i) for i in asc.data] == ["item 0", "item 1", "item 2"]
    assert asc.first_id == asc.data[0].id
    assert asc.last_id == asc.data[-1].id
    every = list(client.responses.input_items.list(response.id, order="asc", limit=2))
    assert [_text_of(i) for i in every] == [f"item {i}" for i in range(5)]

    client.responses.delete(response.id)  # the body is checked in test_delete_answers_...
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="echo", input="x", previous_response_id=response.id)
    assert caught.value.code == "previous_response_not_found"


def _text_of(item: object) -> str:
    content = getattr(item, "content")  # noqa: B009 - input items are a union
    return "".join(part.text for part in content)


def test_delete_answers_in_openai_shape(tether: TetherServer, client: OpenAI) -> None:
    response = client.responses.create(model="echo", input="bye")
    raw = httpx.delete(f"{tether.url}/v1/responses/{response.id}")
    assert raw.json() == {"id": response.id, "object": "response.deleted", "deleted": True}
    assert httpx.delete(f"{tether.url}/v1/responses/{response.id}").status_code == 404


def test_store_false_keeps_nothing(client: OpenAI) -> None:
    response = client.responses.create(model="echo", input="secret", store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="echo", input="x", previous_response_id=response.id)
    assert caught.value.code == "previous_response_not_found"


@pytest.mark.parametrize(
    "bad_id",
    ["resp_" + "0" * 64, "resp_nope", "../../etc/passwd", "x" * 200, "resp_{abc}*"],
)
def test_unknown_previous_response_id_is_a_clear_400(tether: TetherServer, bad_id: str) -> None:
    body = {"model": "echo", "input": "x", "previous_response_id": bad_id}
    response = httpx.post(f"{tether.url}/v1/responses", json=body)
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": f"Previous response with id '{bad_id}' not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
    }
    assert httpx.get(f"{tether.url}/v1/responses/{bad_id}").status_code == 404


def test_named_sessions_are_accepted(client: OpenAI) -> None:
    first = client.responses.create(model="echo", input="a", metadata={"session_id": "conv-42"})
    again = client.responses.create(model="echo", input="b", metadata={"session_id": "conv-42"})
    assert first.id[5:37] == again.id[5:37]  # one session, one hash tag
    follow = client.responses.create(model="echo", input="c", previous_response_id=first.id)
    assert follow.id[5:37] == first.id[5:37]
