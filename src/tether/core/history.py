"""History assembly: a chain of turns replayed as one item list (OpenAI's rules)."""

from __future__ import annotations

from collections.abc import Iterable

from tether.core.compaction import Opener, summary_message
from tether.core.items import Item
from tether.core.records import Turn
from tether.errors import InvalidRequest


def assemble(chain: Iterable[Turn], new_items: list[Item]) -> list[Item]:
    """Oldest turn first: each turn's input then its output, then this turn's input.

    Only items are inherited; earlier `instructions`, `tools`, sampling settings and
    `metadata` stay with the turn that sent them. A turn compacted automatically (its
    output opens with a compaction item) starts the history over from that item.
    """
    history: list[Item] = []
    for turn in chain:
        output = turn.output_items
        if output and output[0]["type"] == "compaction":
            # Compacted automatically: its first item stands for all that came before.
            history = [output[0], *turn.input_items, *output[1:]]
        else:
            history.extend(turn.input_items)
            history.extend(output)
    history.extend(new_items)
    return history


def check_tool_outputs(history: list[Item], new_from: int) -> None:
    """Every `function_call_output` the turn sends answers a `function_call` before it, in
    the chain or the input, as OpenAI requires (providers refuse an orphan tool result)."""
    if all(item["type"] != "function_call_output" for item in history[new_from:]):
        return
    calls = {item["call_id"] for item in history[:new_from] if item["type"] == "function_call"}
    for index, item in enumerate(history[new_from:]):
        if item["type"] == "function_call":
            calls.add(item["call_id"])
        elif item["type"] == "function_call_output" and item["call_id"] not in calls:
            raise InvalidRequest(
                f"No tool call found for function call output with call_id {item['call_id']}.",
                param=f"input[{index}].call_id",
            )


def expand_compactions(history: list[Item], open_blob: Opener, new_from: int) -> list[Item]:
    """`history` with each compaction item replaced by the summary it seals, as the
    provider must see it (never the blob). A blob that does not open is the client's
    error: `input[N].encrypted_content` when this turn sent it, else the chain's."""
    expanded: list[Item] = []
    for index, item in enumerate(history):
        if item["type"] != "compaction":
            expanded.append(item)
            continue
        summary = open_blob(item["encrypted_content"])
        if summary is None:
            raise _unopened(index - new_from)
        expanded.append(summary_message(summary))
    return expanded


def _unopened(index: int) -> InvalidRequest:
    if index < 0:
        return InvalidRequest(
            "A compaction item earlier in the conversation can no longer be opened "
            "(the key that sealed it is no longer configured).",
            param="previous_response_id",
            code="invalid_encrypted_content",
        )
    return InvalidRequest(
        "The compaction item's encrypted_content could not be verified: it was not "
        "produced by this gateway for this API key, was altered, or its key is no longer "
        "configured.",
        param=f"input[{index}].encrypted_content",
        code="invalid_encrypted_content",
    )
