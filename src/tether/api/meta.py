"""Endpoints about the gateway itself: models, health, metrics, statistics."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tether.api.auth import caller_of
from tether.api.errors import json_response
from tether.errors import PermissionDenied
from tether.observability import health
from tether.resources import Resources


async def list_models(request: Request) -> Response:
    resources: Resources = request.state.resources
    caller_of(request)
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": route.provider}
        for name, route in resources.registry.routes.items()
    ]
    return json_response({"object": "list", "data": data})


async def liveliness(_request: Request) -> Response:
    return json_response({"status": "ok"})


async def readiness(request: Request) -> Response:
    resources: Resources = request.state.resources
    configured = resources.settings.cache_backend == "redis"
    status, body = await health.readiness(resources.store, configured)
    return json_response(body, status)


async def metrics(request: Request) -> Response:
    resources: Resources = request.state.resources
    resources.metrics.mirror(resources.store.stats())
    body, content_type = resources.metrics.exposition()
    return Response(body, 200, media_type=content_type)


async def session_cache_stats(request: Request) -> Response:
    resources: Resources = request.state.resources
    caller = caller_of(request)
    if resources.settings.auth_enabled and not caller.sees_all:
        raise PermissionDenied("The session cache statistics need the master key.")
    snapshot = resources.store.stats()
    stats: dict[str, Any] = asdict(snapshot)
    census = await resources.store.census()
    stats["available"] = census is not None and not snapshot.degraded
    stats["backend"] = resources.settings.cache_backend
    stats["fallbacks"] = {
        "cache_miss": snapshot.misses,
        "cache_unavailable": snapshot.cache_errors,
    }
    stats["latency_ms"] = resources.gateway.latencies.summary()
    if census is not None:
        stats["cached_sessions"] = census.sessions
        stats["cached_records"] = census.records
        stats["cache_memory_bytes"] = census.bytes
        stats["average_record_bytes"] = round(census.average_record_bytes, 1)
        stats["census_complete"] = census.complete
    return json_response(stats)
