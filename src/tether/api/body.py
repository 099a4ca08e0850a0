"""Reading request bodies: a size limit, JSON parsing, validation into a schema."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from tether.api.errors import invalid_body
from tether.deadline import deadline
from tether.errors import InvalidRequest, PayloadTooLarge, RequestTimeout

Model = TypeVar("Model", bound=BaseModel)


async def read_limited(request: Request, limit: int, within: float) -> bytes:
    """The body, refused past `limit` bytes or when it takes longer than `within` seconds to arrive."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    try:
        async with deadline(within):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(
                        f"Request body is larger than the limit of {limit} bytes."
                    )
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(f"The request body did not arrive within {within:g} s.") from None
    return b"".join(chunks)


# orjson reads 1024 levels but writes only 254; a body must survive being stored and echoed.
MAX_DEPTH = 230  # leaves room for the levels a record or an event wraps around a body


def parse_json(raw: bytes) -> Any:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            "We could not parse the JSON body of your request: it is not valid UTF-8 JSON."
        ) from exc
    if _depth_exceeds(data, MAX_DEPTH):
        raise InvalidRequest(f"The JSON body is nested deeper than {MAX_DEPTH} levels.")
    return data


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Iterative, so a hostile body cannot exhaust the stack; visits each node once."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
    return False


def validate(schema: type[Model], data: Any) -> Model:
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise invalid_body(exc) from exc
