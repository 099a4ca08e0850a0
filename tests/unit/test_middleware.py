"""Request labels come from the route table and stay bounded whatever paths clients try."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware

from tether.api.middleware import RequestLog
from tether.api.routes import starlette_routes
from tether.observability.metrics import Metrics


@pytest.mark.parametrize(
    ("method", "path", "label"),
    [
        ("POST", "/v1/responses", "responses"),
        ("POST", "/v1/responses/compact", "responses.compact"),
        ("POST", "/responses", "responses"),
        ("GET", "/v1/responses/resp_1", "responses.item"),
        ("DELETE", "/responses/resp_1", "responses.item"),
        ("GET", "/v1/responses/resp_1/input_items", "responses.input_items"),
        ("GET", "/v1/models", "models"),
        ("GET", "/health/readiness", "health"),
        ("GET", "/metrics", "metrics"),
        ("GET", "/openapi.json", "openapi"),
        ("GET", "/v1/session-cache/stats", "stats"),
        ("GET", "/wp-admin/login.php", "other"),
        ("GET", "/v1/" + "x" * 5000, "other"),
    ],
)
async def test_requests_are_labelled_by_the_route_they_matched(
    method: str, path: str, label: str
) -> None:
    metrics = Metrics()
    # No lifespan: handlers that need the gateway's resources fail, and are still counted.
    app = Starlette(routes=starlette_routes(), middleware=[Middleware(RequestLog, metrics=metrics)])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://tether") as client:
        await client.request(method, path)
    counted = {
        sample.labels["route"]
        for family in metrics.registry.collect()
        if family.name == "tether_requests"
        for sample in family.samples
        if sample.name == "tether_requests_total"
    }
    assert counted == {label}
