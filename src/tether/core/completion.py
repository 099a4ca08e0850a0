"""Provider-neutral model calls: what goes to a provider and what comes back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tether.core.items import Item
from tether.core.settings import TurnSettings

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One model call: the whole history plus this turn's own settings."""

    model: str  # the upstream model name, provider prefix removed
    items: list[Item]
    settings: TurnSettings


@dataclass(frozen=True, slots=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    tool_calls: list[ToolCall]
    finish: FinishReason
    usage: Usage


# Streaming deltas a provider yields, in order; exactly one StreamEnd closes a stream.
@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    index: int  # the provider's tool-call index; a new index starts a new call
    arguments: str = ""
    call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class StreamEnd:
    finish: FinishReason
    usage: Usage


Delta = TextDelta | ToolCallDelta | StreamEnd
