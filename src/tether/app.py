"""The ASGI application: routes, error handlers, and the lifespan that owns resources."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from tether import heap
from tether.api.errors import handle_http_error, handle_tether_error, handle_unexpected
from tether.api.middleware import RequestLog
from tether.api.routes import starlette_routes
from tether.config import Settings
from tether.errors import TetherError
from tether.observability.metrics import Metrics
from tether.resources import Resources, open_resources

log = logging.getLogger("tether")


class State(TypedDict):
    resources: Resources


def create_app(settings: Settings) -> Starlette:
    metrics = Metrics(multiprocess=settings.metrics_multiprocess)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[State]:
        async with open_resources(settings, metrics) as resources:
            log.info(
                "tether ready: models %s; cache %s; database %s",
                ", ".join(route.name for route in settings.models),
                settings.cache_backend,
                # The scheme only: no secrets.
                settings.database_url.get_secret_value().split(":", 1)[0],
            )
            heap.settle()
            yield {"resources": resources}

    return Starlette(
        routes=starlette_routes(),
        middleware=[Middleware(RequestLog, metrics=metrics)],
        lifespan=lifespan,
        exception_handlers={
            TetherError: handle_tether_error,
            HTTPException: handle_http_error,
            Exception: handle_unexpected,
        },
    )
