"""Redis clients for each topology (one server, a Cluster, the primary Sentinel names),
and the boundary where their errors become CacheUnavailable."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, TypeAlias

import hiredis
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import (
    Connection,
    ConnectionPool,
    RedisSSLContext,
    SSLConnection,
    parse_url,
)
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, RedisClusterException, RedisError
from redis.typing import EncodableT

from tether.config import RedisTopology
from tether.deadline import deadline
from tether.state.ports import CacheUnavailable

RedisClient: TypeAlias = Redis | RedisCluster

# What a Redis call can raise when Redis is unreachable or misbehaving. The cluster
# client raises RedisClusterException (not a RedisError) when no node answers.
REDIS_ERRORS = (RedisError, RedisClusterException, OSError)

# A cluster client fails a command when a node's pool is full (100 by default); the
# single-server pool has no such cap, and neither should the cluster's: concurrency is
# bounded by the requests in flight.
_CLUSTER_MAX_CONNECTIONS = 2**31


class Bounded:
    """One deadline for a whole operation (None: the client's own socket timeouts), with
    Redis and socket failures, a missed deadline among them, as CacheUnavailable.

    A request's cache call is bounded once here rather than on every socket read
    (redis-py arms a timer for each read and a task for each write): the client times
    nothing itself, and a call cut short drops its connection.
    """

    __slots__ = ("_operation", "_timeout", "_timer")

    def __init__(self, operation: str, timeout: float | None) -> None:
        self._operation = operation
        self._timeout = timeout
        self._timer = deadline(timeout)

    async def __aenter__(self) -> None:
        await self._timer.__aenter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._timer.__aexit__(kind, exc, tb)
        except TimeoutError:
            raise CacheUnavailable(
                f"redis {self._operation} timed out after {self._timeout:g} s"
            ) from None
        if isinstance(exc, REDIS_ERRORS):
            raise CacheUnavailable(f"redis {self._operation} failed: {exc}") from exc


def redis_errors(operation: str) -> Bounded:
    """No deadline of its own (the client's socket timeouts apply): errors translated."""
    return Bounded(operation, None)


@dataclass(frozen=True, slots=True)
class Patience:
    """How long one client waits, and how it retries."""

    timeout: float  # per operation
    connect_timeout: float
    # True: redis-py times every socket read and write (each costs a timer, and a write
    # a task). False: the caller bounds each whole operation once (`RedisCache`).
    per_read: bool = True
    # One server or Sentinel: immediate retries on a dropped connection (a timeout is
    # never retried: it would double the wait).
    retries: int = 1
    # Cluster: retries after re-reading the slot map; a pipeline pauses 250 ms first
    # and drops every pooled connection, so requests take none and degrade instead.
    cluster_retries: int = 0


@asynccontextmanager
async def redis_client(
    url: SecretStr, topology: RedisTopology, patience: Patience
) -> AsyncIterator[RedisClient]:
    """A client for the configured topology, closed on exit. Nothing connects until used."""
    if topology.kind == "sentinel":
        async with _sentinel_primary(url.get_secret_value(), topology, patience) as primary:
            yield primary
        return
    client: RedisClient = (
        _cluster(url.get_secret_value(), topology, patience)
        if topology.cluster
        else _standalone(url.get_secret_value(), topology, patience)
    )
    try:
        yield client
    finally:
        await client.aclose()


def _common(patience: Patience) -> dict[str, Any]:
    # RESP2 is measurably faster with redis-py 8. No CLIENT SETINFO: two commands less
    # on every new connection.
    return {
        "protocol": 2,
        "socket_timeout": patience.timeout if patience.per_read else None,
        "socket_connect_timeout": patience.connect_timeout,
        "driver_info": None,
    }


def _retry(patience: Patience) -> Retry:
    return Retry(NoBackoff(), patience.retries, supported_errors=(RedisConnectionError,))


def _tls(url: str, topology: RedisTopology) -> dict[str, Any]:
    """redis-py's TLS options for a rediss:// URL (none for any other): the CA to trust,
    and how much of each server's certificate to check. `optional` checks it against the
    CA but not the host name (Sentinel hands out addresses, not the certificate's names)."""
    if not url.startswith("rediss://"):
        return {}
    return {
        "ssl_ca_certs": topology.ssl_ca_certs,
        "ssl_cert_reqs": topology.ssl_cert_reqs,
        "ssl_check_hostname": topology.ssl_cert_reqs == "required",
    }


class _HiredisPacking:
    """Commands packed by hiredis (C), as redis-py's sync client does; its asyncio client
    packs in Python. Kept because `bench/ab.py` shows it pays (2-6% of a turn's CPU;
    docs/architecture.md). Over TLS too: only the socket differs. Unix-socket URLs keep
    redis-py's own, and so does the Cluster client, which takes no connection class."""

    def pack_command(self, *args: EncodableT) -> list[bytes]:
        if isinstance(args[0], str):  # "CONFIG GET" and the like: one word an argument
            args = (*args[0].encode().split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]  # type: ignore[arg-type]  # its stub takes 1-tuples
        except TypeError as exc:
            raise DataError(str(exc)) from exc


class _Connection(_HiredisPacking, Connection):
    pass


class _OneContext:
    """The SSL context all of one client's connections share: the first one's (they are
    all built from the same options)."""

    __slots__ = ("_first",)

    def __init__(self) -> None:
        self._first: RedisSSLContext | None = None

    def share(self, built: RedisSSLContext) -> RedisSSLContext:
        if self._first is None:
            self._first = built
        return self._first


class _SharedTLS(SSLConnection):
    """TLS with the client's one SSL context: redis-py builds one for each connection,
    loading the system's CA bundle on the event loop each time (docs/deployment.md)."""

    def __init__(self, *, one_context: _OneContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ssl_context = one_context.share(self.ssl_context)


class _TLSConnection(_HiredisPacking, _SharedTLS):
    pass


def _standalone(url: str, topology: RedisTopology, patience: Patience) -> Redis:
    # The URL's values win over the options, as in Redis.from_url, whose URL's connection
    # class (rediss://, unix://) would also replace ours: hence the pool built here.
    options: dict[str, Any] = {**_common(patience), **_tls(url, topology), **parse_url(url)}
    given = options.get("connection_class", Connection)
    if given is SSLConnection:
        options |= {"connection_class": _TLSConnection, "one_context": _OneContext()}
    elif given is Connection:
        options["connection_class"] = _Connection
    return Redis.from_pool(ConnectionPool(retry=_retry(patience), **options))


def _cluster(url: str, topology: RedisTopology, patience: Patience) -> RedisCluster:
    # The URL's user, password and scheme (rediss://: ssl=True) apply to every node.
    return RedisCluster.from_url(
        url,
        startup_nodes=[ClusterNode(node.host, node.port) for node in topology.nodes],
        retry=Retry(NoBackoff(), patience.cluster_retries),
        max_connections=_CLUSTER_MAX_CONNECTIONS,
        **_tls(url, topology),
        **_common(patience),
    )


async def follow_primary(client: RedisClient) -> None:
    """Sentinel: ask which server is the primary now (the heartbeat does, twice a second).

    After a switch-over Sentinel leaves the old primary writable for ~10 s before it
    demotes it; connections still on it would write there, and those writes vanish at
    the demotion. Once the pool knows the new address, each connection moves before its
    next command (`_PrimaryConnection`). Elsewhere there is nothing to follow.
    """
    pool = getattr(client, "connection_pool", None)
    if isinstance(pool, SentinelConnectionPool):
        # No sentinel answering is not the primary failing: the heartbeat's own command
        # to the primary says whether Redis is up.
        with contextlib.suppress(*REDIS_ERRORS):
            await pool.get_master_address()  # type: ignore[no-untyped-call]  # redis-py: unannotated


class _PrimaryConnection(_HiredisPacking, SentinelManagedConnection):
    """A connection that stays on the primary Sentinel names.

    It asks Sentinel on every connect, a command's reconnect included: redis-py
    reconnects a dropped connection (the retry after READONLY from a demoted primary)
    through `connect_check_health`, past the lookup in `connect`, and would dial the old
    primary again (redis/redis-py#3874, open in 8.1). And before each command it moves
    if its pool has since learnt of another primary (`follow_primary`).
    """

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        primary = self.connection_pool.master_address
        if self.is_connected and primary is not None and (self.host, self.port) != primary:
            await self.disconnect()
        await super().send_packed_command(command, check_health)

    async def _connect_retry(self) -> None:
        await self.connect_check_health(
            check_health=self.connection_pool.check_connection, retry_socket_connect=False
        )

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if not self.is_connected:
            self.host, self.port = await self.connection_pool.get_master_address()
        await super().connect_check_health(
            check_health=check_health, retry_socket_connect=retry_socket_connect
        )


class _PrimaryTLSConnection(_PrimaryConnection, _SharedTLS):
    """The same over TLS (the pool takes its class from us, not from `ssl=True`)."""


@asynccontextmanager
async def _sentinel_primary(
    url: str, topology: RedisTopology, patience: Patience
) -> AsyncIterator[Redis]:
    # Each new connection asks the sentinels for the primary; one told it is now a
    # replica (READONLY) drops and asks again. TLS (rediss://) is for both.
    sentinel_auth, tls = topology.sentinel_password, _tls(url, topology)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        [(node.host, node.port) for node in topology.nodes],
        sentinel_kwargs={
            **_common(replace(patience, per_read=True)),  # asked by the heartbeat only
            # Not redis-py's default (ten retries, backing off up to 1 s each): a sentinel
            # that is down or refuses the login would hold up each lookup for seconds.
            "retry": _retry(patience),
            "username": topology.sentinel_username,
            "password": sentinel_auth.get_secret_value() if sentinel_auth else None,
            **({"ssl": True, **tls} if tls else {}),
        },
    )
    target = parse_url(url)  # the primary's user, password, database; its host is the service
    primary: Redis = sentinel.master_for(
        topology.service_name or "",
        username=target.get("username"),
        password=target.get("password"),
        db=target.get("db", 0),
        retry=_retry(patience),
        connection_class=_PrimaryTLSConnection if tls else _PrimaryConnection,
        **({**tls, "one_context": _OneContext()} if tls else {}),
        **_common(patience),
    )
    try:
        yield primary
    finally:
        await primary.aclose()
        await sentinel.aclose()
