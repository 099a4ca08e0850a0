"""The same conversation spoken to tether (Responses API) and straight to the upstream (chat).

The chat dialect sends exactly the messages tether replays upstream for the same turn,
so the difference between the two is what tether adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from harness.jobs import Target

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Conversation:
    """Where a conversation stands: tether needs the last id, the upstream the whole history."""

    last_id: str | None = None
    messages: tuple[Message, ...] = field(default_factory=tuple)


class Dialect(Protocol):
    path: str

    def fresh(self, text: str, *, stream: bool = False) -> bytes: ...

    def follow(self, conversation: Conversation, text: str, *, store: bool = True) -> bytes: ...

    def advance(self, conversation: Conversation, text: str, reply: bytes) -> Conversation: ...

    def is_content(self, event: bytes) -> bool:
        """Whether an SSE event carries output text (for time to first token)."""
        ...


class ResponsesDialect:
    path = "/v1/responses"

    def __init__(self, model: str) -> None:
        self._model = model

    def fresh(self, text: str, *, stream: bool = False) -> bytes:
        body: dict[str, Any] = {"model": self._model, "input": text}
        if stream:
            body["stream"] = True
        return orjson.dumps(body)

    def follow(self, conversation: Conversation, text: str, *, store: bool = True) -> bytes:
        body: dict[str, Any] = {"model": self._model, "input": text}
        body["previous_response_id"] = conversation.last_id
        if not store:
            body["store"] = False
        return orjson.dumps(body)

    def advance(self, conversation: Conversation, text: str, reply: bytes) -> Conversation:
        return Conversation(last_id=orjson.loads(reply)["id"])

    def is_content(self, event: bytes) -> bool:
        return event.startswith(b"event: response.output_text.delta\n")


class ChatDialect:
    path = "/v1/chat/completions"

    def __init__(self, model: str) -> None:
        self._model = model

    def fresh(self, text: str, *, stream: bool = False) -> bytes:
        return self._body((_user(text),), stream=stream)

    def follow(self, conversation: Conversation, text: str, *, store: bool = True) -> bytes:
        return self._body((*conversation.messages, _user(text)))  # nothing is stored upstream

    def advance(self, conversation: Conversation, text: str, reply: bytes) -> Conversation:
        content = orjson.loads(reply)["choices"][0]["message"]["content"]
        answer = {"role": "assistant", "content": content}
        return Conversation(messages=(*conversation.messages, _user(text), answer))

    def is_content(self, event: bytes) -> bool:
        if not event.startswith(b"data: {"):
            return False
        choices = orjson.loads(event[6:]).get("choices") or [{}]
        return bool((choices[0].get("delta") or {}).get("content"))

    def _body(self, messages: tuple[Message, ...], *, stream: bool = False) -> bytes:
        body: dict[str, Any] = {"model": self._model, "messages": messages}
        if stream:  # what tether asks of a chat upstream when it streams
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return orjson.dumps(body)


def _user(text: str) -> Message:
    return {"role": "user", "content": text}


def dialect_for(target: Target) -> Dialect:
    if target.dialect == "responses":
        return ResponsesDialect(target.model)
    return ChatDialect(target.model)
