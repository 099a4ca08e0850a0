"""Every HTTP route, named once: the app is built from this table, the request log labels
requests by it, and the OpenAPI document describes it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from tether.api import compact, meta, openapi, responses, websocket
from tether.api.schemas import CompactBody, InputItemsQuery, ResponseCreate

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    name: str  # the label of its requests in metrics and logs
    openai: bool = False  # one of OpenAI's paths: served under /v1 and without it
    operation: str | None = None  # its operationId in the OpenAPI document, if listed
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        return (f"/v1{self.path}", self.path) if self.openai else (self.path,)


# The router tries routes in order: the one every turn takes comes first.
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        "/responses",
        responses.create_response,
        "responses",
        openai=True,
        operation="createResponse",
        body=ResponseCreate,
    ),
    Endpoint(
        "POST",
        "/responses/compact",
        compact.compact_response,
        "responses.compact",
        openai=True,
        operation="compactResponse",
        body=CompactBody,
    ),
    Endpoint(
        "GET",
        "/responses/{response_id:response_id}",
        responses.get_response,
        "responses.item",
        openai=True,
        operation="getResponse",
    ),
    Endpoint(
        "DELETE",
        "/responses/{response_id:response_id}",
        responses.delete_response,
        "responses.item",
        openai=True,
        operation="deleteResponse",
    ),
    Endpoint(
        "GET",
        "/responses/{response_id:response_id}/input_items",
        responses.list_input_items,
        "responses.input_items",
        openai=True,
        operation="listInputItems",
        query=InputItemsQuery,
    ),
    Endpoint("GET", "/models", meta.list_models, "models", openai=True, operation="listModels"),
    Endpoint("GET", "/health/liveliness", meta.liveliness, "health"),
    Endpoint("GET", "/health/readiness", meta.readiness, "health"),
    Endpoint("GET", "/metrics", meta.metrics, "metrics"),
    Endpoint("GET", "/v1/session-cache/stats", meta.session_cache_stats, "stats"),
)
ENDPOINTS += (Endpoint("GET", "/openapi.json", openapi.handler(ENDPOINTS), "openapi"),)


class ResponseIdConvertor(Convertor[str]):
    """A path segment that can be a response id: other words under /v1/responses/ (such
    as an endpoint tether does not have) are unknown paths, not ids to look up."""

    regex = "resp_[^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


# WebSocket endpoints (an upgrade on any other path is refused with a 404: api.middleware).
WEBSOCKETS = (("/responses", websocket.responses_socket, "responses.websocket"),)


def starlette_routes() -> list[BaseRoute]:
    register_url_convertor("response_id", ResponseIdConvertor())
    routes: list[BaseRoute] = [
        Route(path, e.handler, methods=[e.method], name=e.name)
        for e in ENDPOINTS
        for path in e.paths
    ]
    for path, handler, name in WEBSOCKETS:  # OpenAI's path: under /v1 and without it
        routes += [WebSocketRoute(p, handler, name=name) for p in (f"/v1{path}", path)]
    return routes


def label(route: object) -> str:
    """The label of a request the router matched to `route` (None: no route, `other`)."""
    name = getattr(route, "name", None)
    return name if isinstance(name, str) else "other"
