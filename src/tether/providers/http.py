"""HttpProvider: one upstream call over HTTP, whole or streamed, for any wire dialect;
the pooled session it uses and the translation of upstream errors.

A `Dialect` holds a protocol's pure translations (each provider module has its own);
this module does the I/O. aiohttp, not httpx: its pooled POST costs a tenth of the CPU
(docs/architecture.md, "What a turn costs").
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import orjson

from tether.core.completion import Completion, CompletionRequest, Delta, StreamEnd
from tether.errors import UpstreamError, UpstreamTimeout
from tether.providers.sse import sse_json


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float
    read: float


def make_session(headers: dict[str, str], timeouts: Timeouts) -> aiohttp.ClientSession:
    """One pooled session per provider; call inside the running loop (the lifespan)."""
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=timeouts.connect, sock_read=timeouts.read
    )
    connector = aiohttp.TCPConnector(limit=512, ttl_dns_cache=300)
    return aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector)


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
    except TimeoutError as exc:  # aiohttp's timeouts derive from it
        raise UpstreamTimeout(f"Upstream for model '{model}' timed out.") from exc
    except aiohttp.ClientError as exc:
        reason = type(exc).__name__
        raise UpstreamError(
            f"Upstream for model '{model}' is unreachable ({reason}).", code="upstream_unreachable"
        ) from exc


class StreamReader(Protocol):
    finished: bool

    def read(self, event: dict[str, Any]) -> list[Delta]: ...

    def end(self) -> StreamEnd: ...


@dataclass(frozen=True, slots=True)
class Dialect:
    path: str  # relative to the provider's base URL
    request_body: Callable[..., dict[str, Any]]  # (CompletionRequest, *, stream) -> body
    completion: Callable[[dict[str, Any]], Completion]
    reader: Callable[[], StreamReader]


class HttpProvider:
    def __init__(
        self, model_name: str, base_url: str, session: aiohttp.ClientSession, dialect: Dialect
    ) -> None:
        self._name = model_name  # the name clients use, for error messages
        self._url = base_url.rstrip("/") + dialect.path
        self._session = session
        self._dialect = dialect

    async def complete(self, request: CompletionRequest) -> Completion:
        body = orjson.dumps(self._dialect.request_body(request, stream=False))
        with translated_errors(self._name):
            async with self._session.post(self._url, data=body) as response:
                content = await response.read()
        raise_for_status(self._name, response.status, content)
        try:
            return self._dialect.completion(orjson.loads(content))
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise self._error("sent an unreadable answer", "upstream_malformed") from exc

    async def stream(self, request: CompletionRequest) -> AsyncIterator[list[Delta]]:
        body = orjson.dumps(self._dialect.request_body(request, stream=True))
        reader = self._dialect.reader()
        with translated_errors(self._name):
            async with self._session.post(self._url, data=body) as response:
                if response.status >= 400:
                    raise_for_status(self._name, response.status, await response.read())
                async for events in sse_json(response, self._name):
                    deltas, failure = self._read(reader, events)
                    if deltas:
                        yield deltas  # those before a bad event still go out
                    if failure is not None:
                        raise failure
        if not reader.finished:
            raise self._error("ended the stream early", "upstream_stream_cut")
        yield [reader.end()]

    def _read(
        self, reader: StreamReader, events: list[dict[str, Any]]
    ) -> tuple[list[Delta], UpstreamError | None]:
        """The deltas of a batch of events, up to the first that is an error or unreadable."""
        deltas: list[Delta] = []
        for event in events:
            try:
                if event.get("type") == "error" or isinstance(event.get("error"), dict):
                    raise_for_status(self._name, 502, orjson.dumps(event))
                deltas += reader.read(event)
            except UpstreamError as exc:
                return deltas, exc
            except (KeyError, IndexError, TypeError, AttributeError) as exc:
                failure = self._error("sent an unreadable event", "upstream_malformed")
                failure.__cause__ = exc
                return deltas, failure
        return deltas, None

    async def aclose(self) -> None:
        await self._session.close()

    def _error(self, what: str, code: str) -> UpstreamError:
        return UpstreamError(f"Upstream for model '{self._name}' {what}.", code=code)
