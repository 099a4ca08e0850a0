"""open_store: builds the state layer from Settings and owns every resource it creates."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tether.config import Settings
from tether.state.database import SqlDatabase
from tether.state.engine import create_engine
from tether.state.flusher import Flusher
from tether.state.guard import CacheGuard
from tether.state.journal import RedisJournal
from tether.state.keys import KEY_PREFIX, Keys
from tether.state.local import LocalCopies
from tether.state.memory_cache import MemoryCache
from tether.state.migrate import migrate
from tether.state.redis_cache import RedisCache
from tether.state.store import ConversationStore
from tether.state.writer import DurableWriter, WriterTiming


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """Operational knobs that are not user configuration (tests and benches set them)."""

    key_prefix: str = KEY_PREFIX
    consumer: str | None = None  # writer consumer name; default: a random instance id
    claim_idle_seconds: float | None = None  # default: max(30 s, 3 x flush interval)
    drain_timeout_seconds: float = 30.0
    local_copy_limit: int = 100_000
    redis_timeout_seconds: float = 1.0


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[ConversationStore]:
    """Redis client (if configured), database engine, migrations, durable writer.

    On exit the writer drains (everything pending reaches the database), then every
    client is closed.
    """
    async with open_store_with(settings, StoreOptions()) as store:
        yield store


@asynccontextmanager
async def open_store_with(
    settings: Settings, options: StoreOptions
) -> AsyncIterator[ConversationStore]:
    async with AsyncExitStack() as stack:
        engine = create_engine(settings.database_url.reveal())
        stack.push_async_callback(engine.dispose)
        await migrate(engine)
        database = SqlDatabase(engine)
        if settings.redis_url is None:
            yield ConversationStore(MemoryCache(settings.cache), database)
            return
        client = _redis_client(settings.redis_url.reveal(), options.redis_timeout_seconds)
        stack.push_async_callback(client.aclose)
        keys = Keys(options.key_prefix)
        cache = RedisCache(client, settings.cache, keys)
        copies = LocalCopies(options.local_copy_limit)
        journal = RedisJournal(client, keys, options.consumer or _instance_id())
        timing = _timing(settings, options)
        flusher = Flusher(journal, cache, database, copies, timing)
        writer = DurableWriter(journal, flusher, copies, timing)
        await writer.start()
        stack.push_async_callback(writer.close)
        guard = CacheGuard(on_failure=writer.wake)
        yield ConversationStore(cache, database, writer=writer, copies=copies, guard=guard)


def _redis_client(url: str, timeout: float) -> Redis:
    # RESP2 is measurably faster with redis-py 8; one immediate retry replaces a
    # pooled connection that Redis dropped; a longer retry loop would stall requests.
    return Redis.from_url(
        url,
        protocol=2,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
    )


def _timing(settings: Settings, options: StoreOptions) -> WriterTiming:
    interval = settings.cache.flush_interval_seconds
    claim_idle = options.claim_idle_seconds
    return WriterTiming(
        interval=interval,
        batch_size=settings.cache.flush_batch_size,
        claim_idle=claim_idle if claim_idle is not None else max(30.0, 3 * interval),
        drain_timeout=options.drain_timeout_seconds,
    )


def _instance_id() -> str:
    return f"{os.getpid()}-{secrets.token_hex(6)}"
