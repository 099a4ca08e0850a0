"""`POST /v1/responses/compact` end to end: the official SDK compacts a conversation, hands
the compaction item back in later turns (with and without previous_response_id), and the
providers see only the summary; blobs are tamper-proof, rotatable and survive a restart."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import BadRequestError, OpenAI
from openai.types.responses import CompactedResponse, ResponseCompactionItem

from tests.e2e.conftest import model_list
from tests.fakes.upstream import FakeUpstream
from tests.support.server import TetherServer
from tether.core.compaction import DEFAULT_PROMPT, SUMMARY_PREFIX
from tether.sealing import KEY_FILE_SUFFIX, new_key_text

CONVERSATION: list[Any] = [
    {"role": "user", "content": "We agreed to launch on Tuesday and notify support first."},
    {"role": "assistant", "content": "Understood. The launch is Tuesday, support first."},
]


def embedded_config(upstream: FakeUpstream, workdir: Path, **general: Any) -> dict[str, Any]:
    """The embedded default (in-process cache, SQLite) with the test models."""
    database = {"database_url": f"sqlite:///{workdir}/tether.db"}
    return {"model_list": model_list(upstream), "general_settings": database | general}


@pytest.fixture(scope="module")
def server(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TetherServer]:
    workdir = tmp_path_factory.mktemp("compaction")
    running = TetherServer(embedded_config(upstream, workdir), workdir).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sdk(server: TetherServer) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key="sk-anything", max_retries=0)


def compaction_of(compacted: CompactedResponse) -> ResponseCompactionItem:
    last = compacted.output[-1]
    assert isinstance(last, ResponseCompactionItem)
    return last


def as_input(compacted: CompactedResponse) -> list[Any]:
    # The SDK parses the kept user messages as output messages: dump them as they came.
    return [item.model_dump(exclude_none=True, warnings=False) for item in compacted.output]


def flipped(blob: str, position: int = 20) -> str:
    raw = bytearray(base64.urlsafe_b64decode(blob))
    raw[position] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode()


def test_the_sdk_parses_a_compaction_of_user_messages_and_one_sealed_item(sdk: OpenAI) -> None:
    compacted = sdk.responses.compact(model="echo", input=CONVERSATION)

    assert isinstance(compacted, CompactedResponse)
    assert compacted.object == "response.compaction"
    assert compacted.id.startswith("resp_")
    assert [item.type for item in compacted.output] == ["message", "compaction"]
    kept = compacted.output[0].model_dump(warnings=False)
    assert kept["role"] == "user"
    assert kept["content"][0]["text"] == CONVERSATION[0]["content"]
    item = compaction_of(compacted)
    assert item.id.startswith("cmp_")
    assert "Tuesday" not in base64.urlsafe_b64decode(item.encrypted_content).decode("latin-1")
    assert compacted.usage.total_tokens == compacted.usage.input_tokens + (
        compacted.usage.output_tokens
    )


def test_a_later_turn_sees_the_summary_and_never_the_blob(sdk: OpenAI) -> None:
    compacted = sdk.responses.compact(model="echo", input=CONVERSATION)
    blob = compaction_of(compacted).encrypted_content

    followup = sdk.responses.create(
        model="transcript", input=[*as_input(compacted), {"role": "user", "content": "go on"}]
    )

    lines = followup.output_text
    assert f"developer: {SUMMARY_PREFIX}" in lines
    assert "Understood. The launch is Tuesday" in lines  # the echo model's summary: the text
    assert blob not in lines
    stored = sdk.responses.input_items.list(followup.id, order="asc").data
    assert [item.type for item in stored] == ["message", "compaction", "message"]
    assert stored[1].model_dump()["encrypted_content"] == blob  # kept as sent


def test_a_compaction_item_after_previous_response_id_and_streamed(sdk: OpenAI) -> None:
    first = sdk.responses.create(model="echo", input="The code word is slate.")
    compacted = sdk.responses.compact(model="echo", previous_response_id=first.id, input="ok")
    assert [item.type for item in compacted.output] == ["message", "message", "compaction"]

    with sdk.responses.stream(
        model="transcript",
        previous_response_id=first.id,
        input=as_input(compacted)[-1:],
    ) as stream:
        final = stream.get_final_response()

    assert f"developer: {SUMMARY_PREFIX}" in final.output_text
    assert "slate" in final.output_text


def test_websocket_starts_a_new_chain_from_a_compacted_window(sdk: OpenAI) -> None:
    """Open Responses' websocket-compact-new-chain: the window is the whole input."""
    compacted = sdk.responses.compact(model="echo", input=CONVERSATION)
    with sdk.responses.connect() as conn:
        conn.response.create(
            model="transcript",
            store=False,
            input=[*as_input(compacted), {"role": "user", "content": "Reply: compacted"}],
        )
        while (event := conn.recv()).type not in ("response.completed", "error"):
            pass

    assert event.type == "response.completed", event
    assert f"developer: {SUMMARY_PREFIX}" in event.response.output_text
    assert compaction_of(compacted).encrypted_content not in event.response.output_text


