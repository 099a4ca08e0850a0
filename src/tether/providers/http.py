"""What the HTTP providers share: the pooled client, SSE reading, error translation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from tether.errors import UpstreamError, UpstreamTimeout


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    read: float = 600.0


def make_client(base_url: str, headers: dict[str, str], timeouts: Timeouts) -> httpx.AsyncClient:
    timeout = httpx.Timeout(timeouts.read, connect=timeouts.connect)
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=128)
    return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout, limits=limits)


_PASSED_ON = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def raise_for_status(model: str, status: int, body: bytes) -> None:
    """Upstream 4xx keep their status and type; anything else becomes a 502."""
    if status < 400:
        return
    detail = _error_message(body)
    if status in _PASSED_ON:
        raise UpstreamError(
            f"Upstream for model '{model}' rejected the request ({status}): {detail}",
            status=status,
            type=_PASSED_ON[status],
            code=f"upstream_{status}",
        )
    raise UpstreamError(
        f"Upstream for model '{model}' failed with status {status}: {detail}",
        code="upstream_error",
    )


def _error_message(body: bytes) -> str:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode(errors="replace") or "no detail"
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])[:500]
    return "no detail"


@contextmanager
def translated_errors(model: str) -> Iterator[None]:
    """Transport failures as tether errors that name the model, never the upstream key."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise UpstreamTimeout(f"Upstream for model '{model}' timed out.") from exc
    except httpx.HTTPError as exc:
        reason = type(exc).__name__
        raise UpstreamError(
            f"Upstream for model '{model}' is unreachable ({reason}).", code="upstream_unreachable"
        ) from exc


async def sse_json(response: httpx.Response, model: str) -> AsyncIterator[dict[str, Any]]:
    """The JSON payloads of an SSE stream, up to `[DONE]` or the end of the body."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(
                f"Upstream for model '{model}' sent a malformed stream event.",
                code="upstream_malformed",
            ) from exc
        if isinstance(payload, dict):
            yield payload
