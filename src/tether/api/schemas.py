"""Request bodies of the Responses API, validated once at the edge with pydantic."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from tether.core.items import Item, normalize_input
from tether.core.settings import TurnSettings

# Unknown top-level fields are ignored (SDKs add new ones often); unknown item and
# content types are rejected, naming the field, because replaying them would be a guess.
_Lenient = ConfigDict(extra="ignore", strict=True)
_Strict = ConfigDict(extra="forbid", strict=True)


class InputText(BaseModel):
    model_config = _Lenient
    type: Literal["input_text"]
    text: str


class InputImage(BaseModel):
    model_config = _Lenient
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto"] = "auto"


class OutputText(BaseModel):
    model_config = _Lenient
    type: Literal["output_text"]
    text: str
    annotations: list[Any] = Field(default_factory=list)


class Refusal(BaseModel):
    model_config = _Lenient
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[InputText | InputImage | OutputText | Refusal, Field(discriminator="type")]


class MessageItem(BaseModel):
    model_config = _Lenient
    type: Literal["message"] = "message"
    id: str | None = Field(default=None, max_length=128)
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class FunctionCallItem(BaseModel):
    model_config = _Lenient
    type: Literal["function_call"]
    id: str | None = Field(default=None, max_length=128)
    call_id: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=128)
    arguments: str
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class FunctionCallOutputItem(BaseModel):
    model_config = _Lenient
    type: Literal["function_call_output"]
    id: str | None = Field(default=None, max_length=128)
    call_id: str = Field(min_length=1, max_length=256)
    output: str | list[ContentPart]
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class CompactionItem(BaseModel):
    """A compaction item handed back as it came from `/responses/compact` (opaque)."""

    model_config = _Lenient
    type: Literal["compaction"]
    id: str | None = Field(default=None, max_length=128)
    encrypted_content: str = Field(min_length=1, max_length=10 * 1024 * 1024)


def _item_type(value: Any) -> str | None:
    """Messages may omit `type` (the SDK's EasyInputMessage)."""
    if isinstance(value, dict):
        kind = value.get("type", "message")
        return kind if isinstance(kind, str) else None
    return getattr(value, "type", None)


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[CompactionItem, Tag("compaction")],
    Discriminator(_item_type),
]


class ResponseCreate(TurnSettings):
    """The body of `POST /v1/responses`: the turn's settings, its input, and how to answer."""

    input: str | list[InputItem]
    stream: bool = False
    # Accepted by OpenAI, not served yet: refused by name rather than ignored (each would
    # change what the model sees or what is stored).
    background: bool | None = None
    conversation: str | dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None

    def refused(self) -> str | None:
        """The first parameter sent that tether does not serve, if any."""
        if self.background:
            return "background"
        names = ("conversation", "prompt")
        return next((name for name in names if getattr(self, name)), None)


class CompactBody(BaseModel):
    """The body of `POST /v1/responses/compact`."""

    model_config = _Lenient
    model: str = Field(min_length=1, max_length=256)
    input: str | list[InputItem] | None = None
    previous_response_id: str | None = Field(default=None, max_length=256)
    instructions: str | None = None
    prompt_cache_key: str | None = Field(default=None, max_length=256)  # a hint: no effect


class InputItemsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")  # lax: query strings need coercion to int
    include: list[str] | str | None = None  # accepted as the SDK sends it; items are whole
    after: str | None = Field(default=None, max_length=256)
    limit: int = Field(default=20, ge=1, le=100)
    order: Literal["asc", "desc"] = "desc"


def input_items(value: str | list[InputItem] | None) -> list[Item]:
    """A request's `input` as stored items (ids, explicit types, list content)."""
    if value is None:
        return []
    if isinstance(value, str):
        return normalize_input(value)
    return normalize_input([item.model_dump(exclude_none=True) for item in value])
