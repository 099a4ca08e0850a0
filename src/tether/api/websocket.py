"""WebSocket mode on `/v1/responses`: `response.create` frames in, response events out.

One response at a time per connection; each event is one JSON text frame, exactly as
it would be one SSE event. `store: false` turns live in the connection's own memory
(`core.connection`) and die with it; `store: true` turns are recorded as over HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from tether.api.access import log_access
from tether.api.auth import presented_key
from tether.api.body import parse_json, validate
from tether.api.errors import error_response, public
from tether.api.schemas import ResponseCreate, input_items
from tether.api.websocket_protocol import DRAINING
from tether.core.caller import Caller
from tether.core.connection import ConnectionMemory
from tether.core.ids import new_request_id
from tether.errors import AuthenticationFailed, InvalidRequest, TetherError
from tether.gateway import PreparedTurn
from tether.resources import Resources

log = logging.getLogger("tether.api")

LIFETIME_SECONDS = 60 * 60  # OpenAI's limit on one connection
TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
POLICY_VIOLATION = 1008
GOING_AWAY = 1001


class Draining(Exception):
    """The server is shutting down (`api.websocket_protocol`): finish, then close."""


class WebSocketCreate(ResponseCreate):
    """A `response.create` frame: the HTTP body (`stream` is implied) and `generate`."""

    generate: bool = True
    stream_id: str | None = None  # lanes: refused by name, one response at a time here


class Busy(InvalidRequest):
    code = "response_already_in_progress"


class LimitReached(InvalidRequest):
    code = "websocket_connection_limit_reached"


async def responses_socket(websocket: WebSocket) -> None:
    resources: Resources = websocket.state.resources
    try:
        caller = resources.auth.caller(presented_key(websocket))
    except AuthenticationFailed as exc:
        resources.metrics.websocket_error(exc.code or exc.type)
        await _deny(websocket, exc)
        return
    await websocket.accept()
    resources.metrics.websocket_opened()
    try:
        await Connection(websocket, resources, caller).serve()
    finally:
        resources.metrics.websocket_closed()


async def _deny(websocket: WebSocket, error: TetherError) -> None:
    """Refuse the handshake with an HTTP response (so clients see the 401), or, where the
    server cannot send one, accept and close with an error frame."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(error))
        return
    await websocket.accept()
    await websocket.send_text(orjson.dumps(error_frame(error)).decode())
    await websocket.close(POLICY_VIOLATION)


def error_frame(error: TetherError, sequence_number: int | None = None) -> dict[str, Any]:
    """OpenAI's WebSocket error event."""
    frame: dict[str, Any] = {"type": "error", "status": error.status, **error.body()}
    if sequence_number is not None:
        frame["sequence_number"] = sequence_number
    return frame