def test_a_compaction_item_can_be_compacted_again(sdk: OpenAI) -> None:
    first = sdk.responses.compact(model="echo", input=CONVERSATION)
    second = sdk.responses.compact(
        model="echo", input=[*as_input(first), {"role": "user", "content": "And QA."}]
    )

    assert [item.type for item in second.output] == ["message", "message", "compaction"]
    followup = sdk.responses.create(model="transcript", input=as_input(second))
    assert "launch is Tuesday" in followup.output_text  # the first summary, carried over


@pytest.mark.parametrize("model", ["chat", "claude"])
def test_providers_write_the_summary_and_read_it_back(
    sdk: OpenAI, upstream: FakeUpstream, model: str
) -> None:
    upstream.clear()
    compacted = sdk.responses.compact(model=model, input=CONVERSATION, instructions="Be terse.")
    asked = str(upstream.last_request.body)
    assert DEFAULT_PROMPT[:40] in asked
    assert "system: Be terse." in asked
    assert "user: We agreed to launch on Tuesday" in asked
    blob = compaction_of(compacted).encrypted_content

    followup = sdk.responses.create(
        model=model, input=[*as_input(compacted), {"role": "user", "content": "Status?"}]
    )

    assert followup.output_text.startswith("reply to: ")  # Anthropic's: both user texts
    assert followup.output_text.endswith("Status?")
    sent = str(upstream.last_request.body)
    assert SUMMARY_PREFIX.strip() in sent
    assert "reply to: system: Be terse." in sent  # the fake's summary, opened for the provider
    assert blob not in sent


def test_a_flipped_byte_is_a_400_naming_the_item(sdk: OpenAI) -> None:
    compacted = sdk.responses.compact(model="echo", input=CONVERSATION)
    first = sdk.responses.create(model="echo", input="hello")
    forged: Any = compaction_of(compacted).model_dump(exclude_none=True)
    forged["encrypted_content"] = flipped(forged["encrypted_content"])

    with pytest.raises(BadRequestError) as create:
        sdk.responses.create(
            model="echo",
            previous_response_id=first.id,
            input=[{"role": "user", "content": "x"}, forged],
        )
    with pytest.raises(BadRequestError) as compact:
        sdk.responses.compact(model="echo", input=[forged])

    for caught, param in (
        (create, "input[1].encrypted_content"),
        (compact, "input[0].encrypted_content"),
    ):
        error = caught.value.body
        assert isinstance(error, dict)
        assert error["param"] == param
        assert error["code"] == "invalid_encrypted_content"


