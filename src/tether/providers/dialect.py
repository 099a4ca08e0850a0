"""HttpProvider: one upstream call over HTTP, whole or streamed, for any wire dialect.

A `Dialect` holds a protocol's pure translations (see `core.chat_format` and
`core.anthropic_format`); this class does the I/O and the error translation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import orjson

from tether.core.completion import Completion, CompletionRequest, Delta, StreamEnd
from tether.errors import UpstreamError
from tether.providers.http import raise_for_status, sse_json, translated_errors


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
