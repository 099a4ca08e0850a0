"""router_settings for a Redis Cluster or Sentinel: the shapes accepted, the errors named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

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