def test_a_blob_that_is_not_base64_is_a_400_too(server: TetherServer) -> None:
    body = {"model": "echo", "input": [{"type": "compaction", "encrypted_content": "%%%"}]}

    reply = httpx.post(f"{server.url}/v1/responses", json=body, timeout=10)

    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "input[0].encrypted_content"


def test_compact_refuses_a_missing_model_and_nothing_to_compact(server: TetherServer) -> None:
    missing = httpx.post(
        f"{server.url}/v1/responses/compact",
        json={"input": [{"type": "message", "role": "user", "content": "Compact this."}]},
        timeout=10,
    )
    empty = httpx.post(f"{server.url}/v1/responses/compact", json={"model": "echo"}, timeout=10)

    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "model"
    assert empty.status_code == 400
    assert empty.json()["error"]["param"] == "input"


AUTO = {"context_management": [{"type": "compaction", "compact_threshold": 20}]}


def test_past_its_threshold_a_turn_compacts_what_came_before_automatically(
    sdk: OpenAI, upstream: FakeUpstream
) -> None:
    first = sdk.responses.create(model="chat", input=CONVERSATION)
    upstream.clear()
    second = sdk.responses.create(
        model="chat", previous_response_id=first.id, input="And then?", extra_body=AUTO
    )

    assert [item.type for item in second.output] == ["compaction", "message"]
    summarizing, answering = (request.body for request in upstream.requests)
    assert DEFAULT_PROMPT[:40] in str(summarizing)  # the route's model wrote the summary
    assert "user: We agreed to launch on Tuesday" in str(summarizing)
    sent = answering["messages"]  # then the model saw the summary and the new input only
    assert [m["role"] for m in sent] == ["system", "user"]
    assert sent[0]["content"].startswith(SUMMARY_PREFIX)
    assert sent[1]["content"] == "And then?"
    blob = second.output[0].model_dump()["encrypted_content"]
    assert blob not in str(answering)

    upstream.clear()
    third = sdk.responses.create(model="chat", previous_response_id=second.id, input="After?")
    assert [item.type for item in third.output] == ["message"]
    sent = upstream.last_request.body["messages"]
    # The history starts over from the compaction: the summary, its turn, this input.
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[0]["content"].startswith(SUMMARY_PREFIX)
    assert [m["content"] for m in sent[1:]] == ["And then?", second.output_text, "After?"]


def test_below_its_threshold_nothing_is_compacted_and_streams_show_the_item(sdk: OpenAI) -> None:
    first = sdk.responses.create(model="echo", input="short")
    quiet = sdk.responses.create(
        model="echo",
        previous_response_id=first.id,
        input="still short",
        extra_body={"context_management": [{"type": "compaction", "compact_threshold": 10_000}]},
    )
    assert [item.type for item in quiet.output] == ["message"]

    long_first = sdk.responses.create(model="echo", input=CONVERSATION)
    with sdk.responses.stream(
        model="echo", previous_response_id=long_first.id, input="go", extra_body=AUTO
    ) as stream:
        added = [e.item.type for e in stream if e.type == "response.output_item.added"]
        final = stream.get_final_response()
    assert added == ["compaction", "message"]
    assert [item.type for item in final.output] == ["compaction", "message"]


def test_a_bad_context_management_is_a_400_naming_it(server: TetherServer) -> None:
    for entries, param in (
        ([{"type": "compaction"}], "context_management[0].compact_threshold"),
        ([{"type": "truncate", "compact_threshold": 5}], "context_management[0].type"),
        (
            [{"type": "compaction", "compact_threshold": 0}],
            "context_management[0].compact_threshold",
        ),
    ):
        reply = httpx.post(
            f"{server.url}/v1/responses",
            json={"model": "echo", "input": "hi", "context_management": entries},
            timeout=10,
        )
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"]["param"] == param


