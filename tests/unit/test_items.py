"""normalize_input and text_of: how a request's `input` becomes stored, replayable items."""

from __future__ import annotations

import re

from tether.core.items import Item, normalize_input, text_of

ITEM_ID = re.compile(r"^(msg|fc|fco)_[0-9a-f]{48}$")


def test_string_input_becomes_one_user_message() -> None:
    [item] = normalize_input("hello")

    assert item["type"] == "message"
    assert item["role"] == "user"
    assert item["content"] == [{"type": "input_text", "text": "hello"}]
    assert item["status"] == "completed"
    assert item["id"].startswith("msg_")


def test_easy_input_message_without_type_is_a_message() -> None:
    [item] = normalize_input([{"role": "developer", "content": "be brief"}])

    assert item["type"] == "message"
    assert item["role"] == "developer"
    assert item["content"] == [{"type": "input_text", "text": "be brief"}]


def test_assistant_string_content_becomes_an_output_text_part() -> None:
    [item] = normalize_input([{"role": "assistant", "content": "earlier answer"}])

    assert item["content"] == [{"type": "output_text", "text": "earlier answer", "annotations": []}]


def test_list_content_is_kept_as_sent() -> None:
    parts = [
        {"type": "input_text", "text": "what is this?"},
        {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "low"},
    ]
    [item] = normalize_input([{"type": "message", "role": "user", "content": parts}])

    assert item["content"] == parts


def test_ids_get_the_prefix_of_their_item_type() -> None:
    items = normalize_input(
        [
            {"role": "user", "content": "weather?"},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ]
    )

    assert [item["id"][: item["id"].index("_") + 1] for item in items] == ["msg_", "fc_", "fco_"]
    assert all(ITEM_ID.match(item["id"]) for item in items)
    assert len({item["id"] for item in items}) == 3


def test_ids_are_unique_across_calls() -> None:
    first, second = normalize_input("a")[0]["id"], normalize_input("a")[0]["id"]

    assert first != second


def test_given_ids_are_kept() -> None:
    items = normalize_input(
        [
            {"id": "msg_mine", "role": "user", "content": "hi"},
            {
                "id": "fc_mine",
                "type": "function_call",
                "call_id": "call_9",
                "name": "f",
                "arguments": '{"a": 1}',
            },
            {"id": "fco_mine", "type": "function_call_output", "call_id": "call_9", "output": "ok"},
        ]
    )

    assert [item["id"] for item in items] == ["msg_mine", "fc_mine", "fco_mine"]


def test_function_call_and_output_fields_survive() -> None:
    call, output = normalize_input(
        [
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city": "Paris"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 21}'},
        ]
    )

    assert call["call_id"] == "call_1"
    assert call["name"] == "get_weather"
    assert call["arguments"] == '{"city": "Paris"}'
    assert call["status"] == "completed"
    assert output["call_id"] == "call_1"
    assert output["output"] == '{"temp": 21}'


def test_given_status_is_kept() -> None:
    [item] = normalize_input([{"role": "assistant", "content": "cut", "status": "incomplete"}])

    assert item["status"] == "incomplete"


def test_text_of_a_string_is_itself() -> None:
    assert text_of("plain") == "plain"


def test_text_of_parts_joins_text_and_refusals_and_skips_images() -> None:
    parts: list[Item] = [
        {"type": "input_text", "text": "Hello, "},
        {"type": "input_image", "image_url": "https://example.com/x.png"},
        {"type": "output_text", "text": "world", "annotations": []},
        {"type": "refusal", "refusal": " (refused)"},
    ]

    assert text_of(parts) == "Hello, world (refused)"


def test_text_of_no_parts_is_empty() -> None:
    assert text_of([]) == ""
