"""tether's Redis client, from router_settings, on servers locked as managed Redis is:
ACL users with the default user off, and TLS-only ports with their certificates checked."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection

from tether.config import Settings, load_settings
from tether.state.ports import CacheUnavailable
from tether.state.redis.clients import Patience, redis_client, redis_errors

from .certificates import Certificates, TestCA
from .servers import SERVICE, Access, LockedRedis, SentinelGroup

PASSWORD = "node-secret"


def settings(tmp_path: Path, router: dict[str, Any]) -> Settings:
    path = tmp_path / "tether.yaml"
    path.write_text(yaml.safe_dump({"router_settings": router}), encoding="utf-8")
    return load_settings(str(path), {})


async def whoami(tmp_path: Path, router: dict[str, Any]) -> str:
    """The ACL user tether's client is logged in as; CacheUnavailable if it gets nowhere."""
    loaded = settings(tmp_path, router)
    assert loaded.redis_url is not None
    patience = Patience(timeout=3, connect_timeout=3)
    async with (
        redis_client(loaded.redis_url, loaded.redis, patience) as client,
        redis_errors("ping"),
    ):
        return str(await client.execute_command("ACL WHOAMI"))


@pytest.fixture
def acl_redis(tmp_path: Path) -> Iterator[LockedRedis]:
    server = LockedRedis(tmp_path, Access("tether", PASSWORD))
    try:
        yield server.start()
    finally:
        server.close()


async def test_the_acl_user_is_who_tether_logs_in_as(
    acl_redis: LockedRedis, tmp_path: Path
) -> None:
    router = {"redis_host": "127.0.0.1", "redis_port": acl_redis.port, "redis_password": PASSWORD}
    assert await whoami(tmp_path, {**router, "redis_username": "tether"}) == "tether"
    assert await whoami(tmp_path, {**router, "username": "tether"}) == "tether"  # LiteLLM's
    with pytest.raises(CacheUnavailable, match="user is disabled"):  # the default user is off
        await whoami(tmp_path, router)


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[LockedRedis, Certificates]]:
    """A TLS-only server whose certificate names another host, from the test CA."""
    elsewhere = TestCA(tmp_path / "ca").issue("elsewhere", "elsewhere.invalid")
    server = LockedRedis(tmp_path, Access(password=PASSWORD, tls=elsewhere))
    try:
        yield server.start(), elsewhere
    finally:
        server.close()


async def test_the_verification_modes_check_what_they_say(
    tls_redis: tuple[LockedRedis, Certificates], tmp_path: Path
) -> None:
    server, certificate = tls_redis
    url = f"rediss://:{PASSWORD}@127.0.0.1:{server.port}/0"
    ours, foreign = str(certificate.ca), str(TestCA(tmp_path / "other-ca").issue("x", "x").ca)

    async def reaches(**tls: str) -> bool:
        try:
            await whoami(tmp_path, {"redis_url": url, **tls})
        except CacheUnavailable as exc:
            if "certificate verify failed" not in str(exc):
                raise  # refused for another reason than the certificate
            return False
        return True

    # required: the certificate must come from the CA and name the host (it names another)
    assert not await reaches(redis_ssl_ca_certs=ours)
    assert not await reaches(redis_ssl_ca_certs=ours, redis_ssl_cert_reqs="required")
    # optional: from the CA, whatever host it names
    assert await reaches(ssl_ca_certs=ours, ssl_cert_reqs="optional")
    assert not await reaches(ssl_ca_certs=foreign, ssl_cert_reqs="optional")
    assert not await reaches(redis_ssl_cert_reqs="optional")  # the system's CAs: not ours
    # none: encrypted, nothing checked
    assert await reaches(redis_ssl_cert_reqs="none")


async def test_a_certificate_naming_the_host_passes_required(
    certificates: Certificates, tmp_path: Path
) -> None:
    server = LockedRedis(tmp_path, Access("tether", PASSWORD, certificates)).start()
    try:
        router = {
            **{"redis_host": "127.0.0.1", "redis_port": server.port, "redis_ssl": True},
            **{"redis_ssl_ca_certs": str(certificates.ca), "redis_ssl_cert_reqs": "required"},
            **{"redis_username": "tether", "redis_password": PASSWORD},
        }
        assert await whoami(tmp_path, router) == "tether"
        plain = {key: value for key, value in router.items() if "ssl" not in key}
        with pytest.raises(CacheUnavailable):  # the plain protocol on a TLS port
            await whoami(tmp_path, plain)
    finally:
        server.close()


@pytest.mark.parametrize("sentinel_group", [{"acl": True, "tls": True}], indirect=True)
async def test_sentinels_and_the_primary_each_take_their_own_user(
    sentinel_group: SentinelGroup, certificates: Certificates, tmp_path: Path
) -> None:
    group = sentinel_group
    router = {
        "redis_sentinel_nodes": [["127.0.0.1", group.sentinel]],
        "redis_sentinel_service_name": SERVICE,
        "redis_sentinel_username": group.SENTINEL_USER,
        "redis_sentinel_password": group.SENTINEL_PASSWORD,
        "redis_username": group.USER,
        "redis_password": group.PASSWORD,
        "redis_ssl": True,
        "redis_ssl_ca_certs": str(certificates.ca),
    }
    assert await whoami(tmp_path, router) == group.USER  # on the primary Sentinel named
    without = {key: value for key, value in router.items() if key != "redis_sentinel_username"}
    with pytest.raises(CacheUnavailable):  # the sentinels' default user is off
        await whoami(tmp_path, without)


async def test_tls_connections_share_one_ssl_context(
    certificates: Certificates, tmp_path: Path
) -> None:
    # A context of their own each would load the CA bundle on the event loop for every
    # new connection (docs/deployment.md): a burst of them would stall every request.
    server = LockedRedis(tmp_path, Access(password=PASSWORD, tls=certificates)).start()
    try:
        url = f"rediss://:{PASSWORD}@127.0.0.1:{server.port}/0"
        loaded = settings(tmp_path, {"redis_url": url, "ssl_ca_certs": str(certificates.ca)})
        assert loaded.redis_url is not None
        patience = Patience(timeout=3, connect_timeout=3)
        async with redis_client(loaded.redis_url, loaded.redis, patience) as client:
            await asyncio.gather(*(client.blpop(["nothing"], 0.05) for _ in range(5)))
            assert isinstance(client, Redis)
            connections = client.connection_pool._available_connections
            assert len(connections) == 5  # five opened side by side
            assert all(isinstance(connection, SSLConnection) for connection in connections)
            contexts = {id(connection.ssl_context.get()) for connection in connections}  # type: ignore[attr-defined]
            assert len(contexts) == 1
    finally:
        server.close()
