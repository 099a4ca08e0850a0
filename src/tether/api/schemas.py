"""Request bodies of the Responses API, validated once at the edge with pydantic."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

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


def _item_type(value: Any) -> str | None:
    """Messages may omit `type` (the SDK's EasyInputMessage)."""
    if isinstance(value, dict):
        kind = value.get("type", "message")
        return kind if isinstance(kind, str) else None
    return getattr(value, "type", None)


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")],
    Discriminator(_item_type),
]


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


class ResponseCreate(BaseModel):
    """The body of `POST /v1/responses` (the subset tether serves)."""

    model_config = _Lenient
    model: str = Field(min_length=1, max_length=256)
    input: str | list[InputItem]
    instructions: str | None = None
    previous_response_id: str | None = Field(default=None, max_length=256)
    store: bool = True
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    tools: list[FunctionTool] = Field(default_factory=list)
    tool_choice: ToolChoice = "auto"
    parallel_tool_calls: bool = True
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    text: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = None
    background: bool | None = None


class InputItemsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")  # lax: query strings need coercion to int
    include: list[str] | str | None = None  # accepted as the SDK sends it; items are whole
    after: str | None = Field(default=None, max_length=256)
    limit: int = Field(default=20, ge=1, le=100)
    order: Literal["asc", "desc"] = "desc"
