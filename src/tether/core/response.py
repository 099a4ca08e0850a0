"""Building the OpenAI Response object: every field present, even when null."""

from __future__ import annotations

from typing import Any

from tether.core.completion import Completion, FinishReason, Usage
from tether.core.ids import new_item_id
from tether.core.items import Item, function_call, output_message
from tether.core.settings import TurnSettings


def skeleton(response_id: str, settings: TurnSettings, created_at: float) -> dict[str, Any]:
    """The response as it stands before the model answers (`status: in_progress`).

    Every field of OpenAI's Response is present; what tether never produces is null.
    """
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(created_at),
        "status": "in_progress",
        "background": False,  # `background: true` is refused
        "completed_at": None,
        "conversation": None,  # `conversation` is refused
        "error": None,
        "incomplete_details": None,
        "output": [],
        "prompt": None,  # `prompt` is refused
        "usage": None,
        # OpenAI-only features: no provider of tether has them.
        "access_programs": None,
        "image": None,
        "input_transformations": None,
        "moderation": None,
        "prompt_cache_diagnostics": None,
        "prompt_cache_options": None,
        "tool_usage": None,
        **settings.echoed(),
    }


def output_items(completion: Completion) -> list[Item]:
    """A message for the text (if any), then one item per tool call, in order."""
    items: list[Item] = []
    if completion.text or not completion.tool_calls:
        status = "incomplete" if completion.finish == "length" else "completed"
        items.append(output_message(new_item_id("msg_"), completion.text, status))
    for call in completion.tool_calls:
        items.append(function_call(new_item_id("fc_"), call.call_id, call.name, call.arguments))
    return items


def usage_object(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


_INCOMPLETE_REASON: dict[FinishReason, str] = {
    "length": "max_output_tokens",
    "content_filter": "content_filter",
}


def finished(
    base: dict[str, Any],
    output: list[Item],
    finish: FinishReason,
    usage: Usage,
    completed_at: float,
) -> dict[str, Any]:
    """The final response: output, usage and a status mapped from the finish reason."""
    reason = _INCOMPLETE_REASON.get(finish)
    return {
        **base,
        "status": "incomplete" if reason else "completed",
        "completed_at": int(completed_at),
        "incomplete_details": {"reason": reason} if reason else None,
        "output": output,
        "usage": usage_object(usage),
    }


def failed(base: dict[str, Any], code: str, message: str) -> dict[str, Any]:
    return {**base, "status": "failed", "error": {"code": code, "message": message}}
