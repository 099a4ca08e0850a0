"""Server-sent events: each event encoded whole, each batch written as one chunk."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import orjson

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
