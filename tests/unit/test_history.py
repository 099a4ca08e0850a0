"""History assembly: what earlier turns a follow-up replays to the model, and in what order."""

from __future__ import annotations

import copy
from typing import Any

from tests.support.settings import settings_of
from tether.core.completion import CompletionRequest
from tether.core.history import assemble
from tether.core.items import Item, function_call, normalize_input, output_message
from tether.core.records import Turn
from tether.core.response import skeleton
from tether.providers import anthropic, openai_chat


def turn(n: int, input_items: list[Item], output: list[Item], **settings: Any) -> Turn:
    response_id = f"resp_{'0' * 32}{n:032x}"
    response = skeleton(response_id, settings_of(**settings), float(n))
    response["output"] = output
    return Turn(
        id=response_id,
        session="0" * 32,
        parent_id=None,
        owner="alice",
        created_at=float(n),
        input_items=input_items,
        response=response,
    )


def texts(items: list[Item]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        if item["type"] == "message":
            out.append((item["role"], item["content"][0]["text"]))
        else:
            out.append((item["type"], item["call_id"]))
    return out


def test_no_chain_is_just_the_new_items() -> None:
    new = normalize_input("hello")

    assert assemble([], new) == new


def test_turns_oldest_first_input_then_output_then_new_items() -> None:
    first = turn(1, normalize_input("one"), [output_message("msg_a1", "ONE")])
    second = turn(2, normalize_input("two"), [output_message("msg_a2", "TWO")])

    history = assemble([first, second], normalize_input("three"))

    assert texts(history) == [
        ("user", "one"),
        ("assistant", "ONE"),
        ("user", "two"),
        ("assistant", "TWO"),
        ("user", "three"),
    ]


def test_tool_calls_and_outputs_are_replayed_in_place() -> None:
    first = turn(
        1,
        normalize_input("weather?"),
        [
            output_message("msg_a", "Checking."),
            function_call("fc_1", "call_1", "get_weather", '{"city":"Paris"}'),
        ],
    )
    second = turn(
        2,
        normalize_input([{"type": "function_call_output", "call_id": "call_1", "output": "sunny"}]),
        [output_message("msg_b", "It is sunny.")],
    )

    history = assemble([first, second], normalize_input("thanks"))

    assert texts(history) == [
        ("user", "weather?"),
        ("assistant", "Checking."),
        ("function_call", "call_1"),
        ("function_call_output", "call_1"),
        ("assistant", "It is sunny."),
        ("user", "thanks"),
    ]
    assert history[2]["arguments"] == '{"city":"Paris"}'


def test_earlier_instructions_are_not_replayed() -> None:
    first = turn(
        1,
        normalize_input("hi"),
        [output_message("msg_a", "BONJOUR")],
        instructions="Answer in French.",
    )

    history = assemble([first], normalize_input("again"))

    assert all("French" not in str(item) for item in history)
    assert all(item["role"] in ("user", "assistant") for item in history)


def test_input_developer_messages_are_items_and_are_replayed() -> None:
    first = turn(
        1,
        normalize_input(
            [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "hi"}]
        ),
        [output_message("msg_a", "hi")],
    )

    history = assemble([first], normalize_input("again"))

    assert texts(history)[0] == ("developer", "be brief")


def test_assembly_does_not_change_the_stored_turns() -> None:
    first = turn(1, normalize_input("one"), [output_message("msg_a1", "ONE")])
    before = (list(first.input_items), list(first.output_items))

    assemble([first], normalize_input("two"))

    assert (first.input_items, first.output_items) == before


def test_replaying_a_chain_to_either_provider_leaves_its_turns_untouched() -> None:
    # A chain's turns are stored records: building a request from them only reads them.
    chain = [
        turn(
            1,
            normalize_input(
                [
                    {"role": "developer", "content": "be brief"},
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_text", "text": "look"},
                            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                        ],
                    },
                    {"role": "user", "content": "and this"},
                ]
            ),
            [
                output_message("msg_a1", "calling"),
                function_call("fc_1", "call_1", "get_weather", '{"city":"Paris"}'),
                function_call("fc_2", "call_2", "get_time", "{}"),
            ],
        ),
        turn(
            2,
            normalize_input(
                [
                    {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
                    {"type": "function_call_output", "call_id": "call_2", "output": "noon"},
                ]
            ),
            [output_message("msg_a2", "sunny at noon")],
        ),
    ]
    before = copy.deepcopy(chain)
    request = CompletionRequest(
        "m", assemble(chain, normalize_input("thanks")), settings_of(instructions="hi")
    )
    for build in (openai_chat.request_body, anthropic.request_body):
        for stream in (False, True):
            build(request, stream=stream)
    assert chain == before


def test_a_turn_compacted_automatically_starts_the_history_over() -> None:
    compaction = {"id": "cmp_1", "type": "compaction", "encrypted_content": "sealed"}
    chain = [
        turn(1, normalize_input("one"), [output_message("msg_1", "ONE")]),
        turn(2, normalize_input("two"), [compaction, output_message("msg_2", "TWO")]),
        turn(3, normalize_input("three"), [output_message("msg_3", "THREE")]),
    ]
    history = assemble(chain, normalize_input("four"))
    assert history[0] == compaction  # it stands for turn 1 and all before turn 2's input
    assert texts(history[1:]) == [
        ("user", "two"),
        ("assistant", "TWO"),
        ("user", "three"),
        ("assistant", "THREE"),
        ("user", "four"),
    ]
