"""Settings: built once at start-up from YAML (LiteLLM proxy shape) and the environment.

Nothing else in tether reads `os.environ`; the CLI passes the environment in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import yaml

from tether.errors import ConfigError

PROVIDERS = ("openai", "anthropic", "echo")
DEFAULT_DATABASE_URL = "sqlite:///./tether.db"
RESERVED_OWNERS = ("master", "anonymous")  # the owners of master-key and no-auth turns
_ENV_PREFIX = "os.environ/"


class Secret:
    """A value that never shows itself in logs or reprs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class ModelRoute:
    name: str  # what clients send as `model`
    provider: str  # openai | anthropic | echo
    upstream_model: str
    api_base: str | None = None
    api_key: Secret | None = None
    timeout_seconds: float = 600.0
    connect_timeout_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    key: Secret


@dataclass(frozen=True, slots=True)
class CacheSettings:
    ttl_seconds: int = 60
    max_responses_per_session: int = 50
    flush_interval_seconds: float = 10.0
    flush_batch_size: int = 500
    # How long another instance's unacknowledged writes wait before this one takes them
    # over (a dead instance); None: max(5 s, 3 x flush interval).
    claim_idle_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class RedisNode:
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class RedisTopology:
    """How `Settings.redis_url` is reached: one server, a Cluster, or a Sentinel-watched primary.

    Standalone: the URL is the server. Cluster: the URL is one node, and `nodes` are
    more startup nodes. Sentinel: `nodes` are the sentinels that name the primary of
    `service_name`; the URL carries only the primary's password and database (its host
    is the service name, as redis-rb writes it).
    """

    cluster: bool = False
    nodes: tuple[RedisNode, ...] = ()
    service_name: str | None = None  # set: Sentinel mode
    sentinel_password: Secret | None = None  # AUTH for the sentinels themselves

    @property
    def kind(self) -> Literal["standalone", "cluster", "sentinel"]:
        return "sentinel" if self.service_name else "cluster" if self.cluster else "standalone"


@dataclass(frozen=True, slots=True)
class Settings:
    models: tuple[ModelRoute, ...] = (ModelRoute("echo", "echo", "echo"),)
    redis_url: Secret | None = None  # set whenever Redis is configured, whatever the topology
    redis: RedisTopology = field(default_factory=RedisTopology)
    database_url: Secret = field(default_factory=lambda: Secret(DEFAULT_DATABASE_URL))
    master_key: Secret | None = None
    api_keys: tuple[ApiKey, ...] = ()
    cache: CacheSettings = field(default_factory=CacheSettings)
    max_body_bytes: int = 32 * 1024 * 1024
    body_timeout_seconds: float = 30.0
    log_json: bool = False
    metrics_multiprocess: bool = False  # PROMETHEUS_MULTIPROC_DIR is set (several workers)
    unknown_keys: tuple[str, ...] = ()

    @property
    def auth_enabled(self) -> bool:
        return self.master_key is not None or bool(self.api_keys)


# Redis topology keys, tether's name first and LiteLLM's (cache_params) second.
_REDIS_NODE_KEYS = ("redis_startup_nodes", "startup_nodes")
_REDIS_SENTINEL_KEYS = (
    "redis_sentinel_nodes",
    "sentinel_nodes",
    "redis_sentinel_service_name",
    "service_name",
    "redis_sentinel_password",
    "sentinel_password",
)

# The keys tether understands, per section; anything else is reported by name.
_KNOWN = {
    "": {"model_list", "router_settings", "general_settings", "session_cache", "server"},
    "model_list[]": {"model_name", "litellm_params", "params"},
    "params": {"model", "api_base", "api_key", "timeout", "connect_timeout"},
    "api_keys[]": {"name", "key"},
    "redis_node": {"host", "port"},
    "router_settings": {
        "redis_host",
        "redis_port",
        "redis_password",
        "redis_url",
        "redis_cluster",
        *_REDIS_NODE_KEYS,
        *_REDIS_SENTINEL_KEYS,
    },
    "general_settings": {"master_key", "database_url", "api_keys"},
    "session_cache": {
        "ttl_seconds",
        "max_responses_per_session",
        "flush_interval_seconds",
        "flush_batch_size",
        "claim_idle_seconds",
    },
    "server": {"max_body_bytes", "body_timeout_seconds", "log_format"},
}


