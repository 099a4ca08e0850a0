"""The ASGI application: routes, error handlers, and the lifespan that owns resources."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from tether import heap
from tether.api import meta, responses
from tether.api.errors import handle_http_error, handle_tether_error, handle_unexpected
from tether.api.middleware import RequestLog
from tether.config import Settings
from tether.errors import TetherError
from tether.observability.metrics import Metrics
from tether.resources import Resources, open_resources

log = logging.getLogger("tether")


class State(TypedDict):
    resources: Resources


def _routes() -> list[Route]:
    # The router tries routes in order: the one every turn takes comes first.
    routes = [
        Route(f"{prefix}/responses", responses.create_response, methods=["POST"])
        for prefix in ("/v1", "")
    ]
    routes += [
        Route("/health/liveliness", meta.liveliness, methods=["GET"]),
        Route("/health/readiness", meta.readiness, methods=["GET"]),
        Route("/openapi.json", meta.openapi, methods=["GET"]),
        Route("/metrics", meta.metrics, methods=["GET"]),
        Route("/v1/session-cache/stats", meta.session_cache_stats, methods=["GET"]),
    ]
    for prefix in ("/v1", ""):  # the OpenAI paths, with and without /v1
        routes += [
            Route(f"{prefix}/responses/{{response_id}}", responses.get_response, methods=["GET"]),
            Route(
                f"{prefix}/responses/{{response_id}}", responses.delete_response, methods=["DELETE"]
            ),
            Route(
                f"{prefix}/responses/{{response_id}}/input_items",
                responses.list_input_items,
                methods=["GET"],
            ),
            Route(f"{prefix}/models", meta.list_models, methods=["GET"]),
        ]
    return routes


def create_app(settings: Settings) -> Starlette:
    metrics = Metrics(multiprocess=settings.metrics_multiprocess)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[State]:
        async with open_resources(settings, metrics) as resources:
            log.info(
                "tether ready: models %s; cache %s; database %s",
                ", ".join(route.name for route in settings.models),
                "redis" if settings.redis_url else "in-process",
                settings.database_url.reveal().split(":", 1)[0],  # the scheme only: no secrets
            )
            heap.settle()
            yield {"resources": resources}

    return Starlette(
        routes=_routes(),
        middleware=[Middleware(RequestLog, metrics=metrics)],
        lifespan=lifespan,
        exception_handlers={
            TetherError: handle_tether_error,
            HTTPException: handle_http_error,
            Exception: handle_unexpected,
        },
    )
