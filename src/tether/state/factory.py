"""open_store: builds the state layer from Settings and owns every resource it creates."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from tether.config import Settings
from tether.errors import StorageUnavailable
from tether.state.breaker import CacheBreaker
from tether.state.memory import MemoryCache
from tether.state.pending import PendingCopies
from tether.state.ports import Health
from tether.state.redis.cache import RedisCache
from tether.state.redis.clients import Patience, RedisClient, follow_primary, redis_client
from tether.state.redis.journal import RedisJournal
from tether.state.redis.keys import KEY_PREFIX, Keys
from tether.state.sql.database import SqlDatabase
from tether.state.sql.engine import create_engine
from tether.state.sql.migrate import Migrations
from tether.state.store import ConversationStore
from tether.state.writer import DurableWriter, Flusher, WriterTiming

log = logging.getLogger("tether.state")


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """Operational knobs that are not user configuration (tests and benches set them)."""

    key_prefix: str = KEY_PREFIX
    consumer: str | None = None  # writer consumer name; default: a random instance id
    claim_idle_seconds: float | None = None  # default: max(5 s, 3 x flush interval)
    drain_timeout_seconds: float = 30.0
    local_copy_limit: int = 100_000
    # Requests wait this long for one Redis operation (connecting included), then
    # degrade: a healthy Redis answers in well under a millisecond, a hung one must not
    # hold a request. The deadline runs on the event loop's clock, so it must also
    # outlast the loop's own lag at saturation (tens of milliseconds at 64 requests in
    # flight): a false alarm costs half a second of degraded mode.
    redis_timeout_seconds: float = 0.25
    # The socket connect's own bound, within that deadline.
    redis_connect_timeout_seconds: float = 0.25
    # The durable writer moves batches of up to flush_batch_size records: no hurry.
    writer_redis_timeout_seconds: float = 2.0
    # On a Cluster the writer also retries after re-reading the slot map (a failover).
    writer_cluster_retries: int = 2
    # How often a background heartbeat checks Redis: it opens the breaker when Redis
    # stops answering, closes it when Redis is back, notices when Redis lost its data.
    heartbeat_seconds: float = 0.5


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[ConversationStore]:
    """Redis clients (if configured: one server, Cluster or Sentinel), database engine,
    migrations, durable writer.

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
        engine = create_engine(settings.database_url.get_secret_value())
        stack.push_async_callback(engine.dispose)
        migrations = Migrations(engine)
        database = SqlDatabase(engine, migrations)
        if settings.redis_url is None:
            await migrations.ensure()  # the database is the only store: it must be there
            yield ConversationStore(MemoryCache(settings.cache), database)
            return
        await _migrate_or_defer(migrations)
        url, topology, keys = settings.redis_url, settings.redis, Keys(options.key_prefix)
        # Two clients: requests get tight per-operation timeouts, the writer patient ones.
        # The request side's deadline is one per operation (`RedisCache`), not per read.
        hurried = Patience(
            options.redis_timeout_seconds, options.redis_connect_timeout_seconds, per_read=False
        )
        client = await stack.enter_async_context(redis_client(url, topology, hurried))
        waits = options.writer_redis_timeout_seconds
        patient = Patience(waits, waits, cluster_retries=options.writer_cluster_retries)
        writer_client = await stack.enter_async_context(redis_client(url, topology, patient))
        instance = options.consumer or _instance_id()
        cache = RedisCache(
            client, settings.cache, keys, instance, timeout=options.redis_timeout_seconds
        )
        await cache.heartbeat()  # this instance's marker: from now on its absence is a loss
        copies = PendingCopies(options.local_copy_limit)
        journal = RedisJournal(writer_client, keys, instance)
        timing = _timing(settings, options)
        writer_cache = RedisCache(writer_client, settings.cache, keys)
        flusher = Flusher(journal, writer_cache, database, copies, timing)
        writer = DurableWriter(journal, flusher, copies, timing)
        await writer.start()
        stack.push_async_callback(writer.close)
        breaker = CacheBreaker(
            _heartbeat(cache, client, writer_client),
            interval=options.heartbeat_seconds,
            on_failure=writer.cache_failed,
            on_loss=writer.cache_failed,
        )
        breaker.start()
        stack.push_async_callback(breaker.aclose)
        yield ConversationStore(cache, database, writer=writer, copies=copies, breaker=breaker)


def _heartbeat(cache: RedisCache, *clients: RedisClient) -> Callable[[], Awaitable[Health]]:
    """The breaker's heartbeat: with Sentinel, first learn which server is the primary now."""

    async def heartbeat() -> Health:
        for client in clients:
            await follow_primary(client)
        return await cache.heartbeat()

    return heartbeat


async def _migrate_or_defer(migrations: Migrations) -> None:
    # With Redis, turns can wait for a database that is down: start anyway, and let
    # the first database call that finds it back run the migration.
    try:
        await migrations.ensure()
    except StorageUnavailable as exc:
        log.error("%s; serving from Redis, turns wait for the database", exc)


def _timing(settings: Settings, options: StoreOptions) -> WriterTiming:
    interval = settings.cache.flush_interval_seconds
    claim_idle = options.claim_idle_seconds
    if claim_idle is None:
        claim_idle = settings.cache.claim_idle_seconds
    return WriterTiming(
        interval=interval,
        batch_size=settings.cache.flush_batch_size,
        claim_idle=claim_idle if claim_idle is not None else max(5.0, 3 * interval),
        drain_timeout=options.drain_timeout_seconds,
    )


def _instance_id() -> str:
    return f"{os.getpid()}-{secrets.token_hex(6)}"
