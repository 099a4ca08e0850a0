"""Endpoints about the gateway itself: models, health, the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tether.api.errors import json_response
from tether.api.schemas import InputItemsQuery, ResponseCreate
from tether.errors import PermissionDenied
from tether.observability import health
from tether.resources import Resources


async def list_models(request: Request) -> Response:
    resources: Resources = request.state.resources
    resources.auth.caller(request.headers)
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": route.provider}
        for name, route in resources.registry.routes.items()
    ]
    return json_response({"object": "list", "data": data})


async def liveliness(_request: Request) -> Response:
    return json_response({"status": "ok"})


async def readiness(request: Request) -> Response:
    resources: Resources = request.state.resources
    configured = resources.settings.redis_url is not None
    status, body = await health.readiness(resources.store, configured)
    return json_response(body, status)


def openapi_schema() -> dict[str, Any]:
    """The contract clients and fuzzers use; request bodies come from the pydantic models."""
    create = ResponseCreate.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = create.pop("$defs", {})
    error = {"$ref": "#/components/schemas/Error"}
    errors = {
        str(code): {"description": text, "content": {"application/json": {"schema": error}}}
        for code, text in ((400, "Bad request"), (401, "No valid key"), (404, "Not found"))
    }
    ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    id_param = {"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}
    query = InputItemsQuery.model_json_schema()["properties"]
    return {
        "openapi": "3.1.0",
        "info": {"title": "tether", "version": "0.1.0"},
        "paths": {
            "/v1/responses": {
                "post": {
                    "operationId": "createResponse",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ResponseCreate"}
                            }
                        },
                    },
                    "responses": {"200": ok, **errors},
                }
            },
            "/v1/responses/{response_id}": {
                "get": {
                    "operationId": "getResponse",
                    "parameters": [id_param],
                    "responses": {"200": ok, **errors},
                },
                "delete": {
                    "operationId": "deleteResponse",
                    "parameters": [id_param],
                    "responses": {"200": ok, **errors},
                },
            },
            "/v1/responses/{response_id}/input_items": {
                "get": {
                    "operationId": "listInputItems",
                    "parameters": [id_param]
                    + [
                        {"name": k, "in": "query", "required": False, "schema": v}
                        for k, v in query.items()
                    ],
                    "responses": {"200": ok, **errors},
                }
            },
            "/v1/models": {
                "get": {"operationId": "listModels", "responses": {"200": ok, **errors}}
            },
        },
        "components": {
            "schemas": {
                **defs,
                "ResponseCreate": create,
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "object"}},
                },
            }
        },
    }


async def openapi(_request: Request) -> Response:
    return json_response(openapi_schema())


async def metrics(request: Request) -> Response:
    resources: Resources = request.state.resources
    resources.metrics.mirror(resources.store.stats())
    body, content_type = resources.metrics.exposition()
    return Response(body, 200, media_type=content_type)


async def session_cache_stats(request: Request) -> Response:
    resources: Resources = request.state.resources
    caller = resources.auth.caller(request.headers)
    if resources.settings.auth_enabled and not caller.sees_all:
        raise PermissionDenied("The session cache statistics need the master key.")
    stats: dict[str, Any] = dict(resources.store.stats())
    census = await resources.store.census()
    stats["available"] = census is not None and not stats["degraded"]
    stats["backend"] = "redis" if resources.settings.redis_url else "memory"
    stats["fallbacks"] = {
        "cache_miss": stats["db_fallbacks"],
        "cache_unavailable": stats["cache_errors"],
    }
    stats["latency_ms"] = resources.gateway.latencies.summary()
    if census is not None:
        stats["cached_sessions"] = census.sessions
        stats["cached_records"] = census.records
        stats["cache_memory_bytes"] = census.bytes
        stats["average_record_bytes"] = round(census.average_record_bytes, 1)
        stats["census_complete"] = census.complete
    return json_response(stats)
