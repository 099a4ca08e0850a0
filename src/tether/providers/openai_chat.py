"""OpenAIChatProvider: any OpenAI-compatible `POST {api_base}/chat/completions`, and the
translation between Responses items and Chat Completions messages (pure)."""

from __future__ import annotations

from typing import Any

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
from tether.core.settings import FunctionTool, ToolChoice
from tether.providers.http import Dialect, HttpProvider, Timeouts, make_session

DEFAULT_BASE = "https://api.openai.com/v1"
Message = dict[str, Any]

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def request_body(req: CompletionRequest, *, stream: bool) -> dict[str, Any]:
    settings = req.settings
    body: dict[str, Any] = {"model": req.model, "messages": messages(req)}
    if settings.tools:
        body["tools"] = [_tool(t) for t in settings.tools]
        body["tool_choice"] = _tool_choice(settings.tool_choice)
        body["parallel_tool_calls"] = settings.parallel_tool_calls
    optional = {
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "presence_penalty": settings.presence_penalty,
        "frequency_penalty": settings.frequency_penalty,
        "max_tokens": settings.max_output_tokens,
        "response_format": _response_format(settings.text),
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def messages(req: CompletionRequest) -> list[Message]:
    out: list[Message] = []
    if req.settings.instructions:
        out.append({"role": "system", "content": req.settings.instructions})
    for item in req.items:
        kind = item["type"]
        if kind == "message":
            out.append(_message(item))
        elif kind == "function_call":
            _add_tool_call(out, item)
        elif kind == "function_call_output":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": item["call_id"],
                    "content": text_of(item["output"]),
                }
            )
    return out


def _message(item: Item) -> Message:
    role = item["role"]
    if role in ("system", "developer"):
        return {"role": "system", "content": text_of(item["content"])}
    if role == "assistant":
        return {"role": "assistant", "content": text_of(item["content"])}
    parts = [_user_part(part) for part in item["content"]]
    if len(parts) == 1 and parts[0]["type"] == "text":
        return {"role": "user", "content": parts[0]["text"]}
    return {"role": "user", "content": parts}


def _user_part(part: Item) -> dict[str, Any]:
    if part["type"] == "input_image":
        url = part.get("image_url") or part.get("file_id") or ""
        return {
            "type": "image_url",
            "image_url": {"url": url, "detail": part.get("detail", "auto")},
        }
    return {"type": "text", "text": part.get("text") or part.get("refusal") or ""}


def _add_tool_call(out: list[Message], item: Item) -> None:
    """Function calls join the assistant message before them, as chat servers expect."""
    call = {
        "id": item["call_id"],
        "type": "function",
        "function": {"name": item["name"], "arguments": item["arguments"]},
    }
    last = out[-1] if out else None
    if last is not None and last["role"] == "assistant":
        last.setdefault("tool_calls", []).append(call)
        if not last["content"]:
            last["content"] = None
    else:
        out.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _tool(tool: FunctionTool) -> dict[str, Any]:
    function: dict[str, Any] = {
        "name": tool.name,
        "parameters": tool.parameters or {"type": "object"},
    }
    if tool.description:
        function["description"] = tool.description
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    if isinstance(choice, str):
        return choice
    return {"type": "function", "function": {"name": choice.name}}


def _response_format(text: dict[str, Any] | None) -> dict[str, Any] | None:
    fmt = (text or {}).get("format") or {}
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    return None


def usage(raw: dict[str, Any] | None) -> Usage:
    raw = raw or {}
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=raw.get("prompt_tokens") or 0,
        output_tokens=raw.get("completion_tokens") or 0,
        cached_tokens=prompt_details.get("cached_tokens") or 0,
        reasoning_tokens=completion_details.get("reasoning_tokens") or 0,
    )


def completion(body: dict[str, Any]) -> Completion:
    """A non-streaming chat completion as a provider-neutral Completion."""
    choice = body["choices"][0]
    message = choice.get("message") or {}
    calls = [
        ToolCall(call["id"], call["function"]["name"], call["function"].get("arguments") or "{}")
        for call in message.get("tool_calls") or []
    ]
    return Completion(
        text=message.get("content") or "",
        tool_calls=calls,
        finish=_FINISH.get(choice.get("finish_reason") or "stop", "stop"),
        usage=usage(body.get("usage")),
    )


class ChunkReader:
    """Turns `chat.completion.chunk` objects into deltas; `end()` closes the stream."""

    def __init__(self) -> None:
        self._finish: FinishReason = "stop"
        self._usage = Usage()
        self.finished = False  # a finish_reason arrived: the stream ended properly

    def read(self, chunk: dict[str, Any]) -> list[Delta]:
        if chunk.get("usage"):
            self._usage = usage(chunk["usage"])
        deltas: list[Delta] = []
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                deltas.append(TextDelta(delta["content"]))
            for call in delta.get("tool_calls") or []:
                function = call.get("function") or {}
                deltas.append(
                    ToolCallDelta(
                        index=call.get("index", 0),
                        arguments=function.get("arguments") or "",
                        call_id=call.get("id"),
                        name=function.get("name"),
                    )
                )
            if choice.get("finish_reason"):
                self._finish = _FINISH.get(choice["finish_reason"], "stop")
                self.finished = True
        return deltas

    def end(self) -> StreamEnd:
        return StreamEnd(self._finish, self._usage)


DIALECT = Dialect(
    path="/chat/completions",
    request_body=request_body,
    completion=completion,
    reader=ChunkReader,
)


class OpenAIChatProvider(HttpProvider):
    @classmethod
    def create(
        cls, model_name: str, api_base: str | None, api_key: str | None, timeouts: Timeouts
    ) -> OpenAIChatProvider:
        headers = {"content-type": "application/json"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        return cls(model_name, api_base or DEFAULT_BASE, make_session(headers, timeouts), DIALECT)
