"""OpenAIChatProvider: any OpenAI-compatible `POST {api_base}/chat/completions`."""

from __future__ import annotations

from tether.core import chat_format
from tether.providers.dialect import Dialect, HttpProvider
from tether.providers.http import Timeouts, make_session

DEFAULT_BASE = "https://api.openai.com/v1"
DIALECT = Dialect(
    path="/chat/completions",
    request_body=chat_format.request_body,
    completion=chat_format.completion,
    reader=chat_format.ChunkReader,
)


class OpenAIChatProvider(HttpProvider):
    @classmethod
    def create(
        cls, model_name: str, api_base: str | None, api_key: str | None, timeouts: Timeouts
    ) -> OpenAIChatProvider:
        headers = {"content-type": "application/json"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        return cls(model_name, api_base or DEFAULT_BASE, make_session(headers, timeouts), DIALECT)
