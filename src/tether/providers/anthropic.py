"""AnthropicProvider: Anthropic Messages `POST {api_base}/v1/messages`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson

from tether.core import anthropic_format
from tether.core.completion import Completion, CompletionRequest, Delta
from tether.errors import UpstreamError
from tether.providers.http import (
    Timeouts,
    make_client,
    raise_for_status,
    sse_json,
    translated_errors,
)

DEFAULT_BASE = "https://api.anthropic.com"
API_VERSION = "2023-06-01"


class AnthropicProvider:
    def __init__(self, model_name: str, client: httpx.AsyncClient) -> None:
        self._name = model_name
        self._client = client

    @classmethod
    def create(
        cls, model_name: str, api_base: str | None, api_key: str | None, timeouts: Timeouts
    ) -> AnthropicProvider:
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        base = (api_base or DEFAULT_BASE).rstrip("/")
        return cls(model_name, make_client(base, headers, timeouts))

    async def complete(self, request: CompletionRequest) -> Completion:
        body = orjson.dumps(anthropic_format.request_body(request, stream=False))
        with translated_errors(self._name):
            response = await self._client.post("/v1/messages", content=body)
        raise_for_status(self._name, response.status_code, response.content)
        try:
            return anthropic_format.completion(orjson.loads(response.content))
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise UpstreamError(
                f"Upstream for model '{self._name}' sent an unreadable message.",
                code="upstream_malformed",
            ) from exc

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Delta]:
        body = orjson.dumps(anthropic_format.request_body(request, stream=True))
        reader = anthropic_format.EventReader()
        stopped = False
        with translated_errors(self._name):
            async with self._client.stream("POST", "/v1/messages", content=body) as response:
                if response.status_code >= 400:
                    raise_for_status(self._name, response.status_code, await response.aread())
                async for event in sse_json(response, self._name):
                    if event.get("type") == "error":
                        raise_for_status(self._name, 502, orjson.dumps(event))
                    stopped = stopped or event.get("type") == "message_stop"
                    for delta in reader.read(event):
                        yield delta
        if not stopped:
            raise UpstreamError(
                f"Upstream for model '{self._name}' ended the stream early.",
                code="upstream_stream_cut",
            )
        yield reader.end()

    async def aclose(self) -> None:
        await self._client.aclose()
