"""router_settings for a Redis Cluster or Sentinel: the shapes accepted, the errors named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from tether.config import RedisNode, Settings, load_settings
from tether.errors import ConfigError


def load(tmp_path: Path, router: object, environ: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "tether.yaml"
    path.write_text(yaml.safe_dump({"router_settings": router}), encoding="utf-8")
    return load_settings(str(path), environ or {})


def error_key(tmp_path: Path, router: object, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, router, environ)
    return caught.value.key


def url(settings: Settings) -> str:
    assert settings.redis_url is not None
    return settings.redis_url.get_secret_value()


def test_a_cluster_flag_makes_the_url_a_cluster_node(tmp_path: Path) -> None:
    settings = load(tmp_path, {"redis_url": "redis://:pw@node1:7000/0", "redis_cluster": True})
    assert settings.redis.kind == "cluster"
    assert settings.redis.nodes == ()
    assert url(settings) == "redis://:pw@node1:7000/0"
    from_env = load(
        tmp_path,
        {"redis_cluster": "os.environ/CLUSTER"},
        {"CLUSTER": "true", "REDIS_HOST": "n", "REDIS_PORT": "7001"},
    )
    assert from_env.redis.kind == "cluster"
    assert url(from_env) == "redis://n:7001/0"
    assert load(tmp_path, {"redis_url": "redis://h:1/0", "redis_cluster": False}).redis.kind == (
        "standalone"
    )


@pytest.mark.parametrize("name", ["redis_startup_nodes", "startup_nodes"])
def test_startup_nodes_make_a_cluster_in_either_spelling(tmp_path: Path, name: str) -> None:
    nodes = [{"host": "10.0.0.1", "port": "7001"}, ["10.0.0.2", 7002]]  # LiteLLM: ports as text
    settings = load(tmp_path, {name: nodes, "redis_password": "p@ss"})
    assert settings.redis.kind == "cluster"
    assert settings.redis.nodes == (
        RedisNode(host="10.0.0.1", port=7001),
        RedisNode(host="10.0.0.2", port=7002),
    )
    assert url(settings) == "redis://:p%40ss@10.0.0.1:7001/0"
    assert "p@ss" not in repr(settings)


@pytest.mark.parametrize("spelling", ["tether", "litellm"])
def test_sentinel_nodes_name_the_primary_through_its_service(tmp_path: Path, spelling: str) -> None:
    prefix = "redis_sentinel_" if spelling == "tether" else "sentinel_"
    router = {
        f"{prefix}nodes": [{"host": "s1", "port": 26379}, ["s2", "26380"]],
        "redis_sentinel_service_name" if spelling == "tether" else "service_name": "mymaster",
        f"{prefix}password": "sentinel-secret",
        "redis_password": "primary-secret",
    }
    settings = load(tmp_path, router, {"REDIS_URL": "redis://ignored:1/0"})
    topology = settings.redis
    assert topology.kind == "sentinel"
    assert topology.nodes == (RedisNode(host="s1", port=26379), RedisNode(host="s2", port=26380))
    assert topology.service_name == "mymaster"
    assert topology.sentinel_password is not None
    assert topology.sentinel_password.get_secret_value() == "sentinel-secret"
    assert url(settings) == "redis://:primary-secret@mymaster/0"  # the file's topology wins
    assert "secret" not in repr(settings)
    assert settings.unknown_keys == ()


@pytest.mark.parametrize(
    ("router", "key"),
    [
        ({"redis_cluster": True}, "router_settings.redis_cluster"),
        (
            {"redis_cluster": "yes please", "redis_url": "redis://h:1/0"},
            "router_settings.redis_cluster",
        ),
        ({"redis_cluster": True, "redis_url": "redis://h:1/2"}, "router_settings.redis_url"),
        ({"redis_cluster": True, "redis_url": "unix:///tmp/r.sock"}, "router_settings.redis_url"),
        ({"startup_nodes": "h:7000"}, "router_settings.startup_nodes"),
        ({"redis_startup_nodes": []}, "router_settings.redis_startup_nodes"),
        ({"redis_startup_nodes": ["h:7000"]}, "router_settings.redis_startup_nodes[0]"),
        ({"redis_startup_nodes": [{"port": 1}]}, "router_settings.redis_startup_nodes[0].host"),
        ({"redis_startup_nodes": [["h", "x"]]}, "router_settings.redis_startup_nodes[0].port"),
        ({"redis_startup_nodes": [["h", 70000]]}, "router_settings.redis_startup_nodes[0].port"),
        (
            {"redis_startup_nodes": [["h", 1]], "startup_nodes": [["h", 1]]},
            "router_settings.startup_nodes",
        ),
        (
            {"redis_startup_nodes": [["h", 1]], "redis_url": "redis://h:1/0"},
            "router_settings.redis_url",
        ),
        (
            {"redis_startup_nodes": [["h", 1]], "redis_cluster": False},
            "router_settings.redis_cluster",
        ),
        ({"sentinel_nodes": [["s", 1]]}, "router_settings.redis_sentinel_service_name"),
        ({"service_name": "m"}, "router_settings.service_name"),
        ({"redis_sentinel_password": "x"}, "router_settings.redis_sentinel_password"),
        (
            {"sentinel_nodes": [["s", 1]], "service_name": "m", "redis_host": "h"},
            "router_settings.redis_host",
        ),
        (
            {"sentinel_nodes": [["s", 1]], "service_name": "m", "startup_nodes": [["h", 1]]},
            "router_settings.startup_nodes",
        ),
        (
            {"sentinel_nodes": [["s", 1]], "service_name": "m", "redis_cluster": True},
            "router_settings.redis_cluster",
        ),
        (
            {"sentinel_nodes": [["s", 1]], "service_name": "m", "redis_sentinel_service_name": "m"},
            "router_settings.service_name",
        ),
    ],
)
def test_a_bad_topology_names_its_key(tmp_path: Path, router: object, key: str) -> None:
    assert error_key(tmp_path, router) == key


def test_unknown_keys_inside_a_node_are_reported(tmp_path: Path) -> None:
    settings = load(tmp_path, {"startup_nodes": [{"host": "h", "port": 1, "weight": 2}]})
    assert settings.unknown_keys == ("router_settings.startup_nodes[0].weight",)


# --- ACL users and TLS -----------------------------------------------------------------


@pytest.fixture
def ca_file(tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")  # read by redis-py at the first connection
    return str(path)


@pytest.mark.parametrize("spelling", ["redis_username", "username"])
def test_the_acl_user_goes_into_every_url(tmp_path: Path, spelling: str) -> None:
    user = {spelling: "app@eu", "redis_password": "p w"}
    host = load(tmp_path, {"redis_host": "h", **user})
    assert url(host) == "redis://app%40eu:p%20w@h:6379/0"
    given = load(tmp_path, {"redis_url": "redis://:pw@h:1/2", **user})
    assert url(given) == "redis://app%40eu:pw@h:1/2"  # the URL's own password
    nodes = load(tmp_path, {"startup_nodes": [["n1", 7000], ["n2", 7001]], **user})
    assert url(nodes) == "redis://app%40eu:p%20w@n1:7000/0"  # its user is every node's
    unix = load(tmp_path, {"redis_url": "unix:///run/redis.sock", spelling: "app"})
    assert url(unix) == "unix://app@/run/redis.sock"
    assert load(tmp_path, {"redis_url": "unix:///run/redis.sock"}).redis_url == SecretStr(
        "unix:///run/redis.sock"
    )


@pytest.mark.parametrize("spelling", ["tether", "litellm"])
def test_sentinels_and_the_primary_take_their_own_users(tmp_path: Path, spelling: str) -> None:
    tether = spelling == "tether"
    router = {
        "sentinel_nodes": [["s1", 26379]],
        "service_name": "mymaster",
        "redis_sentinel_username" if tether else "sentinel_username": "watcher",
        "redis_sentinel_password" if tether else "sentinel_password": "sentinel-secret",
        "redis_username" if tether else "username": "app",
        "redis_password": "primary-secret",
    }
    settings = load(tmp_path, router)
    assert settings.redis.sentinel_username == "watcher"
    assert url(settings) == "redis://app:primary-secret@mymaster/0"
    assert "secret" not in repr(settings)
    assert settings.unknown_keys == ()


def test_tls_makes_every_url_rediss(tmp_path: Path, ca_file: str) -> None:
    host = load(tmp_path, {"redis_host": "h", "redis_ssl": True, "redis_ssl_ca_certs": ca_file})
    assert url(host) == "rediss://h:6379/0"
    assert host.redis.ssl_ca_certs == ca_file
    assert host.redis.ssl_cert_reqs == "required"  # the default
    from_env = load(
        tmp_path, {"ssl": "os.environ/REDIS_SSL"}, {"REDIS_SSL": "True", "REDIS_HOST": "h"}
    )
    assert url(from_env) == "rediss://h:6379/0"
    upgraded = load(tmp_path, {"redis_url": "redis://:pw@h:1/0", "ssl": True})
    assert url(upgraded) == "rediss://:pw@h:1/0"
    nodes = load(tmp_path, {"startup_nodes": [["n1", 7000]], "ssl": True, "redis_password": "pw"})
    assert url(nodes) == "rediss://:pw@n1:7000/0"
    sentinel = load(tmp_path, {"sentinel_nodes": [["s", 1]], "service_name": "m", "ssl": True})
    assert url(sentinel) == "rediss://m/0"  # the sentinels and the primary alike
    plain = load(tmp_path, {"redis_host": "h", "redis_ssl": False})
    assert url(plain) == "redis://h:6379/0"


@pytest.mark.parametrize(
    ("given", "mode"),
    [("required", "required"), ("optional", "optional"), ("none", "none"), ("None", "none")],
)
def test_certificate_checks_by_name(tmp_path: Path, given: str, mode: str) -> None:
    settings = load(tmp_path, {"redis_url": "rediss://h:1/0", "ssl_cert_reqs": given})
    assert settings.redis.ssl_cert_reqs == mode
    assert settings.redis.ssl_ca_certs is None  # the system's CAs


@pytest.mark.parametrize(
    ("router", "key", "reason"),
    [
        (
            {"redis_host": "h", "redis_username": "a b"},
            "router_settings.redis_username",
            "must not contain spaces (a Redis ACL user name cannot)",
        ),
        (
            {"redis_url": "redis://u:pw@h:1/0", "username": "app"},
            "router_settings.username",
            "redis_url names a user already",
        ),
        (
            {"redis_username": "app"},
            "router_settings.redis_username",
            "needs redis_url, redis_host, startup or sentinel nodes",
        ),
        (
            {"redis_username": "app", "username": "app", "redis_host": "h"},
            "router_settings.username",
            "give redis_username or username, not both",
        ),
        (
            {"sentinel_username": "watcher"},
            "router_settings.sentinel_username",
            "needs redis_sentinel_nodes",
        ),
        (
            {"sentinel_nodes": [["s", 1]], "service_name": "m", "sentinel_username": "a\tb"},
            "router_settings.sentinel_username",
            "must not contain spaces (a Redis ACL user name cannot)",
        ),
        (
            {"redis_ssl": True},
            "router_settings.redis_ssl",
            "needs redis_url, redis_host, startup or sentinel nodes",
        ),
        (
            {"redis_host": "h", "ssl": "yes please"},
            "router_settings.ssl",
            "must be true or false, got 'yes please'",
        ),
        (
            {"redis_url": "rediss://h:1/0", "redis_ssl": False},
            "router_settings.redis_ssl",
            "cannot be false with a rediss:// redis_url",
        ),
        (
            {"redis_url": "unix:///run/redis.sock", "ssl": True},
            "router_settings.ssl",
            "a unix:// redis_url has no TLS",
        ),
        (
            {"redis_host": "h", "redis_ssl": True, "ssl": True},
            "router_settings.ssl",
            "give redis_ssl or ssl, not both",
        ),
        (
            {"redis_host": "h", "ssl_cert_reqs": "none"},
            "router_settings.ssl_cert_reqs",
            "needs redis_ssl: true (or a rediss:// redis_url)",
        ),
        (
            {"redis_host": "h", "ssl": False, "redis_ssl_ca_certs": "{ca}"},
            "router_settings.redis_ssl_ca_certs",
            "needs ssl: true (or a rediss:// redis_url)",
        ),
        (
            {"redis_url": "rediss://h:1/0", "redis_ssl_cert_reqs": "maybe"},
            "router_settings.redis_ssl_cert_reqs",
            "must be 'required', 'optional' or 'none', got 'maybe'",
        ),
        (
            {"redis_url": "rediss://h:1/0", "ssl_ca_certs": "/nonexistent/ca.pem"},
            "router_settings.ssl_ca_certs",
            "cannot read /nonexistent/ca.pem: No such file or directory",
        ),
        (
            {"redis_url": "rediss://h:1/0", "redis_ssl_ca_certs": "{dir}"},
            "router_settings.redis_ssl_ca_certs",
            "cannot read {dir}: Is a directory",
        ),
        (
            {"redis_url": "rediss://h:1/0", "ssl_ca_certs": "{ca}", "redis_ssl_ca_certs": "{ca}"},
            "router_settings.ssl_ca_certs",
            "give redis_ssl_ca_certs or ssl_ca_certs, not both",
        ),
        (
            {"redis_url": "rediss://h:1/0", "ssl_cert_reqs": "none", "redis_ssl_cert_reqs": "none"},
            "router_settings.ssl_cert_reqs",
            "give redis_ssl_cert_reqs or ssl_cert_reqs, not both",
        ),
    ],
)
def test_a_bad_acl_or_tls_key_names_itself_and_why(
    tmp_path: Path, ca_file: str, router: dict[str, Any], key: str, reason: str
) -> None:
    paths = {"ca": ca_file, "dir": str(tmp_path)}
    router = {
        name: value.format(**paths) if isinstance(value, str) else value
        for name, value in router.items()
    }
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, router)
    assert str(caught.value) == f"config error: {key}: {reason.format(**paths)}"


def test_tls_keys_tether_does_not_read_are_reported(tmp_path: Path) -> None:
    router = {"redis_url": "rediss://h:1/0", "ssl_certfile": "c.pem", "ssl_check_hostname": False}
    settings = load(tmp_path, router)
    assert settings.unknown_keys == (
        "router_settings.ssl_certfile",
        "router_settings.ssl_check_hostname",
    )
