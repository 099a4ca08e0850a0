"""Hostile request bodies against a running tether: not JSON, too deep, wrong types,
unknown items and parts, hostile strings. Every answer is a 200 or an OpenAI-shaped 4xx,
never a 500; every request has a bounded timeout, so a hang fails too."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx
import pytest

from tests.fuzz.conftest import ALICE, Probe, bad_request, create
from tests.support.server import TetherServer
from tether.core.records import decode_turn


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


# --- bodies that are not JSON, or not the JSON we expect -------------------------------

NOT_JSON = {
    "truncated": b'{"model": "echo", "input": ',
    "trailing comma": b'{"model": "echo", "input": "x",}',
    "single quotes": b"{'model': 'echo', 'input': 'x'}",
    "NaN": b'{"model": "echo", "input": "x", "temperature": NaN}',
    "Infinity": b'{"model": "echo", "input": "x", "temperature": Infinity}',
    "overflowing float": b'{"model": "echo", "input": "x", "temperature": 1e400}',
    "empty": b"",
    "whitespace": b" \r\n\t ",
    "not UTF-8": b'{"model": "echo", "input": "\xff\xfe"}',
    "overlong UTF-8": b'{"model": "echo", "input": "\xc0\xaf"}',
    "lone surrogate escape": b'{"model": "echo", "input": "\\ud800"}',
    "UTF-8 BOM": b'\xef\xbb\xbf{"model": "echo", "input": "x"}',
    "UTF-16": '{"model": "echo", "input": "x"}'.encode("utf-16"),
    "100k opening brackets": b"[" * 100_000,
    "100k nested objects": b'{"a":' * 100_000,
    "100k balanced brackets": nested(100_000).encode(),
    "NUL bytes": b"\x00" * 64,
    "two documents": b'{"model": "echo", "input": "x"}{"model": "echo", "input": "y"}',
}


@pytest.mark.parametrize("raw", NOT_JSON.values(), ids=NOT_JSON.keys())
def test_a_body_that_is_not_json_is_a_400(probe: Probe, raw: bytes) -> None:
    bad_request(probe.post("/v1/responses", content=raw))


@pytest.mark.parametrize("raw", [b"null", b"123", b'"text"', b"[1, 2]", b"true", b"[]"])
def test_json_that_is_not_an_object_is_a_400(probe: Probe, raw: bytes) -> None:
    bad_request(probe.post("/v1/responses", content=raw))


NESTING_BUG = (
    "bug: tether.api.body.parse_json accepts up to 1024 levels of nesting (orjson.loads), "
    "but orjson.dumps stops at 254, so deep JSON inside free-form fields (text, reasoning, "
    "tools[].parameters, output_text annotations) fails in core.records.encode_turn / the "
    "response dump: a 500, and a cut-off stream when stream=true"
)
FREE_FORM = {
    "text": lambda deep: {"input": "x", "text": {"format": json.loads(deep)}},
    "reasoning": lambda deep: {"input": "x", "reasoning": {"effort": json.loads(deep)}},
    "tools.parameters": lambda deep: {
        "input": "x",
        "tools": [{"type": "function", "name": "f", "parameters": {"p": json.loads(deep)}}],
    },
    "annotations": lambda deep: {
        "input": [
            {
                "role": "assistant",
                "content": [{"type": "output_text", "text": "x", "annotations": json.loads(deep)}],
            }
        ]
    },
}


@pytest.mark.parametrize("field", FREE_FORM)
def test_json_nested_below_the_serializer_limit_is_stored_whole(probe: Probe, field: str) -> None:
    created = create(probe, **FREE_FORM[field](nested(200)))
    stored = probe.get(f"/v1/responses/{created['id']}")
    assert stored.json() == created
    items = probe.get(f"/v1/responses/{created['id']}/input_items")
    assert nested(200) in stored.text + items.text


@pytest.mark.parametrize("field", FREE_FORM)
def test_json_nested_300_deep_in_a_free_form_field_is_not_a_500(probe: Probe, field: str) -> None:
    response = probe.post("/v1/responses", json={"model": "echo", **FREE_FORM[field](nested(300))})
    if response.status_code != 200:
        bad_request(response)


def test_json_nested_300_deep_never_cuts_a_stream(embedded: TetherServer) -> None:
    body = {"model": "echo", "stream": True, **FREE_FORM["text"](nested(300))}
    try:
        response = httpx.post(f"{embedded.url}/v1/responses", json=body, timeout=10)
    except httpx.RemoteProtocolError as exc:
        pytest.fail(f"the stream was cut off: {exc}")
    if response.status_code == 200:
        assert "event: response.completed" in response.text
    else:
        bad_request(response)


# --- numbers and wrong types -----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("temperature", "1e308"),
        ("temperature", "-1e-300"),
        ("top_p", "1.0000000000000002"),
        ("max_output_tokens", "18446744073709551616"),  # 2**64: no longer an integer
        ("max_output_tokens", "123456789012345678901234567890"),
        ("max_output_tokens", "-9223372036854775808"),
        ("max_output_tokens", "1.5"),
    ],
)
def test_out_of_range_numbers_are_rejected_naming_the_field(
    probe: Probe, field: str, raw: str
) -> None:
    body = f'{{"model": "echo", "input": "x", "{field}": {raw}}}'.encode()
    bad_request(probe.post("/v1/responses", content=body), param=field)


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("max_output_tokens", "9223372036854775807"),
        ("temperature", "5e-324"),
        ("temperature", "2"),
        ("top_p", "0"),
    ],
)
def test_absurd_but_valid_numbers_are_accepted(probe: Probe, field: str, raw: str) -> None:
    body = f'{{"model": "echo", "input": "hello", "{field}": {raw}}}'.encode()
    response = probe.post("/v1/responses", content=body)
    assert response.status_code == 200, response.text
    assert response.json()["output"][0]["content"][0]["text"] == "hello"


WRONG_VALUES: dict[str, list[Any]] = {
    "model": [None, 0, True, [], {}, "", "m" * 300],
    "input": [None, 0, True, {}, [0], [[]], [None], ["x"], [{"role": "user"}]],
    "instructions": [0, True, [], {}],
    "previous_response_id": [0, True, [], {}, "r" * 300],
    "store": [None, "true", 0, 1, []],
    "stream": [None, "true", 1, {}],
    "temperature": ["1", True, [], {}, -0.1, 2.01],
    "top_p": ["0.5", True, -1, 1.5],
    "max_output_tokens": [0, -5, 1.5, "10", True],
    "tools": [None, "all", {}, [0], [None], [{}], [{"type": "function"}], [{"type": "web"}]],
    "tool_choice": [None, 0, "sometimes", [], {}, {"type": "function"}, {"name": "f"}],
    "parallel_tool_calls": [None, "yes", 1],
    "metadata": [[], "x", 0, {"k": 1}, {"k": None}, {"k": {}}, {str(i): "v" for i in range(17)}],
    "text": [[], "x", 0, True],
    "reasoning": [[], "x", 0],
    "truncation": ["sometimes", 0, True],
    "user": [0, [], {}],
    "background": ["yes", 0, True],  # true: tether does not run background responses
}


@pytest.mark.parametrize(
    ("field", "value"),
    [(field, value) for field, values in WRONG_VALUES.items() for value in values],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else type(v).__name__,
)
def test_a_wrong_value_for_any_field_is_a_400_naming_it(
    probe: Probe, field: str, value: Any
) -> None:
    body: dict[str, Any] = {"model": "echo", "input": "x", field: value}
    bad_request(probe.post("/v1/responses", json=body), param=field)


def test_unknown_top_level_fields_are_ignored(probe: Probe) -> None:
    created = create(probe, input="hi", include=["x"], future_field={"a": [1]}, **{"": 0})
    assert created["output"][0]["content"][0]["text"] == "hi"


# --- items and content parts -----------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        {"type": "reasoning", "summary": []},
        {"type": "web_search_call", "id": "ws_1"},
        {"type": "item_reference", "id": "msg_1"},
        {"type": "computer_call_output", "call_id": "c", "output": {}},
        {"type": ""},
        {"type": "MESSAGE", "role": "user", "content": "x"},
        {"type": 0, "role": "user", "content": "x"},
        {"type": None, "role": "user", "content": "x"},
        {"type": ["message"], "role": "user", "content": "x"},
    ],
    ids=repr,
)
def test_an_unknown_item_type_is_a_400_naming_the_item(probe: Probe, item: Any) -> None:
    body = {"model": "echo", "input": [{"role": "user", "content": "ok"}, item]}
    bad_request(probe.post("/v1/responses", json=body), param="input[1]")


@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}},
        {"type": "input_file", "file_id": "file_1"},
        {"type": ""},
        {"type": None, "text": "x"},
        {"text": "no type"},
        "a bare string",
        None,
        7,
    ],
    ids=repr,
)
def test_an_unknown_content_part_is_a_400_naming_the_part(probe: Probe, part: Any) -> None:
    body = {"model": "echo", "input": [{"role": "user", "content": [part]}]}
    bad_request(probe.post("/v1/responses", json=body), param="input[0].content[0]")


@pytest.mark.parametrize(
    "item",
    [
        {"type": "function_call", "call_id": "", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "c", "name": "", "arguments": "{}"},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": {}},
        {"type": "function_call_output", "call_id": "c", "output": None},
        {"type": "function_call_output", "call_id": "c" * 300, "output": "x"},
        {"type": "function_call_output", "output": "x"},
        {"type": "message", "role": "wizard", "content": "x"},
        {"type": "message", "role": "user", "content": None},
        {"type": "message", "role": "user", "content": "x", "id": "i" * 200},
        {"type": "message", "role": "user", "content": "x", "status": "exploded"},
    ],
    ids=repr,
)
def test_a_malformed_known_item_is_a_400_naming_the_item(probe: Probe, item: Any) -> None:
    bad_request(probe.post("/v1/responses", json={"model": "echo", "input": [item]}), "input[0]")


def test_a_function_call_output_without_its_call_is_a_400_naming_its_call_id(
    probe: Probe,
) -> None:
    # As OpenAI answers: a tool result answers a call made before it, in the chain or in
    # the same input; providers refuse an orphan one, so tether does before calling them.
    orphan = {"type": "function_call_output", "call_id": "call_nobody_made", "output": "42"}
    response = probe.post("/v1/responses", json={"model": "transcript", "input": [orphan]})
    error = bad_request(response)
    assert error["param"] == "input[0].call_id"
    assert error["message"] == (
        "No tool call found for function call output with call_id call_nobody_made."
    )
    call = {"type": "function_call", "call_id": "call_made", "name": "f", "arguments": "{}"}
    answered = create(probe, model="transcript", input=[call, {**orphan, "call_id": "call_made"}])
    text = answered["output"][0]["content"][0]["text"]
    assert text == "function_call f: {}\nfunction_call_output: 42"


def test_an_empty_input_list_is_served(probe: Probe) -> None:
    # Nothing new is still a request (a chain continued as it stands): a 200, never a 400.
    alone = create(probe, model="transcript", input=[])
    assert alone["output"][0]["content"][0]["text"] == ""  # nothing to replay
    assert probe.get(f"/v1/responses/{alone['id']}/input_items").json()["data"] == []
    first = create(probe, model="transcript", input="hello")
    follow = create(probe, model="transcript", input=[], previous_response_id=first["id"])
    assert follow["output"][0]["content"][0]["text"] == "user: hello\nassistant: user: hello"


HOSTILE_TEXT = [
    "a\x00b",
    "\u202etxet-lrt\u202c",  # right-to-left override
    "\U0010ffff\uffff\ufffe",
    "e\u0301\u0301\u0301\u0301",
    "🧵" * 500,
    "\r\n\t\x1b[31m\x7f",
    "' OR 1=1; --",
    '"}], "owner": "master',
    "x" * 100_000,
]


@pytest.mark.parametrize("text", HOSTILE_TEXT, ids=lambda t: repr(t[:12]))
def test_hostile_strings_are_stored_and_read_back_unchanged(probe: Probe, text: str) -> None:
    created = create(probe, input=text, metadata={"k": text[:512]}, instructions=text)
    assert created["output"][0]["content"][0]["text"] == text
    items = probe.get(f"/v1/responses/{created['id']}/input_items")
    assert items.json()["data"][0]["content"][0]["text"] == text
    follow = create(probe, model="transcript", input="again", previous_response_id=created["id"])
    assert (
        follow["output"][0]["content"][0]["text"] == f"user: {text}\nassistant: {text}\nuser: again"
    )


async def _durable_inputs(pg_url: str, ids: list[str]) -> dict[str, str]:
    """The first input text of each record the database holds, waiting for the writer."""
    connection = await asyncpg.connect(pg_url)
    try:
        for _ in range(100):
            rows = await connection.fetch(
                "SELECT id, record FROM responses WHERE id = ANY($1::text[])", ids
            )
            if len(rows) == len(ids):
                break
            await asyncio.sleep(0.1)
    finally:
        await connection.close()
    turns = [decode_turn(bytes(row["record"])) for row in rows]
    return {turn.id: turn.input_items[0]["content"][0]["text"] for turn in turns}


def test_hostile_strings_survive_redis_and_postgresql(
    guarded_probe: Probe, guarded_pg_url: str
) -> None:
    ids = []
    for text in HOSTILE_TEXT:
        created = create(guarded_probe, ALICE, input=text)
        stored = guarded_probe.get(f"/v1/responses/{created['id']}", headers=ALICE)
        assert stored.json()["output"][0]["content"][0]["text"] == text
        ids.append(created["id"])
    durable = asyncio.run(_durable_inputs(guarded_pg_url, ids))
    assert [durable.get(rid) for rid in ids] == HOSTILE_TEXT
