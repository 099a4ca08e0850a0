"""Rendering errors in OpenAI's shape, and translating validation errors into them."""

from __future__ import annotations

import logging

import orjson
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tether.errors import InvalidRequest, NotFound, StorageUnavailable, TetherError

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


async def handle_tether_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TetherError)
    if isinstance(exc, StorageUnavailable):  # the detail names servers: log it, don't send it
        log.error("storage unavailable on %s %s: %s", request.method, request.url.path, exc)
        exc = StorageUnavailable("The conversation store is unavailable; try again shortly.")
    _note(request, exc)
    return error_response(exc)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    """Routing misses (unknown path, wrong method) in the same error shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error: TetherError = InvalidRequest("Method not allowed on this path.")
        error.status = 405
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
    """The most specific validation error, naming its field as `input[0].content`."""
    errors = exc.errors(include_url=False)
    error = max(errors, key=lambda e: len(_param_path(e["loc"])))
    param = _param(error["loc"])
    what = f"'{param}'" if param else "the request body"
    return InvalidRequest(f"Invalid value for {what}: {error['msg']}.", param=param or None)


def _param_path(loc: tuple[int | str, ...]) -> list[int | str]:
    # Union branches appear in `loc` as type names (`str`, `list[...]`, `function-after[...]`)
    # or discriminator tags; they are not fields a client can name.
    skip = {"str", "int", "float", "bool", "dict", "none", "message", "function_call"}
    skip |= {"function_call_output", "input_text", "input_image", "output_text", "refusal"}
    skip |= {"ToolChoiceFunction"}
    return [
        part
        for part in loc
        if isinstance(part, int) or (part not in skip and "[" not in part and "-" not in part)
    ]


def _param(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in _param_path(loc):
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".")
