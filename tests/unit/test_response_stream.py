"""The Response object and the streaming event protocol, as the openai SDK reads them."""

from __future__ import annotations

from typing import Any

import pydantic
from openai.types.responses import Response, ResponseStreamEvent

from tests.support.settings import settings_of
from tether.core.completion import Completion, StreamEnd, TextDelta, ToolCall, ToolCallDelta, Usage
from tether.core.response import finished, output_items, skeleton
from tether.core.stream import Event, ResponseStream

RESPONSE_ID = "resp_" + "a" * 64
CREATED_AT = 1_700_000_000.5
COMPLETED_AT = 1_700_000_003.9
USAGE = Usage(input_tokens=11, output_tokens=7, cached_tokens=3, reasoning_tokens=2)
STREAM_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)

# Required by the Open Responses `ResponseResource` schema but not (yet) declared by the SDK.
OPEN_RESPONSES_ONLY = {"store", "presence_penalty", "frequency_penalty"}
RESPONSE_FIELDS = set(Response.model_fields) | OPEN_RESPONSES_ONLY


def base(**settings: Any) -> dict[str, Any]:
    return skeleton(RESPONSE_ID, settings_of(**settings), CREATED_AT)


def run(
    deltas: list[TextDelta | ToolCallDelta], end: StreamEnd
) -> tuple[list[Event], dict[str, Any]]:
    """Every event of one stream, in order, and the final response that was recorded."""
    stream = ResponseStream(base())
    events = stream.start()
    for delta in deltas:
        events += stream.feed(delta)
    closing, final = stream.finish(end, COMPLETED_AT)
    return [*events, *closing, stream.completed(final)], final


def types(events: list[Event]) -> list[str]:
    return [event["type"] for event in events]


# --- the Response object ----------------------------------------------------------------


def test_skeleton_has_exactly_the_fields_of_the_sdks_response() -> None:
    """A field a newer SDK adds fails here until the Response shows it too."""
    response = base()

    assert set(response) == RESPONSE_FIELDS
    Response.model_validate(response)


def test_every_response_a_stream_shows_has_every_field() -> None:
    events, final = run([TextDelta("hi")], StreamEnd("stop", USAGE))

    shown = [event["response"] for event in events if "response" in event]
    assert [set(response) for response in shown] == [RESPONSE_FIELDS] * 3
    assert set(final) == RESPONSE_FIELDS
    for response in shown:
        Response.model_validate(response)


