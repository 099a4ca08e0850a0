"""Per-request bookkeeping at the ASGI edge: request id, metrics, one log line."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether.api.access import log_access
from tether.api.routes import label
from tether.core.ids import new_request_id
from tether.errors import NotFound
from tether.observability.metrics import Metrics


class RequestLog:
    """Counts and times every HTTP request, and logs one line for each API call."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.app(scope, receive, _refusing_unknown_paths(scope, send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _request_id(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["started"] = start
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._done(scope, state, status, time.perf_counter() - start)

    def _done(self, scope: Scope, state: dict[str, Any], status: int, seconds: float) -> None:
        route = label(scope.get("route"))  # set by the router once it matched
        model = state.get("model", "")
        self.metrics.request_done(route, model, status, seconds)
        if route in ("health", "metrics"):
            return
        fields = {
            "request_id": state["request_id"],
            "model": model or None,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "upstream_ms": state.get("upstream_ms"),
            "overhead_ms": state.get("overhead_ms"),
            "chain_turns": state.get("chain_turns"),
            "stream": state.get("stream"),
        }
        code, param = state.get("error_code"), state.get("error_param")  # noted by api.errors
        log_access(scope["method"], scope["path"], status, fields, code, param)


def _refusing_unknown_paths(scope: Scope, send: Send) -> Send:
    """A WebSocket upgrade on a path with no WebSocket endpoint is refused with a 404 in
    OpenAI's error shape, where the router would close it bare (a 403 to the client)."""
    accepted = False

    async def send_or_refuse(message: Message) -> None:
        nonlocal accepted
        kind = message["type"]
        accepted = accepted or kind == "websocket.accept"
        denial = "websocket.http.response" in scope.get("extensions", {})
        if kind == "websocket.close" and not accepted and "route" not in scope and denial:
            body = orjson.dumps(NotFound("No WebSocket endpoint at this path.").body())
            headers = [(b"content-type", b"application/json")]
            await send({"type": "websocket.http.response.start", "status": 404, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
            return
        await send(message)

    return send_or_refuse


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id" and 0 < len(value) <= 128:
            return str(value.decode("latin-1"))
    return new_request_id()
