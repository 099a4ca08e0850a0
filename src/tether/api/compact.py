"""`POST /v1/responses/compact`: a conversation compacted into one sealed item."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from tether.api.auth import caller_of
from tether.api.body import parse_json, read_limited, validate
from tether.api.errors import json_response
from tether.api.schemas import CompactBody, input_items
from tether.resources import Resources


async def compact_response(request: Request) -> Response:
    resources: Resources = request.state.resources
    caller = caller_of(request)  # before the body is read, as on create
    settings = resources.settings
    raw = await read_limited(request, settings.max_body_bytes, settings.body_timeout_seconds)
    body = validate(CompactBody, parse_json(raw))
    if body.model in resources.registry.routes:  # only a configured name: a metric label
        request.state.model = body.model
    compacted = await resources.compactor.compact(
        body.model,
        input_items(body.input),
        body.previous_response_id,
        body.instructions,
        caller,
    )
    return json_response(compacted)
