"""Providers by the model name clients send, built from the configured routes."""

from __future__ import annotations

from collections.abc import Iterable

from tether.config import ModelRoute
from tether.errors import ModelNotFound
from tether.providers.anthropic import AnthropicProvider
from tether.providers.echo import EchoProvider
from tether.providers.http import Timeouts
from tether.providers.openai_chat import OpenAIChatProvider
from tether.providers.port import Provider


class ProviderRegistry:
    def __init__(self, routes: Iterable[ModelRoute]) -> None:
        self.routes = {route.name: route for route in routes}
        self._providers = {name: _build(route) for name, route in self.routes.items()}

    def get(self, model: str) -> tuple[ModelRoute, Provider]:
        provider = self._providers.get(model)
        if provider is None:
            raise ModelNotFound(model)
        return self.routes[model], provider

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()


def _build(route: ModelRoute) -> Provider:
    if route.provider == "echo":
        return EchoProvider(route.upstream_model)
    timeouts = Timeouts(connect=route.connect_timeout_seconds, read=route.timeout_seconds)
    key = route.api_key.get_secret_value() if route.api_key else None
    if route.provider == "anthropic":
        return AnthropicProvider.create(route.name, route.api_base, key, timeouts)
    return OpenAIChatProvider.create(route.name, route.api_base, key, timeouts)
