"""Request labels stay bounded whatever paths clients try."""

from __future__ import annotations

import pytest

from tether.api.middleware import route_of


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/v1/responses", "responses"),
        ("/responses", "responses"),
        ("/v1/responses/resp_1", "responses.item"),
        ("/v1/responses/resp_1/input_items", "responses.input_items"),
        ("/v1/models", "models"),
        ("/health/readiness", "health"),
        ("/metrics", "metrics"),
        ("/v1/session-cache/stats", "stats"),
        ("/wp-admin/login.php", "other"),
        ("/v1/" + "x" * 5000, "other"),
    ],
)
def test_routes_are_a_fixed_set(path: str, route: str) -> None:
    assert route_of(path) == route
