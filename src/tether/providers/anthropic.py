"""AnthropicProvider: Anthropic Messages, `POST {api_base}/v1/messages`."""

from __future__ import annotations

from tether.core import anthropic_format
from tether.providers.dialect import Dialect, HttpProvider
from tether.providers.http import Timeouts, make_session

DEFAULT_BASE = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DIALECT = Dialect(
    path="/v1/messages",
    request_body=anthropic_format.request_body,
    completion=anthropic_format.completion,
    reader=anthropic_format.EventReader,
)


class AnthropicProvider(HttpProvider):
    @classmethod
    def create(
        cls, model_name: str, api_base: str | None, api_key: str | None, timeouts: Timeouts
    ) -> AnthropicProvider:
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return cls(model_name, api_base or DEFAULT_BASE, make_session(headers, timeouts), DIALECT)
