"""Building the OpenAI Response object: every field present, even when null."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tether.core.completion import Completion, FinishReason, Usage
from tether.core.ids import new_item_id
from tether.core.items import Item, function_call, output_message


@dataclass(frozen=True, slots=True)
class ResponseSettings:
    """What a request sets for its own turn, echoed back in the Response object."""

    model: str
    instructions: str | None = None
    previous_response_id: str | None = None
    store: bool = True
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: str | dict[str, Any] = "auto"
    parallel_tool_calls: bool = True
    metadata: dict[str, str] = field(default_factory=dict)
    text: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    truncation: str | None = None
    user: str | None = None


def skeleton(response_id: str, settings: ResponseSettings, created_at: float) -> dict[str, Any]:
    """The response as it stands before the model answers (`status: in_progress`)."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(created_at),
        "status": "in_progress",
        "background": False,
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": settings.instructions,
        "max_output_tokens": settings.max_output_tokens,
        "max_tool_calls": None,
        "model": settings.model,
        "output": [],
        "parallel_tool_calls": settings.parallel_tool_calls,
        "previous_response_id": settings.previous_response_id,
        "prompt": None,
        "prompt_cache_key": None,
        "reasoning": settings.reasoning or {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": settings.store,
        "temperature": 1.0 if settings.temperature is None else settings.temperature,
        "text": settings.text or {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": settings.tool_choice,
        "tools": settings.tools,
        "top_logprobs": 0,
        "top_p": 1.0 if settings.top_p is None else settings.top_p,
        "truncation": settings.truncation or "disabled",
        "usage": None,
        "user": settings.user,
        "metadata": settings.metadata,
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
