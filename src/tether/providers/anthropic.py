"""AnthropicProvider: Anthropic Messages, `POST {api_base}/v1/messages`, and the
translation between Responses items and Anthropic messages (pure)."""

from __future__ import annotations

import re
from typing import Any

import orjson

from tether.core.completion import (
    Completion,
    CompletionRequest,
    Delta,
    FinishReason,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from tether.core.items import Item, text_of
from tether.core.settings import FunctionTool, ToolChoice, TurnSettings
from tether.errors import InvalidRequest
from tether.providers.http import Dialect, HttpProvider, Timeouts, make_session

DEFAULT_BASE = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
Block = dict[str, Any]
Message = dict[str, Any]

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_DATA_URL = re.compile(r"^data:(?P<type>[\w/+.-]+);base64,(?P<data>.*)$", re.DOTALL)


def request_body(req: CompletionRequest, *, stream: bool) -> dict[str, Any]:
    settings = req.settings
    _refuse_penalties(settings)
    system, conversation = _split(req)
    body: dict[str, Any] = {
        "model": req.model,
        "max_tokens": settings.max_output_tokens or DEFAULT_MAX_TOKENS,
        "messages": conversation,
    }
    if system:
        body["system"] = system
    if settings.tools and settings.tool_choice != "none":
        body["tools"] = [_tool(t) for t in settings.tools]
        body["tool_choice"] = _tool_choice(settings.tool_choice, settings.parallel_tool_calls)
    if settings.temperature is not None:
        body["temperature"] = settings.temperature
    if settings.top_p is not None:
        body["top_p"] = settings.top_p
    if stream:
        body["stream"] = True
    return body


def _refuse_penalties(settings: TurnSettings) -> None:
    """Anthropic has no penalties: a non-zero one is refused rather than dropped (0 is a no-op)."""
    for name in ("presence_penalty", "frequency_penalty"):
        if getattr(settings, name):
            raise InvalidRequest(
                f"The '{name}' parameter is not supported by Anthropic models; "
                "send 0 or leave it out.",
                param=name,
            )


def _split(req: CompletionRequest) -> tuple[str, list[Message]]:
    """System text (instructions, system and developer messages) and the dialogue."""
    system = [req.settings.instructions] if req.settings.instructions else []
    out: list[Message] = []
    for item in req.items:
        kind = item["type"]
        if kind == "message" and item["role"] in ("system", "developer"):
            system.append(text_of(item["content"]))
        elif kind == "message":
            _append(out, item["role"], [_block(p) for p in item["content"]])
        elif kind == "function_call":
            _append(out, "assistant", [_tool_use(item)])
        elif kind == "function_call_output":
            result = {"type": "tool_result", "tool_use_id": item["call_id"]}
            result["content"] = text_of(item["output"])
            _append(out, "user", [result])
    return "\n\n".join(s for s in system if s), out


def _append(out: list[Message], role: str, blocks: list[Block]) -> None:
    """Anthropic wants alternating roles and no empty text: merge and drop."""
    blocks = [b for b in blocks if b["type"] != "text" or b["text"]]
    if not blocks:
        return
    if out and out[-1]["role"] == role:
        out[-1]["content"].extend(blocks)
    else:
        out.append({"role": role, "content": blocks})


def _block(part: Item) -> Block:
    if part["type"] != "input_image":
        return {"type": "text", "text": part.get("text") or part.get("refusal") or ""}
    url = part.get("image_url") or ""
    match = _DATA_URL.match(url)
    if match:
        source = {"type": "base64", "media_type": match["type"], "data": match["data"]}
    else:
        source = {"type": "url", "url": url}
    return {"type": "image", "source": source}


def _tool_use(item: Item) -> Block:
    try:
        arguments = orjson.loads(item["arguments"] or "{}")
    except orjson.JSONDecodeError:
        arguments = {}
    if not isinstance(arguments, dict):
        arguments = {}
    return {"type": "tool_use", "id": item["call_id"], "name": item["name"], "input": arguments}


def _tool(tool: FunctionTool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": tool.name,
        "input_schema": tool.parameters or {"type": "object", "properties": {}},
    }
    if tool.description:
        out["description"] = tool.description
    return out


def _tool_choice(choice: ToolChoice, parallel: bool) -> dict[str, Any]:
    if not isinstance(choice, str):
        out: dict[str, Any] = {"type": "tool", "name": choice.name}
    else:
        out = {"type": "any" if choice == "required" else "auto"}
    if not parallel:
        out["disable_parallel_tool_use"] = True
    return out


def usage(raw: dict[str, Any], output_tokens: int | None = None) -> Usage:
    cached = raw.get("cache_read_input_tokens") or 0
    created = raw.get("cache_creation_input_tokens") or 0
    if output_tokens is None:
        output_tokens = raw.get("output_tokens") or 0
    return Usage(
        input_tokens=(raw.get("input_tokens") or 0) + cached + created,
        output_tokens=output_tokens,
        cached_tokens=cached,
    )


def completion(body: dict[str, Any]) -> Completion:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in body.get("content") or []:
        if block["type"] == "text":
            texts.append(block["text"])
        elif block["type"] == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(ToolCall(block["id"], block["name"], arguments))
    return Completion(
        text="".join(texts),
        tool_calls=calls,
        finish=_FINISH.get(body.get("stop_reason") or "end_turn", "stop"),
        usage=usage(body.get("usage") or {}),
    )


class EventReader:
    """Turns Anthropic stream events into deltas; `end()` closes the stream."""

    def __init__(self) -> None:
        self._input: dict[str, Any] = {}
        self._output_tokens = 0
        self._finish: FinishReason = "stop"
        self._tool_blocks: dict[int, bool] = {}  # index -> saw any argument text
        self.finished = False  # message_stop arrived: the stream ended properly

    def read(self, event: dict[str, Any]) -> list[Delta]:
        kind = event.get("type")
        if kind == "message_start":
            self._input = event["message"].get("usage") or {}
        elif kind == "content_block_start":
            return self._start(event["index"], event["content_block"])
        elif kind == "content_block_delta":
            return self._delta(event["index"], event["delta"])
        elif kind == "content_block_stop" and self._tool_blocks.get(event["index"]) is False:
            return [ToolCallDelta(index=event["index"], arguments="{}")]
        elif kind == "message_stop":
            self.finished = True
        elif kind == "message_delta":
            stop = (event.get("delta") or {}).get("stop_reason")
            self._finish = _FINISH.get(stop or "end_turn", "stop")
            self._output_tokens = (event.get("usage") or {}).get("output_tokens") or 0
        return []

    def _start(self, index: int, block: Block) -> list[Delta]:
        if block["type"] == "tool_use":
            self._tool_blocks[index] = False
            return [ToolCallDelta(index=index, call_id=block["id"], name=block["name"])]
        if block["type"] == "text" and block.get("text"):
            return [TextDelta(block["text"])]
        return []

    def _delta(self, index: int, delta: Block) -> list[Delta]:
        if delta["type"] == "text_delta" and delta["text"]:
            return [TextDelta(delta["text"])]
        if delta["type"] == "input_json_delta" and delta.get("partial_json"):
            self._tool_blocks[index] = True
            return [ToolCallDelta(index=index, arguments=delta["partial_json"])]
        return []

    def end(self) -> StreamEnd:
        return StreamEnd(self._finish, usage(self._input, self._output_tokens))


DIALECT = Dialect(
    path="/v1/messages",
    request_body=request_body,
    completion=completion,
    reader=EventReader,
)


class AnthropicProvider(HttpProvider):
    @classmethod
    def create(
        cls, model_name: str, api_base: str | None, api_key: str | None, timeouts: Timeouts
    ) -> AnthropicProvider:
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return cls(model_name, api_base or DEFAULT_BASE, make_session(headers, timeouts), DIALECT)