def test_skeleton_echoes_this_turns_settings() -> None:
    tool = {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": None}
    tools = [{**tool, "description": None}]  # as validated: every field of the tool shown
    response = base(
        instructions="be brief",
        previous_response_id="resp_" + "b" * 64,
        store=False,
        temperature=0.3,
        top_p=0.8,
        max_output_tokens=50,
        tools=[tool],
        tool_choice="required",
        parallel_tool_calls=False,
        metadata={"k": "v"},
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        top_logprobs=0,
        max_tool_calls=3,
        prompt_cache_retention="24h",
    )

    assert response["id"] == RESPONSE_ID
    assert response["object"] == "response"
    assert response["created_at"] == 1_700_000_000
    assert response["status"] == "in_progress"
    assert response["output"] == []
    assert response["usage"] is None
    assert response["instructions"] == "be brief"
    assert response["previous_response_id"] == "resp_" + "b" * 64
    assert response["store"] is False
    assert (response["temperature"], response["top_p"]) == (0.3, 0.8)
    assert response["max_output_tokens"] == 50
    assert response["tools"] == tools
    assert response["tool_choice"] == "required"
    assert response["parallel_tool_calls"] is False
    assert response["metadata"] == {"k": "v"}
    assert (response["presence_penalty"], response["frequency_penalty"]) == (0.5, -0.5)
    assert response["top_logprobs"] == 0
    assert response["max_tool_calls"] == 3
    assert response["prompt_cache_retention"] == "24h"


def test_skeleton_defaults_match_openai() -> None:
    response = base()

    assert response["temperature"] == 1.0
    assert response["top_p"] == 1.0
    assert response["tool_choice"] == "auto"
    assert response["truncation"] == "disabled"
    assert response["text"] == {"format": {"type": "text"}, "verbosity": "medium"}
    assert response["metadata"] == {}
    assert response["store"] is True
    assert (response["presence_penalty"], response["frequency_penalty"]) == (0.0, 0.0)
    assert response["top_logprobs"] == 0
    assert response["max_tool_calls"] is None
    assert response["background"] is False
    assert response["conversation"] is None
    assert response["service_tier"] == "default"
    Response.model_validate(response)


def test_finished_response_validates_with_the_sdk() -> None:
    completion = Completion(
        text="It is sunny.",
        tool_calls=[ToolCall("call_1", "get_weather", '{"city":"Paris"}')],
        finish="tool_calls",
        usage=USAGE,
    )

    final = finished(base(), output_items(completion), "tool_calls", USAGE, COMPLETED_AT)
    parsed = Response.model_validate(final)

    assert parsed.status == "completed"
    assert parsed.completed_at == 1_700_000_003
    assert parsed.output_text == "It is sunny."
    assert [item.type for item in parsed.output] == ["message", "function_call"]
    assert parsed.usage is not None
    assert parsed.usage.input_tokens == 11
    assert parsed.usage.output_tokens == 7
    assert parsed.usage.total_tokens == 18
    assert parsed.usage.input_tokens_details.cached_tokens == 3
    assert parsed.usage.output_tokens_details.reasoning_tokens == 2


def test_output_items_tool_calls_only_have_no_empty_message() -> None:
    completion = Completion("", [ToolCall("c1", "f", "{}")], "tool_calls", Usage())

    items = output_items(completion)

    assert [item["type"] for item in items] == ["function_call"]
    assert items[0]["call_id"] == "c1"
    assert items[0]["id"].startswith("fc_")


def test_output_items_empty_reply_is_one_empty_message() -> None:
    [item] = output_items(Completion("", [], "stop", Usage()))

    assert item["type"] == "message"
    assert item["content"][0]["text"] == ""


def test_length_finish_is_incomplete_for_max_output_tokens() -> None:
    completion = Completion("cut", [], "length", USAGE)

    final = finished(base(), output_items(completion), "length", USAGE, COMPLETED_AT)

    assert final["status"] == "incomplete"
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["output"][0]["status"] == "incomplete"
    Response.model_validate(final)


# --- the stream ---------------------------------------------------------------------------


def test_text_reply_event_order() -> None:
    events, _ = run([TextDelta("Hel"), TextDelta("lo")], StreamEnd("stop", USAGE))

    assert types(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]


def test_sequence_numbers_count_from_zero_without_gaps() -> None:
    events, _ = run(
        [TextDelta("a"), ToolCallDelta(0, "", "c1", "f"), ToolCallDelta(0, "{}")],
        StreamEnd("tool_calls", USAGE),
    )

    assert [event["sequence_number"] for event in events] == list(range(len(events)))


def test_text_events_carry_the_text_and_one_item_id() -> None:
    events, final = run([TextDelta("Hel"), TextDelta("lo")], StreamEnd("stop", USAGE))
    by_type = {event["type"]: event for event in events}
    item_id = final["output"][0]["id"]

    assert [e["delta"] for e in events if e["type"] == "response.output_text.delta"] == [
        "Hel",
        "lo",
    ]
    assert by_type["response.output_text.done"]["text"] == "Hello"
    assert by_type["response.content_part.done"]["part"]["text"] == "Hello"
    assert by_type["response.output_item.done"]["item"]["status"] == "completed"
    assert item_id.startswith("msg_")
    item_events = [e for e in events if "item_id" in e]
    assert {e["item_id"] for e in item_events} == {item_id}
    assert {e["output_index"] for e in item_events} == {0}


def test_created_and_in_progress_carry_the_full_in_progress_response() -> None:
    events, _ = run([TextDelta("x")], StreamEnd("stop", USAGE))

    for event in events[:2]:
        assert event["response"]["id"] == RESPONSE_ID
        assert event["response"]["status"] == "in_progress"
        assert event["response"]["output"] == []


def test_completed_event_has_output_and_usage() -> None:
    events, final = run([TextDelta("Hello")], StreamEnd("stop", USAGE))
    completed = events[-1]["response"]

    assert completed == final
    assert completed["status"] == "completed"
    assert completed["output"][0]["content"][0]["text"] == "Hello"
    assert completed["usage"]["total_tokens"] == 18
    assert completed["completed_at"] == 1_700_000_003
    Response.model_validate(completed)


def test_output_item_added_announces_an_empty_message() -> None:
    events, _ = run([TextDelta("Hello")], StreamEnd("stop", USAGE))
    [added] = [e for e in events if e["type"] == "response.output_item.added"]

    assert added["item"]["status"] == "in_progress"
    assert added["item"]["content"] == []


def test_text_then_tool_call_closes_the_message_before_the_call_opens() -> None:
    events, final = run(
        [
            TextDelta("Checking."),
            ToolCallDelta(0, "", call_id="call_w", name="get_weather"),
            ToolCallDelta(0, '{"city":'),
            ToolCallDelta(0, '"Paris"}'),
        ],
        StreamEnd("tool_calls", USAGE),
    )

    assert types(events)[2:] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    indexes = [e["output_index"] for e in events if "output_index" in e]
    assert indexes == [0] * 6 + [1] * 5
    call_added = events[8]["item"]
    assert call_added["type"] == "function_call"
    assert call_added["call_id"] == "call_w"
    assert call_added["name"] == "get_weather"
    assert call_added["status"] == "in_progress"
    args_done = events[11]
    assert args_done["arguments"] == '{"city":"Paris"}'
    assert args_done["item_id"] == call_added["id"]
    assert [item["type"] for item in final["output"]] == ["message", "function_call"]
    assert final["output"][1]["arguments"] == '{"city":"Paris"}'
    assert final["output"][1]["status"] == "completed"


def test_two_tool_calls_get_two_items() -> None:
    _, final = run(
        [
            ToolCallDelta(0, "", "c0", "a"),
            ToolCallDelta(0, "{}"),
            ToolCallDelta(1, "", "c1", "b"),
            ToolCallDelta(1, '{"x":1}'),
        ],
        StreamEnd("tool_calls", USAGE),
    )

    assert [(i["call_id"], i["name"], i["arguments"]) for i in final["output"]] == [
        ("c0", "a", "{}"),
        ("c1", "b", '{"x":1}'),
    ]


def test_every_event_validates_as_an_sdk_stream_event() -> None:
    events, _ = run(
        [TextDelta("a"), ToolCallDelta(0, "", "c1", "f"), ToolCallDelta(0, "{}")],
        StreamEnd("length", USAGE),
    )

    parsed = [STREAM_EVENT.validate_python(event) for event in events]

    assert [p.type for p in parsed] == types(events)


def test_length_finish_ends_with_response_incomplete() -> None:
    events, final = run([TextDelta("cut sh")], StreamEnd("length", USAGE))

    assert events[-1]["type"] == "response.incomplete"
    assert final["status"] == "incomplete"
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["output"][0]["status"] == "incomplete"
    done = next(e for e in events if e["type"] == "response.output_item.done")
    assert done["item"]["status"] == "incomplete"


def test_fail_sends_error_then_response_failed() -> None:
    stream = ResponseStream(base())
    events = stream.start() + stream.feed(TextDelta("partial"))

    failure = stream.fail("upstream_error", "upstream went away")

    assert [e["type"] for e in failure] == ["error", "response.failed"]
    error, failed = failure
    assert error["code"] == "upstream_error"
    assert error["message"] == "upstream went away"
    assert failed["response"]["status"] == "failed"
    # The response keeps to OpenAI's fixed error codes, so strict clients accept it.
    assert failed["response"]["error"] == {
        "code": "server_error",
        "message": "upstream went away",
    }
    Response.model_validate(failed["response"])
    assert failed["response"]["id"] == RESPONSE_ID
    numbers = [e["sequence_number"] for e in events + failure]
    assert numbers == list(range(len(numbers)))


def test_empty_reply_still_has_one_empty_message() -> None:
    _, final = run([], StreamEnd("stop", USAGE))

    [item] = final["output"]
    assert item["type"] == "message"
    assert item["status"] == "completed"
    assert item["content"] == [{"type": "output_text", "text": "", "annotations": []}]


def test_empty_reply_events_open_and_close_the_message() -> None:
    events, _ = run([], StreamEnd("stop", USAGE))

    # An empty `response.output_text.delta` in between would be harmless; leave it out.
    assert [t for t in types(events) if t != "response.output_text.delta"] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
