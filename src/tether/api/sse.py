"""Server-sent events: each event encoded whole, each batch written as one chunk."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import orjson
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

Event = dict[str, Any]


def encode(event: Event) -> bytes:
    kind: str = event["type"]
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def encode_all(events: list[Event]) -> bytes:
    return b"".join(encode(event) for event in events)


async def encode_stream(batches: AsyncGenerator[list[Event]]) -> AsyncIterator[bytes]:
    """Encodes batches; closing this stream (a client gone) closes the source at once."""
    try:
        async for batch in batches:
            yield encode_all(batch)
    finally:
        await batches.aclose()


class EventStream(StreamingResponse):
    """A streamed response written from the request's own task, at once.

    Starlette runs each streamed body in a task group of its own beside a task that
    listens for the client leaving (ASGI servers before spec 2.4 do not say so through
    `send`); that costs a task switch before the first byte. Here the body is written
    in place and only the listener is a task: when the client leaves it cancels the
    writer, which closes the source (and with it the upstream call).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        writer = asyncio.current_task()
        assert writer is not None
        finished = gone = False

        async def listen() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            if not finished:
                gone = True
                writer.cancel()

        listener = asyncio.create_task(listen())
        try:
            await self.stream_response(send)
            finished = True
        except asyncio.CancelledError:
            if not gone:
                raise
            writer.uncancel()  # our own cancellation: the client left, nothing to send
        finally:
            listener.cancel()
            # Cut short while sending, the source is left suspended: close it now (its
            # `finally` ends the upstream call), not whenever it is collected.
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()
