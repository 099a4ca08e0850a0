"""Hypothesis-generated POST /v1/responses bodies over one keep-alive connection.

Three families: any JSON value at all; objects with the real field names and random
values; and bodies built from the real schema, sent valid (they must be answered 200
with a well-formed response or stream) or with one mutation (never a 5xx, and any error
is OpenAI-shaped and names a real field).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import Probe, Tally, openai_error
from tests.support.server import TetherServer

FUZZ = settings(
    deadline=None,
    derandomize=True,  # the same cases on every run and machine
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FIELDS = [
    "model",
    "input",
    "instructions",
    "previous_response_id",
    "store",
    "stream",
    "temperature",
    "top_p",
    "max_output_tokens",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "metadata",
    "text",
    "reasoning",
    "truncation",
    "user",
    "background",
]
RESPONSE_ID = re.compile(r"^resp_[0-9a-f]{64}$")

# --- strategies ------------------------------------------------------------------------

small_text = st.text(max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | small_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(small_text, inner, max_size=4),
    max_leaves=8,
)
plain_json = st.recursive(  # what a real client could send in a free-form field
    st.none() | st.booleans() | st.integers(-(2**31), 2**31) | small_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(small_text, inner, max_size=3),
    max_leaves=6,
)

input_text = st.fixed_dictionaries({"type": st.just("input_text"), "text": small_text})
output_text = st.fixed_dictionaries(
    {"type": st.just("output_text"), "text": small_text},
    optional={"annotations": st.lists(plain_json, max_size=2)},
)
input_image = st.fixed_dictionaries(
    {"type": st.just("input_image")},
    optional={
        "image_url": st.just("https://example.invalid/cat.png"),
        "file_id": st.just("file_1"),
        "detail": st.sampled_from(["low", "high", "auto"]),
    },
)
refusal = st.fixed_dictionaries({"type": st.just("refusal"), "refusal": small_text})
parts = st.lists(input_text | output_text | input_image | refusal, max_size=3)
status = st.sampled_from(["in_progress", "completed", "incomplete"])
item_id = st.text(max_size=128)

message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant", "system", "developer"]),
        "content": small_text | parts,
    },
    optional={"type": st.just("message"), "id": item_id, "status": status},
)
call_id = st.text(min_size=1, max_size=40)
function_call = st.fixed_dictionaries(
    {
        "type": st.just("function_call"),
        "call_id": call_id,
        "name": st.text(min_size=1, max_size=30),
        "arguments": small_text,
    },
    optional={"id": item_id, "status": status},
)
function_call_output = st.fixed_dictionaries(
    {"type": st.just("function_call_output"), "call_id": call_id, "output": small_text | parts},
    optional={"id": item_id, "status": status},
)


def _answered(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A tool output must answer a call before it (else a 400 naming its call id)."""
    out: list[dict[str, Any]] = []
    calls: set[str] = set()
    for item in items:
        kind = item.get("type", "message")  # a message may leave its type out
        if kind == "function_call":
            calls.add(item["call_id"])
        elif kind == "function_call_output" and item["call_id"] not in calls:
            call = {"type": "function_call", "call_id": item["call_id"], "name": "f"}
            out.append({**call, "arguments": "{}"})
            calls.add(item["call_id"])
        out.append(item)
    return out


items = st.lists(message | function_call | function_call_output, max_size=4).map(_answered)

tool_name = st.from_regex(r"[a-zA-Z0-9_.-]{1,64}", fullmatch=True)
tool = st.fixed_dictionaries(
    {"type": st.just("function"), "name": tool_name},
    optional={
        "description": st.none() | small_text,
        "parameters": st.none() | st.dictionaries(small_text, plain_json, max_size=3),
        "strict": st.none() | st.booleans(),
    },
)
tool_choice = st.sampled_from(["auto", "none", "required"]) | st.fixed_dictionaries(
    {"type": st.just("function"), "name": st.text(min_size=1, max_size=64)}
)
unit = st.floats(min_value=0, max_value=1, allow_nan=False)

valid_bodies = st.fixed_dictionaries(
    {"model": st.sampled_from(["echo", "transcript"]), "input": small_text | items},
    optional={
        "instructions": st.none() | small_text,
        "store": st.booleans(),
        "stream": st.booleans(),
        "temperature": st.none() | st.floats(min_value=0, max_value=2, allow_nan=False),
        "top_p": st.none() | unit,
        "max_output_tokens": st.none() | st.integers(min_value=1, max_value=2**63 - 1),
        "tools": st.lists(tool, max_size=3),
        "tool_choice": tool_choice,
        "parallel_tool_calls": st.booleans(),
        "metadata": st.none() | st.dictionaries(small_text, small_text, max_size=16),
        "text": st.none() | st.dictionaries(small_text, plain_json, max_size=3),
        "reasoning": st.none() | st.dictionaries(small_text, plain_json, max_size=3),
        "truncation": st.none() | st.sampled_from(["auto", "disabled"]),
        "user": st.none() | small_text,
        "background": st.none() | st.just(False),
        "unknown_future_field": plain_json,  # ignored, as OpenAI's SDKs add fields often
    },
)


