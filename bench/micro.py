"""The small costs behind choices on tether's hot path, each beside its alternative.

    python bench/micro.py

- a bounded wait: tether's deadline() against asyncio.timeout (uvloop, 500 timers pending);
- packing a Redis command: hiredis against redis-py's asyncio packer;
- a record kept in memory: orjson's bytes as returned against a copy of their size;
- one request through Starlette and tether's request log, against a bare ASGI callable.
"""

from __future__ import annotations

import asyncio
import logging
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import hiredis
import orjson
import uvloop
from redis.asyncio.connection import Connection
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.middleware import RequestLog
from tether.deadline import deadline
from tether.observability.metrics import Metrics

ROUNDS = 100_000


def row(label: str, seconds: float, rounds: int) -> None:
    print(f"  {label:<44} {seconds / rounds * 1e6:8.2f} us")


async def waits() -> None:
    print("a bounded wait (enter and leave, 0.25 s bound)")
    loop = asyncio.get_running_loop()
    pending = [loop.call_later(60 + i / 1000, print) for i in range(500)]
    for label, bound in (("asyncio.timeout", asyncio.timeout), ("tether.deadline", deadline)):
        started = time.perf_counter()
        for _ in range(ROUNDS):
            async with bound(0.25):
                pass
        row(label, time.perf_counter() - started, ROUNDS)
    for handle in pending:
        handle.cancel()


def packing() -> None:
    print("packing EVALSHA with 3 keys and 2 arguments")
    args = ("EVALSHA", "a" * 40, 3, "tether:v1:{" + "0" * 32 + "}:h", "idx", "alive", 3600000, 0)
    connection = Connection()
    started = time.perf_counter()
    for _ in range(ROUNDS):
        connection.pack_command(*args)
    row("redis-py (asyncio connection)", time.perf_counter() - started, ROUNDS)
    started = time.perf_counter()
    for _ in range(ROUNDS):
        hiredis.pack_command(args)
    row("hiredis", time.perf_counter() - started, ROUNDS)


def kept_records() -> None:
    print("memory held by 100 encoded records, per record")
    for size in (2_000, 100_000):
        record = {"text": "x" * size}
        for label, encode in (
            ("orjson.dumps", orjson.dumps),
            ("orjson.dumps, copied to its size", lambda r: bytes(memoryview(orjson.dumps(r)))),
        ):
            tracemalloc.start()
            kept = [encode(record) for _ in range(100)]
            held, _ = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"  {size:>7} B  {label:<34} {held / len(kept) / 1024:8.1f} KiB")


async def frameworks() -> None:
    print("one POST through the ASGI stack, in process (no server, no sockets)")

    async def endpoint(request: Request) -> Response:
        await request.body()
        return Response(b'{"ok":true}', media_type="application/json")

    app = Starlette(
        routes=[Route("/v1/responses", endpoint, methods=["POST"])],
        middleware=[Middleware(RequestLog, metrics=Metrics())],
    )

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"ok":true}'})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Any) -> None:
        return None

    logging.disable(logging.CRITICAL)  # the access line's own cost is not measured here
    rounds = ROUNDS // 5
    calls: tuple[tuple[str, Callable[..., Awaitable[None]]], ...] = (
        ("Starlette + RequestLog", app),
        ("bare ASGI callable", bare),
    )
    for label, target in calls:
        started = time.perf_counter()
        for _ in range(rounds):
            scope = {
                "type": "http",
                "method": "POST",
                "path": "/v1/responses",
                "raw_path": b"/v1/responses",
                "query_string": b"",
                "root_path": "",
                "headers": [(b"content-length", b"2")],
            }
            await target(scope, receive, send)
        row(label, time.perf_counter() - started, rounds)


async def main() -> None:
    await waits()
    packing()
    kept_records()
    await frameworks()


if __name__ == "__main__":
    uvloop.run(main())
