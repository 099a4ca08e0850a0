"""The Responses API endpoints."""

from __future__ import annotations

import time

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from tether.api.auth import caller_of
from tether.api.body import parse_json, read_limited, validate
from tether.api.errors import invalid_body, json_response
from tether.api.schemas import InputItemsQuery, ResponseCreate, input_items
from tether.api.sse import EventStream, encode_stream
from tether.core.caller import Caller
from tether.core.pagination import page_items
from tether.errors import InvalidRequest, NotFound
from tether.gateway import PreparedTurn
from tether.resources import Resources

OVERHEAD_HEADER = "x-tether-overhead-ms"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def _context(request: Request) -> tuple[Resources, Caller]:
    resources: Resources = request.state.resources
    return resources, caller_of(request)


async def create_response(request: Request) -> Response:
    resources, caller = _context(request)
    settings = resources.settings
    raw = await read_limited(request, settings.max_body_bytes, settings.body_timeout_seconds)
    req = validate(ResponseCreate, parse_json(raw))
    if (refused := req.refused()) is not None:
        raise InvalidRequest(f"The '{refused}' parameter is not supported yet.", param=refused)
    turn = await resources.gateway.prepare(req, input_items(req.input), caller)
    request.state.model = req.model  # only a configured name: it becomes a metric label
    if req.stream:
        batches = await resources.gateway.stream(turn)
        headers = {**SSE_HEADERS, **_timing(request, resources, turn, stream=True)}
        return EventStream(encode_stream(batches), media_type="text/event-stream", headers=headers)
    body = orjson.dumps(await resources.gateway.create(turn))
    headers = _timing(request, resources, turn, stream=False)
    return Response(body, 200, media_type="application/json", headers=headers)


def _timing(
    request: Request, resources: Resources, turn: PreparedTurn, *, stream: bool
) -> dict[str, str]:
    """Records where the time went; the header lets users measure tether from outside."""
    elapsed = time.perf_counter() - request.state.started
    upstream = turn.timing.upstream_seconds
    overhead = max(elapsed - upstream, 0.0)
    resources.metrics.turn_timed(request.state.model, overhead, upstream, stream=stream)
    request.state.upstream_ms = round(upstream * 1000, 2)
    request.state.overhead_ms = round(overhead * 1000, 3)
    request.state.chain_turns = turn.timing.chain_turns
    request.state.stream = stream
    return {OVERHEAD_HEADER: f"{overhead * 1000:.3f}"}


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")


async def get_response(request: Request) -> Response:
    resources, caller = _context(request)
    response_id = request.path_params["response_id"]
    turn = await resources.store.get(response_id, caller.scope)
    if turn is None:
        raise _not_found(response_id)
    return json_response(turn.response)


async def delete_response(request: Request) -> Response:
    resources, caller = _context(request)
    response_id = request.path_params["response_id"]
    if not await resources.store.delete(response_id, caller.scope):
        raise _not_found(response_id)
    return json_response({"id": response_id, "object": "response.deleted", "deleted": True})


async def list_input_items(request: Request) -> Response:
    resources, caller = _context(request)
    response_id = request.path_params["response_id"]
    try:
        query = InputItemsQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise invalid_body(exc) from exc
    turn = await resources.store.get(response_id, caller.scope)
    if turn is None:
        raise _not_found(response_id)
    return json_response(page_items(turn.input_items, query.after, query.limit, query.order))
