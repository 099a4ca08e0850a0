"""OpenAIChatProvider: any OpenAI-compatible `POST {api_base}/chat/completions`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson

from tether.core import chat_format
from tether.core.completion import Completion, CompletionRequest, Delta
from tether.errors import UpstreamError
from tether.providers.http import (
    Timeouts,
    make_client,
    raise_for_status,
    sse_json,
    translated_errors,
)

DEFAULT_BASE = "https://api.openai.com/v1"


class OpenAIChatProvider:
    def __init__(self, model_name: str, client: httpx.AsyncClient) -> None:
        self._name = model_name  # the name clients use, for error messages
        self._client = client

    @classmethod
    def create(
        cls, model_name: str, api_base: str | None, api_key: str | None, timeouts: Timeouts
    ) -> OpenAIChatProvider:
        headers = {"content-type": "application/json"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        base = (api_base or DEFAULT_BASE).rstrip("/")
        return cls(model_name, make_client(base, headers, timeouts))

    async def complete(self, request: CompletionRequest) -> Completion:
        body = orjson.dumps(chat_format.request_body(request, stream=False))
        with translated_errors(self._name):
            response = await self._client.post("/chat/completions", content=body)
        raise_for_status(self._name, response.status_code, response.content)
        try:
            return chat_format.completion(orjson.loads(response.content))
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
            raise UpstreamError(
                f"Upstream for model '{self._name}' sent an unreadable completion.",
                code="upstream_malformed",
            ) from exc

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Delta]:
        body = orjson.dumps(chat_format.request_body(request, stream=True))
        reader = chat_format.ChunkReader()
        finished = False
        with translated_errors(self._name):
            async with self._client.stream("POST", "/chat/completions", content=body) as response:
                if response.status_code >= 400:
                    raise_for_status(self._name, response.status_code, await response.aread())
                async for chunk in sse_json(response, self._name):
                    finished = finished or _has_finish(chunk)
                    for delta in reader.read(chunk):
                        yield delta
        if not finished:
            raise UpstreamError(
                f"Upstream for model '{self._name}' ended the stream early.",
                code="upstream_stream_cut",
            )
        yield reader.end()

    async def aclose(self) -> None:
        await self._client.aclose()


def _has_finish(chunk: dict[str, object]) -> bool:
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return False
    return any(isinstance(c, dict) and c.get("finish_reason") for c in choices)
