"""Rendering errors in OpenAI's shape, and translating validation errors into them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tether.api.schemas import ResponseCreate
from tether.errors import (
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    StorageUnavailable,
    TetherError,
)

log = logging.getLogger("tether.api")


def json_response(body: object, status: int = 200) -> Response:
    """orjson bytes straight out: the framework never re-serialises them."""
    return Response(orjson.dumps(body), status, media_type="application/json")


def error_response(error: TetherError) -> Response:
    return json_response(error.body(), error.status)


def _note(request: Request, error: TetherError) -> None:
    """Why the request failed, for its line in the request log (`api.middleware`): the code
    and the field, never the message, which may quote what the client sent."""
    request.state.error_code = error.code
    request.state.error_param = error.param


def public(error: TetherError, where: str) -> TetherError:
    """The error as a client may see it: a storage failure's detail names servers, so it
    is logged (with `where`) and replaced."""
    if isinstance(error, StorageUnavailable):
        log.error("storage unavailable on %s: %s", where, error)
        return StorageUnavailable("The conversation store is unavailable; try again shortly.")
    return error


async def handle_tether_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TetherError)
    exc = public(exc, f"{request.method} {request.url.path}")
    _note(request, exc)
    return error_response(exc)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    """Routing misses (unknown path, wrong method) in the same error shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error: TetherError = MethodNotAllowed("Method not allowed on this path.")
        _note(request, error)
        response = error_response(error)
        response.headers.update(exc.headers or {})  # `Allow` names the methods
        return response
    elif exc.status_code == 404:
        error = NotFound("Unknown path.")
    else:
        error = InvalidRequest(str(exc.detail))
        error.status = exc.status_code
    _note(request, error)
    return error_response(error)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """The last line: a bug must still answer in OpenAI's shape, and be logged loudly."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(TetherError("The server had an error processing your request."))


def invalid_body(exc: ValidationError) -> InvalidRequest:
    """The most specific validation error, naming its field as `input[0].content`, in plain
    words rather than pydantic's (which name its internals: tags, validators, unions)."""
    errors = exc.errors(include_url=False)
    error = max(errors, key=lambda e: len(_param_path(e["loc"])))
    param = _param(error["loc"])
    what = f"'{param}'" if param else "the request body"
    alike = [e for e in errors if _param(e["loc"]) == param]  # one per branch of a union
    return InvalidRequest(f"Invalid value for {what}: {_plain(error, alike)}.", param=param or None)


# pydantic's type errors in JSON's words.
_JSON_TYPES = {
    "string_type": "a string",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean",
}
# What the members of a discriminated union are called, by the field holding them.
_NOUNS = {"input": "input item", "content": "content part", "output": "content part"}


def _plain(error: ErrorDetails, alike: list[ErrorDetails]) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        field = next((p for p in reversed(_param_path(error["loc"])) if isinstance(p, str)), "")
        noun, tags = _NOUNS.get(field, "item"), _tags_of(error)
        if kind == "union_tag_not_found":
            return f"expected {_article(noun)} {noun} object whose 'type' is one of: {tags}"
        return f"type {str(ctx['tag'])[:64]!r} is not a supported {noun} type; supported: {tags}"
    if kind in _JSON_TYPES:
        words = dict.fromkeys(_JSON_TYPES[e["type"]] for e in alike if e["type"] in _JSON_TYPES)
        return "expected " + " or ".join(words)
    if kind == "literal_error":
        return f"expected {ctx['expected']}"
    if kind == "too_long" and ctx.get("field_type") in ("Dictionary", "List"):
        unit = "entries" if ctx["field_type"] == "Dictionary" else "items"
        return f"expected at most {ctx['max_length']} {unit}"
    if kind == "extra_forbidden":
        return "unknown field"
    return str(error["msg"])


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


def _tags_of(error: ErrorDetails) -> str:
    """The tags of the discriminated union a `union_tag_*` error is about: its members'
    names appear in the last type label of `loc`, as `list[tagged-union[A,B]]`."""
    label = next((part for part in reversed(error["loc"]) if isinstance(part, str)), "")
    for names, tags in _unions().tagged:
        if f"tagged-union[{','.join(names)}]" in label:
            return ", ".join(tags)
    return str(error.get("ctx", {}).get("expected_tags", "")).replace("'", "")


@dataclass(frozen=True)
class _Unions:
    """The unions of the request schema, read from pydantic's own schema of it."""

    tagged: list[tuple[tuple[str, ...], tuple[str, ...]]]  # (member class names, tags)
    branches: frozenset[str]  # how union members appear in an error's `loc`


@cache
def _unions() -> _Unions:
    nodes: list[dict[str, Any]] = []
    _collect(ResponseCreate.__pydantic_core_schema__, nodes)
    names = {n["ref"]: str(n["cls"].__name__) for n in nodes if n["type"] == "model" and "ref" in n}

    def name(choice: dict[str, Any]) -> str:
        return names.get(str(choice.get("schema_ref", choice.get("ref", ""))), "")

    tagged = [node["choices"] for node in nodes if node["type"] == "tagged-union"]
    plain = [node["choices"] for node in nodes if node["type"] == "union"]
    members = [c[0] if isinstance(c, tuple) else c for choices in plain for c in choices]
    return _Unions(
        tagged=[(tuple(map(name, c.values())), tuple(c)) for c in tagged],
        branches=frozenset([*(tag for c in tagged for tag in c), *map(name, members)]) - {""},
    )


def _collect(node: object, into: list[dict[str, Any]]) -> None:
    """Every model and union schema under `node` (iterative: schemas nest deeply)."""
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") in ("model", "union", "tagged-union"):
                into.append(node)
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)


def _param_path(loc: tuple[int | str, ...]) -> list[int | str]:
    # Union branches appear in `loc` as type names (`str`, `list[...]`, `function-after[...]`),
    # model names or discriminator tags; they are not fields a client can name.
    skip = _SCALARS | _unions().branches
    return [
        part
        for part in loc
        if isinstance(part, int) or (part not in skip and "[" not in part and "-" not in part)
    ]


_SCALARS = frozenset({"str", "int", "float", "bool", "dict", "none"})  # pydantic's labels


def _param(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in _param_path(loc):
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".")