def test_the_embedded_default_keeps_its_key_across_a_restart(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    server = TetherServer(embedded_config(upstream, tmp_path), tmp_path).start()
    try:
        client = OpenAI(base_url=f"{server.url}/v1", api_key="sk-anything", max_retries=0)
        compacted = client.responses.compact(model="echo", input=CONVERSATION)
        assert (tmp_path / f"tether.db{KEY_FILE_SUFFIX}").exists()

        server.restart()

        followup = client.responses.create(model="transcript", input=as_input(compacted))
        assert "launch is Tuesday" in followup.output_text
    finally:
        server.stop()


def test_keys_rotate_new_first_old_still_opening(upstream: FakeUpstream, tmp_path: Path) -> None:
    old, new = new_key_text(), new_key_text()
    server = TetherServer(embedded_config(upstream, tmp_path, encryption_keys=[old]), tmp_path)
    server.start()
    try:
        client = OpenAI(base_url=f"{server.url}/v1", api_key="sk-anything", max_retries=0)
        before = client.responses.compact(model="echo", input=CONVERSATION)
        assert not (tmp_path / f"tether.db{KEY_FILE_SUFFIX}").exists()  # configured: no file

        server.config = embedded_config(upstream, tmp_path, encryption_keys=[new, old])
        server.restart()
        after = client.responses.compact(model="echo", input=CONVERSATION)
        for compacted in (before, after):
            client.responses.create(model="echo", input=as_input(compacted))

        server.config = embedded_config(upstream, tmp_path, encryption_keys=[new])
        server.restart()
        client.responses.create(model="echo", input=as_input(after))
        with pytest.raises(BadRequestError) as caught:
            client.responses.create(model="echo", input=as_input(before))
        assert isinstance(caught.value.body, dict)
        assert caught.value.body["param"] == "input[1].encrypted_content"
    finally:
        server.stop()


def test_a_route_writes_summaries_under_its_own_prompt(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = embedded_config(upstream, tmp_path)
    config["model_list"][2]["litellm_params"]["compaction_prompt"] = "Summarize as a haiku."
    server = TetherServer(config, tmp_path).start()
    try:
        client = OpenAI(base_url=f"{server.url}/v1", api_key="sk-anything", max_retries=0)
        upstream.clear()
        client.responses.compact(model="chat", input=CONVERSATION)
        messages = upstream.last_request.body["messages"]
        assert messages[0] == {"role": "system", "content": "Summarize as a haiku."}
    finally:
        server.stop()


def test_a_blob_opens_only_for_the_key_that_made_it_and_the_master_key(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    keys = [{"name": "alice", "key": "sk-alice"}, {"name": "bob", "key": "sk-bob"}]
    config = embedded_config(upstream, tmp_path, master_key="sk-master", api_keys=keys)
    server = TetherServer(config, tmp_path).start()

    def client(key: str) -> OpenAI:
        return OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)

    try:
        window = as_input(client("sk-alice").responses.compact(model="echo", input=CONVERSATION))
        for key in ("sk-alice", "sk-master"):
            client(key).responses.create(model="echo", input=window)
        with pytest.raises(BadRequestError) as caught:
            client("sk-bob").responses.create(model="echo", input=window)
        assert isinstance(caught.value.body, dict)
        assert caught.value.body["param"] == "input[1].encrypted_content"
    finally:
        server.stop()


def test_a_shared_database_without_keys_refuses_compaction_plainly(tether: TetherServer) -> None:
    reply = httpx.post(
        f"{tether.url}/v1/responses/compact",
        json={"model": "echo", "input": copy.deepcopy(CONVERSATION)},
        timeout=10,
    )

    assert reply.status_code == 501
    assert "encryption_keys" in reply.json()["error"]["message"]
    item = {"type": "compaction", "encrypted_content": "AQ" * 40}
    turn = httpx.post(
        f"{tether.url}/v1/responses", json={"model": "echo", "input": [item]}, timeout=10
    )
    assert turn.status_code == 400  # no key: nothing sealed here, so nothing opens
    assert turn.json()["error"]["param"] == "input[0].encrypted_content"