def _paths(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON document, the root excluded."""
    if isinstance(value, dict | list):
        children = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in children:
            yield (*here, key)
            yield from _paths(child, (*here, key))


def _parent(body: dict[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = body
    for key in path[:-1]:
        node = node[key]
    return node


@st.composite
def mutated_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A valid body with one thing broken: a value replaced, a key dropped or a key added."""
    body: dict[str, Any] = draw(valid_bodies)
    path = draw(st.sampled_from(list(_paths(body))))
    parent, key = _parent(body, path), path[-1]
    how = draw(st.sampled_from(["replace", "drop", "add"]))
    if how == "replace":
        parent[key] = draw(json_values)
    elif how == "drop":
        del parent[key]
    elif isinstance(parent, dict):
        parent[draw(small_text)] = draw(json_values)
    else:
        parent.insert(key, draw(json_values))
    return body


def encode(body: Any, ascii_only: bool) -> bytes:
    # Lone surrogates and NaN/Infinity go out as they are: the server must refuse them.
    text = json.dumps(body, ensure_ascii=ascii_only)
    return text.encode("utf-8", errors="surrogatepass")


# --- oracles ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzzer(embedded: TetherServer, tally: Tally) -> Iterator[Probe]:
    probe = Probe(embedded.url, tally, "hypothesis")
    yield probe
    probe.close()


def send(fuzzer: Probe, raw: bytes) -> httpx.Response:
    return fuzzer.post("/v1/responses", content=raw, headers={"content-type": "application/json"})


def check_refusal(response: httpx.Response) -> None:
    """Anything but a 200 is a 400 naming a real field, or the model's 404."""
    error = openai_error(response)
    assert response.status_code in (400, 404), response.text
    if response.status_code == 404:
        assert error["code"] == "model_not_found", error
        return
    assert error["type"] == "invalid_request_error", error
    if error["param"] is not None:
        assert re.split(r"[.\[]", error["param"])[0] in FIELDS, error


def check_served(body: dict[str, Any], response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    if body.get("stream"):
        check_stream(response)
        return
    created = response.json()
    assert RESPONSE_ID.match(created["id"]), created["id"]
    assert created["object"] == "response"
    assert created["model"] == body["model"]
    assert created["status"] in ("completed", "incomplete")


def check_stream(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [
        json.loads(line[len("data: ") :])
        for line in response.text.split("\n")
        if line.startswith("data: ")
    ]
    assert events[0]["type"] == "response.created"
    # A turn cut short by max_output_tokens ends `incomplete`, as OpenAI's do.
    assert events[-1]["type"] in ("response.completed", "response.incomplete")
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert len({e["response"]["id"] for e in events if "response" in e}) == 1


# --- tests -----------------------------------------------------------------------------


@settings(FUZZ, max_examples=2500)
@given(body=json_values, ascii_only=st.booleans())
def test_any_json_value_as_a_body_is_never_a_server_error(
    fuzzer: Probe, body: Any, ascii_only: bool
) -> None:
    response = send(fuzzer, encode(body, ascii_only))
    if response.status_code != 200:
        check_refusal(response)


@settings(FUZZ, max_examples=2500)
@given(
    body=st.dictionaries(st.sampled_from(FIELDS), json_values, min_size=1, max_size=6),
    ascii_only=st.booleans(),
)
def test_real_fields_with_random_values_are_never_a_server_error(
    fuzzer: Probe, body: dict[str, Any], ascii_only: bool
) -> None:
    response = send(fuzzer, encode(body, ascii_only))
    if response.status_code != 200:
        check_refusal(response)


@pytest.fixture(scope="module")
def stored_ids(fuzzer: Probe) -> list[str]:
    """Two stored responses, a parent and its child, for bodies that continue one."""
    parent = fuzzer.post("/v1/responses", json={"model": "echo", "input": "first"}).json()
    body = {"model": "echo", "input": "second", "previous_response_id": parent["id"]}
    return [parent["id"], fuzzer.post("/v1/responses", json=body).json()["id"]]


@settings(FUZZ, max_examples=1800)
@given(body=valid_bodies, previous=st.none() | st.sampled_from([0, 1]))
def test_a_body_the_schema_allows_is_served(
    fuzzer: Probe, stored_ids: list[str], body: dict[str, Any], previous: int | None
) -> None:
    if previous is not None:
        body["previous_response_id"] = stored_ids[previous]
    check_served(body, send(fuzzer, encode(body, ascii_only=False)))


@settings(FUZZ, max_examples=2700)
@given(body=mutated_bodies(), ascii_only=st.booleans())
def test_a_body_with_one_thing_broken_is_never_a_server_error(
    fuzzer: Probe, body: dict[str, Any], ascii_only: bool
) -> None:
    response = send(fuzzer, encode(body, ascii_only))
    if response.status_code == 200:
        check_served(body, response)
    else:
        check_refusal(response)