class _Reader:
    """Resolves `os.environ/NAME` values and collects unknown keys as it reads."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.unknown: list[str] = []

    def section(self, raw: Any, key: str, known: str) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise ConfigError(key, "must be a mapping")
        self.unknown += [f"{key}.{k}".lstrip(".") for k in raw if k not in _KNOWN[known]]
        return raw

    def value(self, raw: Any, key: str) -> Any:
        if isinstance(raw, str) and raw.startswith(_ENV_PREFIX):
            name = raw[len(_ENV_PREFIX) :]
            if name not in self.environ:
                raise ConfigError(key, f"environment variable {name} is not set")
            return self.environ[name]
        return raw

    def text(self, section: dict[str, Any], name: str, key: str) -> str | None:
        raw = self.value(section.get(name), f"{key}.{name}")
        if raw is None:
            return None
        if not isinstance(raw, str | int):
            raise ConfigError(f"{key}.{name}", "must be a string")
        return str(raw)

    def whole(self, section: dict[str, Any], name: str, key: str, default: int) -> int:
        number = self.number(section, name, key, default)
        if number != int(number):
            raise ConfigError(f"{key}.{name}", f"must be a whole number, got {number}")
        return int(number)

    def number(self, section: dict[str, Any], name: str, key: str, default: float) -> float:
        raw = self.value(section.get(name), f"{key}.{name}")
        if raw is None:
            return default
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}.{name}", f"must be a number, got {raw!r}") from None
        if number <= 0:
            raise ConfigError(f"{key}.{name}", "must be greater than 0")
        return number


def load_settings(path: str | None, environ: Mapping[str, str]) -> Settings:
    """Settings from a YAML file (or none) and the environment; raises ConfigError."""
    raw: Any = {}
    if path:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError("--config", f"cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError("--config", f"{path} is not valid YAML: {exc}") from None
    reader = _Reader(environ)
    if not isinstance(raw, dict):
        raise ConfigError("--config", f"{path} must hold a mapping (model_list, ...)")
    top = reader.section(raw, "", "")
    general = reader.section(top.get("general_settings"), "general_settings", "general_settings")
    models = _models(reader, top.get("model_list"))
    master = reader.text(general, "master_key", "general_settings")
    master = master or environ.get("TETHER_MASTER_KEY")
    database = reader.text(general, "database_url", "general_settings")
    database = database or environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    _check_database_url(database)
    server = reader.section(top.get("server"), "server", "server")
    redis_url, redis = _redis(reader, top.get("router_settings"))
    return Settings(
        models=models,
        redis_url=redis_url,
        redis=redis,
        database_url=Secret(database),
        master_key=Secret(master) if master else None,
        api_keys=_api_keys(reader, general.get("api_keys")),
        cache=_cache(reader, top.get("session_cache")),
        max_body_bytes=reader.whole(server, "max_body_bytes", "server", 32 * 1024 * 1024),
        body_timeout_seconds=reader.number(server, "body_timeout_seconds", "server", 30.0),
        log_json=_log_format(reader, server) == "json",
        metrics_multiprocess=bool(environ.get("PROMETHEUS_MULTIPROC_DIR")),
        unknown_keys=tuple(reader.unknown),
    )


def _models(reader: _Reader, raw: Any) -> tuple[ModelRoute, ...]:
    if raw is None:
        return Settings().models
    if not isinstance(raw, list) or not raw:
        raise ConfigError("model_list", "must be a non-empty list")
    routes = [_model(reader, entry, f"model_list[{i}]") for i, entry in enumerate(raw)]
    seen: set[str] = set()
    for i, route in enumerate(routes):
        if route.name in seen:
            raise ConfigError(f"model_list[{i}].model_name", f"'{route.name}' is listed twice")
        seen.add(route.name)
    return tuple(routes)


def _model(reader: _Reader, raw: Any, key: str) -> ModelRoute:
    entry = reader.section(raw, key, "model_list[]")
    name = reader.text(entry, "model_name", key)
    if not name:
        raise ConfigError(f"{key}.model_name", "is required")
    params_key = "litellm_params" if "litellm_params" in entry else "params"
    params = reader.section(entry.get(params_key), f"{key}.{params_key}", "params")
    target = reader.text(params, "model", f"{key}.{params_key}") or ""
    provider, _, upstream = target.partition("/")
    if provider not in PROVIDERS or not upstream:
        raise ConfigError(
            f"{key}.{params_key}.model",
            f"'{target}' must be <provider>/<model> with provider one of {', '.join(PROVIDERS)}",
        )
    api_key = reader.text(params, "api_key", f"{key}.{params_key}")
    return ModelRoute(
        name=name,
        provider=provider,
        upstream_model=upstream,
        api_base=reader.text(params, "api_base", f"{key}.{params_key}"),
        api_key=Secret(api_key) if api_key else None,
        timeout_seconds=reader.number(params, "timeout", f"{key}.{params_key}", 600.0),
        connect_timeout_seconds=reader.number(
            params, "connect_timeout", f"{key}.{params_key}", 5.0
        ),
    )


def _redis(reader: _Reader, raw: Any) -> tuple[Secret | None, RedisTopology]:
    """The Redis URL (None: no Redis) and how it is reached: one server, Cluster, Sentinel."""
    router = reader.section(raw, "router_settings", "router_settings")
    cluster = _flag(reader, router, "redis_cluster")
    sentinels, sentinels_key = _nodes(reader, router, "redis_sentinel_nodes", "sentinel_nodes")
    if sentinels:
        return _sentinel(reader, router, sentinels, sentinels_key, cluster)
    for name in _REDIS_SENTINEL_KEYS:
        if router.get(name) is not None:
            raise ConfigError(f"router_settings.{name}", "needs redis_sentinel_nodes")
    startup, startup_key = _nodes(reader, router, "redis_startup_nodes", "startup_nodes")
    if startup:
        _exclusive(router, startup_key, ("redis_url", "redis_host"))
        if cluster is False:
            raise ConfigError(
                "router_settings.redis_cluster", f"cannot be false with {startup_key}"
            )
        first = startup[0]
        node = _node_url(first.host, str(first.port), _password(reader, router))
        return Secret(node), RedisTopology(cluster=True, nodes=startup)
    url = _redis_url(reader, router)
    if cluster and url is None:
        raise ConfigError("router_settings.redis_cluster", "needs redis_url or redis_host")
    if cluster and url is not None:
        _check_cluster_url(url.reveal())
    return url, RedisTopology(cluster=bool(cluster))


def _redis_url(reader: _Reader, router: dict[str, Any]) -> Secret | None:
    url = reader.text(router, "redis_url", "router_settings")
    host = reader.text(router, "redis_host", "router_settings")
    env = reader.environ
    if not url and not host:
        url, host = env.get("REDIS_URL"), env.get("REDIS_HOST")
        router = {"redis_port": env.get("REDIS_PORT"), "redis_password": env.get("REDIS_PASSWORD")}
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("router_settings.redis_url", "must start with redis:// or rediss://")
        return Secret(url)
    if not host:
        return None
    port = reader.text(router, "redis_port", "router_settings") or "6379"
    if not port.isdigit():
        raise ConfigError("router_settings.redis_port", f"must be a port number, got {port!r}")
    return Secret(_node_url(host, port, reader.text(router, "redis_password", "router_settings")))


def _sentinel(
    reader: _Reader,
    router: dict[str, Any],
    sentinels: tuple[RedisNode, ...],
    key: str,
    cluster: bool | None,
) -> tuple[Secret, RedisTopology]:
    _exclusive(router, key, ("redis_url", "redis_host", *_REDIS_NODE_KEYS))
    if cluster:
        raise ConfigError("router_settings.redis_cluster", f"cannot be combined with {key}")
    service = _one_of(reader, router, "redis_sentinel_service_name", "service_name")
    if not service:
        raise ConfigError("router_settings.redis_sentinel_service_name", f"is required with {key}")
    sentinel_password = _one_of(reader, router, "redis_sentinel_password", "sentinel_password")
    password = _password(reader, router)
    auth = f":{quote(password, safe='')}@" if password else ""
    topology = RedisTopology(
        nodes=sentinels,
        service_name=service,
        sentinel_password=Secret(sentinel_password) if sentinel_password else None,
    )
    return Secret(f"redis://{auth}{quote(service, safe='')}/0"), topology


def _nodes(
    reader: _Reader, router: dict[str, Any], name: str, alias: str
) -> tuple[tuple[RedisNode, ...], str]:
    """A list of `{host, port}` or `[host, port]` under `name` or its LiteLLM `alias`."""
    if router.get(name) is not None and router.get(alias) is not None:
        raise ConfigError(f"router_settings.{alias}", f"give {name} or {alias}, not both")
    used = alias if router.get(alias) is not None else name
    key = f"router_settings.{used}"
    raw = reader.value(router.get(used), key)
    if raw is None:
        return (), used
    if not isinstance(raw, list) or not raw:
        raise ConfigError(key, "must be a non-empty list of {host, port}")
    return tuple(_node(reader, entry, f"{key}[{i}]") for i, entry in enumerate(raw)), used


def _node(reader: _Reader, raw: Any, key: str) -> RedisNode:
    if isinstance(raw, dict):
        entry = reader.section(raw, key, "redis_node")
        host, port = entry.get("host"), entry.get("port")
    elif isinstance(raw, list) and len(raw) == 2:
        host, port = raw
    else:
        raise ConfigError(key, "must be {host, port} or [host, port]")
    host, port = reader.value(host, f"{key}.host"), reader.value(port, f"{key}.port")
    if not isinstance(host, str) or not host:
        raise ConfigError(f"{key}.host", "must be a host name or address")
    if not str(port).isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{key}.port", f"must be a port number, got {port!r}")
    return RedisNode(host, int(port))


def _flag(reader: _Reader, router: dict[str, Any], name: str) -> bool | None:
    raw = reader.value(router.get(name), f"router_settings.{name}")
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ConfigError(f"router_settings.{name}", f"must be true or false, got {raw!r}")


def _one_of(reader: _Reader, router: dict[str, Any], name: str, alias: str) -> str | None:
    if router.get(name) is not None and router.get(alias) is not None:
        raise ConfigError(f"router_settings.{alias}", f"give {name} or {alias}, not both")
    return reader.text(router, name, "router_settings") or reader.text(
        router, alias, "router_settings"
    )


def _exclusive(router: dict[str, Any], key: str, others: tuple[str, ...]) -> None:
    for other in others:
        if other != key and router.get(other) is not None:
            raise ConfigError(f"router_settings.{other}", f"cannot be combined with {key}")


def _password(reader: _Reader, router: dict[str, Any]) -> str | None:
    password = reader.text(router, "redis_password", "router_settings")
    return password or reader.environ.get("REDIS_PASSWORD")


def _node_url(host: str, port: str, password: str | None) -> str:
    auth = f":{quote(password, safe='')}@" if password else ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    return f"redis://{auth}{host}:{port}/0"


def _check_cluster_url(url: str) -> None:
    if url.startswith("unix://"):
        raise ConfigError("router_settings.redis_url", "a Redis Cluster is reached over TCP")
    if urlsplit(url).path not in ("", "/", "/0"):
        raise ConfigError("router_settings.redis_url", "a Redis Cluster has only database 0")


def _log_format(reader: _Reader, server: dict[str, Any]) -> str:
    value = reader.text(server, "log_format", "server") or "text"
    if value not in ("text", "json"):
        raise ConfigError("server.log_format", f"must be text or json, got {value!r}")
    return value


def _check_database_url(url: str) -> None:
    if not url.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://", "sqlite://")):
        raise ConfigError(
            "general_settings.database_url", "must be a postgresql:// or sqlite:/// URL"
        )


def _api_keys(reader: _Reader, raw: Any) -> tuple[ApiKey, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError("general_settings.api_keys", "must be a list of {name, key}")
    keys: list[ApiKey] = []
    for i, raw_entry in enumerate(raw):
        key = f"general_settings.api_keys[{i}]"
        if not isinstance(raw_entry, dict):
            raise ConfigError(key, "must be a mapping with name and key")
        entry = reader.section(raw_entry, key, "api_keys[]")
        name, value = reader.text(entry, "name", key), reader.text(entry, "key", key)
        if not name or not value:
            raise ConfigError(key, "needs both name and key")
        # A key's name owns its turns: it must be unique and not a built-in owner.
        if name in RESERVED_OWNERS or any(k.name == name for k in keys):
            raise ConfigError(f"{key}.name", f"'{name}' is reserved or used twice")
        keys.append(ApiKey(name, Secret(value)))
    return tuple(keys)


def _cache(reader: _Reader, raw: Any) -> CacheSettings:
    section = reader.section(raw, "session_cache", "session_cache")
    defaults = CacheSettings()

    def whole(name: str, default: int) -> int:
        return reader.whole(section, name, "session_cache", default)

    return CacheSettings(
        ttl_seconds=whole("ttl_seconds", defaults.ttl_seconds),
        max_responses_per_session=whole(
            "max_responses_per_session", defaults.max_responses_per_session
        ),
        flush_interval_seconds=reader.number(
            section, "flush_interval_seconds", "session_cache", defaults.flush_interval_seconds
        ),
        flush_batch_size=whole("flush_batch_size", defaults.flush_batch_size),
        claim_idle_seconds=reader.number(section, "claim_idle_seconds", "session_cache", 0.0)
        or None,
    )
