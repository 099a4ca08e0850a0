"""Everything the app owns for its lifetime, built and closed by the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from tether.auth import Authenticator
from tether.compactor import Compactor
from tether.config import Settings
from tether.gateway import Gateway
from tether.observability.exporter import mirrored_stats
from tether.observability.metrics import Metrics
from tether.providers.registry import ProviderRegistry
from tether.sealing import load_sealer
from tether.state import ConversationStore, open_store


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    auth: Authenticator
    registry: ProviderRegistry
    store: ConversationStore
    gateway: Gateway
    compactor: Compactor
    metrics: Metrics


@asynccontextmanager
async def open_resources(settings: Settings, metrics: Metrics) -> AsyncIterator[Resources]:
    keys = [key.get_secret_value() for key in settings.encryption_keys]
    sealer = load_sealer(keys, settings.database_url.get_secret_value())
    registry = ProviderRegistry(settings.models)
    try:
        async with open_store(settings) as store, mirrored_stats(metrics, store.stats):
            compactor = Compactor(registry, store, sealer)
            yield Resources(
                settings=settings,
                auth=Authenticator(settings),
                registry=registry,
                store=store,
                gateway=Gateway(registry, store, compactor),
                compactor=compactor,
                metrics=metrics,
            )
    finally:
        await registry.aclose()
