"""EchoProvider: built-in, deterministic, no network — for trying tether and for tests.

`echo/echo` (or any name) answers with the text of the last user message.
`echo/transcript` answers with every message it was sent, one `role: text` per line,
which shows exactly what history reached the model.
After a `function_call_output` it answers `tool said: <output>`. When the request
offers tools and the last user text is `call NAME {json}`, it calls that tool.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

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
from tether.core.ids import new_item_id
from tether.core.items import text_of

MAX_CHUNKS = 256
_NAME = re.compile(r"[\w.-]{1,128}")
_WORD = re.compile(r"\S+\s*|\s+")


class EchoProvider:
    def __init__(self, variant: str = "echo") -> None:
        self._transcript = variant == "transcript"

    async def complete(self, request: CompletionRequest) -> Completion:
        return self._answer(request)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[list[Delta]]:
        """A delta a word, each in a batch of its own, as a model streaming tokens."""
        answer = self._answer(request)
        words = _WORD.findall(answer.text)
        step = max(1, len(words) // MAX_CHUNKS)  # a huge echo streams in bounded events
        for start in range(0, len(words), step):
            yield [TextDelta("".join(words[start : start + step]))]
        for index, call in enumerate(answer.tool_calls):
            yield [ToolCallDelta(index=index, call_id=call.call_id, name=call.name)]
            yield [ToolCallDelta(index=index, arguments=call.arguments)]
        yield [StreamEnd(answer.finish, answer.usage)]

    async def aclose(self) -> None:
        return None

    def _answer(self, request: CompletionRequest) -> Completion:
        call = _tool_call(request)
        text = "" if call else self._text(request)
        limit = request.settings.max_output_tokens
        words = _WORD.findall(text)
        truncated = limit is not None and len(words) > limit
        if truncated:
            text = "".join(words[:limit])
        usage = Usage(input_tokens=_count_words(request), output_tokens=len(text.split()))
        finish: FinishReason = "tool_calls" if call else "length" if truncated else "stop"
        return Completion(text=text, tool_calls=[call] if call else [], finish=finish, usage=usage)

    def _text(self, request: CompletionRequest) -> str:
        if self._transcript:
            return "\n".join(_transcript_lines(request))
        last = request.items[-1] if request.items else None
        if last and last["type"] == "function_call_output":
            return "tool said: " + text_of(last["output"])
        return _last_user_text(request)


def _last_user_text(request: CompletionRequest) -> str:
    for item in reversed(request.items):
        if item["type"] == "message" and item["role"] == "user":
            return text_of(item["content"])
    return ""


def _tool_call(request: CompletionRequest) -> ToolCall | None:
    if not request.settings.tools or request.settings.tool_choice == "none":
        return None
    last = request.items[-1] if request.items else None
    if not last or last["type"] != "message" or last["role"] != "user":
        return None
    parsed = _parse_call(text_of(last["content"]))
    names = {tool.name for tool in request.settings.tools}
    if parsed is None or parsed[0] not in names:
        return None
    return ToolCall(new_item_id("call_"), parsed[0], parsed[1])


def _parse_call(text: str) -> tuple[str, str] | None:
    """`call NAME {json}` -> (NAME, json). Plain string work: no regex to backtrack."""
    command, _, rest = text.strip().partition(" ")
    if command != "call":
        return None
    name, _, arguments = rest.strip().partition(" ")
    arguments = arguments.strip() or "{}"
    if not _NAME.fullmatch(name) or not (arguments.startswith("{") and arguments.endswith("}")):
        return None
    return name, arguments


def _transcript_lines(request: CompletionRequest) -> list[str]:
    instructions = request.settings.instructions
    lines = [f"instructions: {instructions}"] if instructions else []
    for item in request.items:
        if item["type"] == "message":
            lines.append(f"{item['role']}: {text_of(item['content'])}")
        elif item["type"] == "function_call":
            lines.append(f"function_call {item['name']}: {item['arguments']}")
        else:
            lines.append(f"function_call_output: {text_of(item['output'])}")
    return lines


def _count_words(request: CompletionRequest) -> int:
    return sum(len(line.split()) for line in _transcript_lines(request))
