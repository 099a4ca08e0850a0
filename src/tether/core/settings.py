"""A turn's settings: every parameter of `POST /v1/responses` that shapes the model call
or is echoed in the Response object, declared once.

The HTTP request schema extends `TurnSettings` with what only the transport needs
(`input`, `stream`); the Response object echoes every field here (`echoed`); providers
read the ones they pass on. A new parameter is one line below, with its bounds and, if
the Response object shows something other than null when it is not sent, an `Echo`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

# Unknown fields are ignored (SDKs add new ones often); known ones are strictly typed.
_Lenient = ConfigDict(extra="ignore", strict=True)
_Strict = ConfigDict(extra="forbid", strict=True)


@dataclass(frozen=True, slots=True)
class NotEchoed:
    """A parameter the Response object does not show (OpenAI's has no field for it)."""


@dataclass(frozen=True, slots=True)
class Echo:
    """What the Response object shows for a parameter the request did not send."""

    default: Any


class FunctionTool(BaseModel):
    model_config = _Lenient
    type: Literal["function"]
    name: str = Field(pattern=r"^[a-zA-Z0-9_.-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolChoiceFunction(BaseModel):
    model_config = _Strict
    type: Literal["function"]
    name: str = Field(min_length=1, max_length=64)


ToolChoice = Literal["auto", "none", "required"] | ToolChoiceFunction


class ContextManagement(BaseModel):
    """Automatic compaction: once the replayed history passes `compact_threshold` tokens
    (estimated), it is summarized into a compaction item before the model is called."""

    model_config = _Strict
    type: Literal["compaction"]
    compact_threshold: int = Field(ge=1)


ServiceTier = Literal["auto", "default", "flex", "scale", "priority", "fast", "ultrafast"]
_TEXT_DEFAULT = {"format": {"type": "text"}, "verbosity": "medium"}
_Penalty = Annotated[float | None, Field(ge=-2, le=2), Echo(0.0)]


def _no_logprobs(value: int | None) -> int | None:
    """No provider's log probabilities reach the Response yet: asking for them is refused."""
    if value:
        raise PydanticCustomError(
            "not_served", "tether returns no log probabilities; send 0 or leave it out"
        )
    return value


class TurnSettings(BaseModel):
    """What a request sets for its own turn; earlier turns' settings are not inherited."""

    model_config = _Lenient
    model: str = Field(min_length=1, max_length=256)
    instructions: str | None = None
    previous_response_id: str | None = Field(default=None, max_length=256)
    store: bool = True
    temperature: Annotated[float | None, Field(ge=0, le=2), Echo(1.0)] = None
    top_p: Annotated[float | None, Field(ge=0, le=1), Echo(1.0)] = None
    presence_penalty: _Penalty = None
    frequency_penalty: _Penalty = None
    top_logprobs: Annotated[
        int | None, Field(ge=0, le=20), AfterValidator(_no_logprobs), Echo(0)
    ] = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    max_tool_calls: int | None = Field(default=None, ge=1)  # built-in tools only: none here
    tools: list[FunctionTool] = Field(default_factory=list)
    tool_choice: ToolChoice = "auto"
    parallel_tool_calls: bool = True
    metadata: Annotated[dict[str, str] | None, Field(max_length=16), Echo({})] = None
    text: Annotated[dict[str, Any] | None, Echo(_TEXT_DEFAULT)] = None
    reasoning: Annotated[dict[str, Any] | None, Echo({"effort": None, "summary": None})] = None
    truncation: Annotated[Literal["auto", "disabled"] | None, Echo("disabled")] = None
    user: str | None = None
    prompt_cache_key: str | None = Field(default=None, max_length=256)
    safety_identifier: str | None = Field(default=None, max_length=256)
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    service_tier: Annotated[ServiceTier | None, Echo("default")] = None
    context_management: Annotated[
        list[ContextManagement] | None, Field(max_length=1), NotEchoed()
    ] = None

    @property
    def compact_threshold(self) -> int | None:
        entries = self.context_management or []
        return entries[0].compact_threshold if entries else None

    def echoed(self) -> dict[str, Any]:
        """The fields as the Response object shows them: sent values, else their `Echo`."""
        values = self.__dict__  # where pydantic keeps the fields: no per-field lookup
        shown = {name: values[name] for name in _ECHOED}
        for name in _HOLDING_MODELS:
            shown[name] = _plain(shown[name])
        for name, default in _ECHO_DEFAULTS:
            if shown[name] is None:
                shown[name] = _fresh(default) if isinstance(default, dict) else default
        return shown


def _holds_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_model(arg) for arg in get_args(annotation))


def _plain(value: Any) -> Any:
    """A model, or a list of them, as JSON data."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, list):
        return [item.model_dump() if isinstance(item, BaseModel) else item for item in value]
    return value


def _fresh(value: Any) -> Any:
    """A copy of a default made of dicts and plain values (without deepcopy's machinery)."""
    return {k: _fresh(v) for k, v in value.items()} if isinstance(value, dict) else value


_ECHOED = tuple(
    name
    for name, info in TurnSettings.model_fields.items()
    if not any(isinstance(mark, NotEchoed) for mark in info.metadata)
)
_HOLDING_MODELS = tuple(
    name for name in _ECHOED if _holds_model(TurnSettings.model_fields[name].annotation)
)
_ECHO_DEFAULTS = tuple(
    (name, echo.default)
    for name, info in TurnSettings.model_fields.items()
    for echo in info.metadata
    if isinstance(echo, Echo)
)