class Connection:
    """One socket: reads frames, runs one turn at a time as a task, remembers its turns."""

    def __init__(self, websocket: WebSocket, resources: Resources, caller: Caller) -> None:
        self.websocket = websocket
        self.resources = resources
        self.caller = caller
        self.memory = ConnectionMemory()
        self.busy = False
        self.tasks: set[asyncio.Task[None]] = set()

    async def serve(self) -> None:
        try:
            async with asyncio.timeout(LIFETIME_SECONDS):
                await self._read()
        except TimeoutError:
            await self._end_at_limit()
        except Draining:
            await self._drain()
            await self.websocket.close(GOING_AWAY, "The server is shutting down.")
        except WebSocketDisconnect:
            pass
        finally:
            await self._abandon()

    async def _read(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                if message.get("reason") == DRAINING:
                    raise Draining
                raise WebSocketDisconnect(message.get("code", 1000))
            text = message.get("text")
            await self._on_frame(text.encode() if text is not None else message.get("bytes", b""))

    async def _on_frame(self, raw: bytes) -> None:
        started = time.perf_counter()
        try:
            data = parse_json(raw)
            if not isinstance(data, dict):
                raise InvalidRequest("A WebSocket message must be a JSON object.")
            if data.get("type") != "response.create":
                raise InvalidRequest(
                    f"Unsupported event type {str(data.get('type'))[:64]!r}; "
                    "supported: 'response.create'.",
                    param="type",
                )
            if self.busy:
                raise Busy(
                    "A response is already in progress on this connection; wait for its "
                    "terminal event before sending another response.create.",
                )
        except TetherError as exc:
            await self._refuse(exc, started, None)
            return
        self.busy = True
        task = asyncio.create_task(self._guarded(data, started))
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # Only a send to a client already gone gets here; the reader sees it leave.
            log.info("WebSocket turn ended with the connection: %r", exc)

    async def _guarded(self, data: dict[str, Any], started: float) -> None:
        """The last line for a turn task: a bug is logged loudly and answered in
        OpenAI's shape, and the connection stays usable."""
        try:
            await self._turn(data, started)
        except (WebSocketDisconnect, asyncio.CancelledError):
            raise
        except Exception as exc:
            self.busy = False
            log.error("unhandled error on a WebSocket turn", exc_info=exc)
            error = TetherError("The server had an error processing your request.")
            await self._refuse(error, started, None)

    async def _turn(self, data: dict[str, Any], started: float) -> None:
        previous = data.get("previous_response_id")
        previous = previous if isinstance(previous, str) else None
        model: str | None = None
        gateway = self.resources.gateway
        try:
            req = self._request(data)
            model = req.model
            turn = await gateway.prepare(req, input_items(req.input), self.caller, self.memory)
            # Awaits the first upstream deltas: an upstream that fails at once is one
            # error frame, with no response.created before it (as HTTP's plain error).
            batches = await gateway.stream(turn) if req.generate else None
        except TetherError as exc:
            self._settle(None, previous)
            await self._refuse(exc, started, model)
            return
        try:
            status = await self._run(turn, req.model, batches, previous, started)
        finally:
            self.busy = False
        self._log(started, status, req.model, turn, None)

    def _request(self, data: dict[str, Any]) -> WebSocketCreate:
        req = validate(WebSocketCreate, data)
        if req.background:
            raise InvalidRequest(
                "'background' is not supported in WebSocket mode.", param="background"
            )
        if req.stream_id is not None:
            raise InvalidRequest(
                "'stream_id' lanes are not supported: one response at a time per connection.",
                param="stream_id",
            )
        if (refused := req.refused()) is not None:
            raise InvalidRequest(f"The '{refused}' parameter is not supported yet.", param=refused)
        return req

    async def _run(
        self,
        turn: PreparedTurn,
        model: str,
        batches: AsyncGenerator[list[dict[str, Any]]] | None,
        previous: str | None,
        started: float,
    ) -> int:
        """Streams the turn's events; returns its status for the log (200, or the error's)."""
        if batches is None:  # generate: false
            events = await self.resources.gateway.warm(turn)
            self._settle(turn, previous)
            await self._send(events)
            return 200
        self._timed(turn, model, started)
        try:
            async for batch in batches:
                if batch and batch[-1]["type"] in TERMINAL:
                    self._settle(turn, previous)
                await self._send(batch, turn)
        finally:
            await batches.aclose()
        error = turn.outcome.error
        return 200 if error is None else error.status

    def _settle(self, turn: PreparedTurn | None, previous: str | None) -> None:
        """Before the terminal frame goes out: the client may send its next request as
        soon as it has it, so the connection must already be free, remember the turn,
        or have forgotten the parent of a continuation that failed (OpenAI's rule)."""
        self.busy = False
        finished = turn.outcome.turn if turn is not None else None
        if finished is None:
            if previous is not None:
                self.memory.evict(previous)
            return
        assert turn is not None
        forgotten = self.memory.remember(turn.chain, finished, stored=turn.store)
        self.resources.metrics.websocket_forgot(forgotten)

    async def _send(self, events: list[dict[str, Any]], turn: PreparedTurn | None = None) -> None:
        for event in events:
            if event["type"] == "error" and turn is not None and turn.outcome.error is not None:
                error = public(turn.outcome.error, "a WebSocket turn")
                self.resources.metrics.websocket_error(error.code or error.type)
                event = error_frame(error, event["sequence_number"])
            await self.websocket.send_text(orjson.dumps(event).decode())

    async def _refuse(self, error: TetherError, started: float, model: str | None) -> None:
        error = public(error, "a WebSocket turn")
        self.resources.metrics.websocket_error(error.code or error.type)
        await self.websocket.send_text(orjson.dumps(error_frame(error)).decode())
        self._log(started, error.status, model, None, error)

    def _timed(self, turn: PreparedTurn, model: str, started: float) -> None:
        upstream = turn.timing.upstream_seconds
        overhead = max(time.perf_counter() - started - upstream, 0.0)
        turn.timing.overhead_seconds = overhead
        self.resources.metrics.turn_timed(model, overhead, upstream, stream=True)

    def _log(
        self,
        started: float,
        status: int,
        model: str | None,
        turn: PreparedTurn | None,
        error: TetherError | None,
    ) -> None:
        seconds = time.perf_counter() - started
        # Only a configured name becomes a metric label: it is known once the turn started.
        known = model if model is not None and turn is not None else ""
        self.resources.metrics.websocket_turn(known, status)
        fields: dict[str, Any] = {
            "request_id": new_request_id(),
            "model": known or None,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "chain_turns": turn.timing.chain_turns if turn else None,
            "stream": True,
        }
        if turn is not None:
            fields["upstream_ms"] = round(turn.timing.upstream_seconds * 1000, 2)
            fields["overhead_ms"] = round(turn.timing.overhead_seconds * 1000, 3)
            fields["response_id"] = turn.response_id
        code, param = (error.code, error.param) if error is not None else (None, None)
        log_access("WS", f"{self.websocket.url.path} response.create", status, fields, code, param)

    async def _end_at_limit(self) -> None:
        await self._drain()
        error = LimitReached(
            f"WebSocket connections last at most {LIFETIME_SECONDS // 60} minutes; "
            "open a new one to continue."
        )
        self.resources.metrics.websocket_error(error.code or "")
        await self.websocket.send_text(orjson.dumps(error_frame(error)).decode())
        await self.websocket.close(1000)

    async def _drain(self) -> None:
        """Let the running turn finish (its upstream call has its own timeouts)."""
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _abandon(self) -> None:
        """The client left (or the connection ended): cancel its turn, and with it the
        upstream call."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
