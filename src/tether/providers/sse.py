"""Reading an upstream's server-sent events: JSON payloads in batches of those that
arrived together, so a burst is written to the client in few writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from tether.errors import UpstreamError


async def _line_batches(response: aiohttp.ClientResponse) -> AsyncIterator[list[bytes]]:
    """The complete lines of each chunk that arrived, of any length (aiohttp's own line
    reader caps them at 128 KiB)."""
    pending = b""
    async for chunk in response.content.iter_any():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if lines:
            yield lines
    if pending:
        yield [pending]


# Events that arrived together are handed on together (one write to the client), in
# batches that start at one event and double up to this: the first token is not held
# back while a burst behind it is parsed, and a long burst still costs few writes.
MAX_BATCH = 64


async def sse_json(
    response: aiohttp.ClientResponse, model: str
) -> AsyncIterator[list[dict[str, Any]]]:
    """The JSON payloads of an SSE stream, up to `[DONE]` or the end of the body, in
    batches of those that arrived together (1, 2, 4, ... up to MAX_BATCH)."""
    size = 1
    async for lines in _line_batches(response):
        batch: list[dict[str, Any]] = []
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                if batch:
                    yield batch
                return
            try:
                payload = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                if batch:
                    yield batch  # what arrived before the bad event still goes out
                raise UpstreamError(
                    f"Upstream for model '{model}' sent a malformed stream event.",
                    code="upstream_malformed",
                ) from exc
            if isinstance(payload, dict):
                batch.append(payload)
                if len(batch) == size:
                    yield batch
                    batch, size = [], min(2 * size, MAX_BATCH)
        if batch:
            yield batch
