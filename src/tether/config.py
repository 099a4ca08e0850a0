"""Settings: LiteLLM-shaped YAML plus the environment, checked once at start-up."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import quote, urlsplit

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from tether.errors import ConfigError

PROVIDERS = ("openai", "anthropic", "echo")
DEFAULT_DATABASE_URL = "sqlite:///./tether.db"
RESERVED_OWNERS = ("master", "anonymous")  # the owners of master-key and no-auth turns
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # set when several workers share metrics
_ENV_PREFIX = "os.environ/"

# --- what the rest of tether reads; each default is written once, here ----------------------


@dataclass(frozen=True, slots=True)
class ModelRoute:
    name: str  # what clients send as `model`
    provider: str  # openai | anthropic | echo
    upstream_model: str
    api_base: str | None = None
    api_key: SecretStr | None = None
    timeout_seconds: float = 600.0
    connect_timeout_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    key: SecretStr


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
    sentinel_password: SecretStr | None = None  # AUTH for the sentinels themselves

    @property
    def kind(self) -> Literal["standalone", "cluster", "sentinel"]:
        return "sentinel" if self.service_name else "cluster" if self.cluster else "standalone"


@dataclass(frozen=True, slots=True)
class Settings:
    models: tuple[ModelRoute, ...] = (ModelRoute("echo", "echo", "echo"),)
    redis_url: SecretStr | None = None  # set whenever Redis is configured, whatever the topology
    redis: RedisTopology = field(default_factory=RedisTopology)
    database_url: SecretStr = field(default_factory=lambda: SecretStr(DEFAULT_DATABASE_URL))
    master_key: SecretStr | None = None
    api_keys: tuple[ApiKey, ...] = ()
    cache: CacheSettings = field(default_factory=CacheSettings)
    max_body_bytes: int = 32 * 1024 * 1024
    body_timeout_seconds: float = 30.0
    log_json: bool = False
    metrics_multiprocess: bool = False  # MULTIPROC_ENV is set (several workers)
    unknown_keys: tuple[str, ...] = ()

    @property
    def auth_enabled(self) -> bool:
        return self.master_key is not None or bool(self.api_keys)

    @property
    def cache_backend(self) -> Literal["redis", "memory"]:
        return "redis" if self.redis_url is not None else "memory"


# --- the file as written: a field left None is not given, and the default above applies ---

_Count = Annotated[int, Field(gt=0)]  # whole: 0.5 is refused
_Positive = Annotated[float, Field(gt=0)]
_Port = Annotated[int, Field(gt=0, lt=65536)]


class _Section(BaseModel):
    """A YAML mapping; keys tether does not read are kept, to be reported rather than refused."""

    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)
    _keys: frozenset[str] = PrivateAttr(frozenset())  # as the file spells them

    @model_validator(mode="wrap")
    @classmethod
    def _keep_keys(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        section = handler(data)
        section._keys = frozenset(data) if isinstance(data, dict) else frozenset()
        return section

    @classmethod
    def spellings(cls, name: str) -> list[str]:
        alias = cls.model_fields[name].validation_alias
        return [str(a) for a in alias.choices] if isinstance(alias, AliasChoices) else [name]

    def given(self, name: str) -> list[str]:
        """The keys the file used for field `name`: tether's, LiteLLM's, both or none."""
        return [key for key in self.spellings(name) if key in self._keys]

    def spelled(self, name: str) -> str:
        return (self.given(name) or self.spellings(name))[0]


def _either(tether: str, litellm: str) -> Any:
    return Field(None, validation_alias=AliasChoices(tether, litellm))


class _Params(_Section):
    model: str  # <provider>/<upstream model>
    api_base: str | None = None
    api_key: SecretStr | None = None
    timeout: _Positive | None = None
    connect_timeout: _Positive | None = None

    @field_validator("model")
    @classmethod
    def _provider_model(cls, value: str) -> str:
        provider, _, upstream = value.partition("/")
        if provider not in PROVIDERS or not upstream:
            choices = ", ".join(PROVIDERS)
            raise ValueError(f"'{value}' must be <provider>/<model> with provider one of {choices}")
        return value

    def route(self, name: str) -> ModelRoute:
        provider, _, upstream = self.model.partition("/")
        timeouts = _present(
            timeout_seconds=self.timeout, connect_timeout_seconds=self.connect_timeout
        )
        return ModelRoute(name, provider, upstream, self.api_base, self.api_key, **timeouts)


class _Entry(_Section):
    model_name: str
    params: _Params = Field(validation_alias=AliasChoices("litellm_params", "params"))


class _Key(_Section):
    name: str | None = None
    key: SecretStr | None = None


class _General(_Section):
    master_key: SecretStr | None = None
    database_url: SecretStr | None = None
    api_keys: list[_Key] = []

    @field_validator("database_url")
    @classmethod
    def _database(cls, url: SecretStr) -> SecretStr:
        schemes = ("postgresql://", "postgres://", "postgresql+asyncpg://", "sqlite://")
        if not url.get_secret_value().startswith(schemes):
            raise ValueError("must be a postgresql:// or sqlite:/// URL")
        return url


class _Node(_Section):
    host: str = Field(min_length=1)
    port: _Port

    @model_validator(mode="before")
    @classmethod
    def _pair(cls, data: Any) -> Any:
        if isinstance(data, list) and len(data) == 2:  # [host, port], as LiteLLM allows
            return dict(zip(("host", "port"), data, strict=True))
        if not isinstance(data, dict):
            raise ValueError("must be {host, port} or [host, port]")
        return data


_Nodes = Annotated[list[_Node], Field(min_length=1)]


class _Router(_Section):
    redis_url: SecretStr | None = None
    redis_host: str | None = None
    redis_port: _Port = 6379
    redis_password: SecretStr | None = None
    redis_cluster: bool | None = None
    redis_startup_nodes: _Nodes | None = _either("redis_startup_nodes", "startup_nodes")
    redis_sentinel_nodes: _Nodes | None = _either("redis_sentinel_nodes", "sentinel_nodes")
    redis_sentinel_service_name: str | None = _either("redis_sentinel_service_name", "service_name")
    redis_sentinel_password: SecretStr | None = _either(
        "redis_sentinel_password", "sentinel_password"
    )

    @field_validator("redis_url")
    @classmethod
    def _scheme(cls, url: SecretStr) -> SecretStr:
        if not url.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis:// or rediss://")
        return url


class _Cache(_Section):
    ttl_seconds: _Count | None = None
    max_responses_per_session: _Count | None = None
    flush_interval_seconds: _Positive | None = None
    flush_batch_size: _Count | None = None
    claim_idle_seconds: _Positive | None = None


class _Server(_Section):
    max_body_bytes: _Count | None = None
    body_timeout_seconds: _Positive | None = None
    log_format: Literal["text", "json"] = "text"


class _File(_Section):
    model_list: Annotated[list[_Entry], Field(min_length=1)] | None = None
    router_settings: _Router = _Router()
    general_settings: _General = _General()
    session_cache: _Cache = _Cache()
    server: _Server = _Server()


# The keys tether reads, per section, every spelling (the docs test checks each is described).
_KNOWN = {
    section: {key for name in model.model_fields for key in model.spellings(name)}
    for section, model in (
        ("", _File),
        ("model_list[]", _Entry),
        ("params", _Params),
        ("api_keys[]", _Key),
        ("redis_node", _Node),
        ("router_settings", _Router),
        ("general_settings", _General),
        ("session_cache", _Cache),
        ("server", _Server),
    )
}


class _Unset:
    """`os.environ/NAME` with NAME unset: an error only where tether reads the key."""

    def __init__(self, name: str) -> None:
        self.name = name


# Pydantic's error types in tether's words, by type or its first word; others keep pydantic's.
_REASONS = {
    "missing": "is required",
    "model_type": "must be a mapping",
    "list_type": "must be a list",
    "too_short": "must be a non-empty list",
    "string_type": "must be a string",
    "string_too_short": "must not be empty",
    "int_from_float": "must be a whole number, got {given!r}",
    "int": "must be a number, got {given!r}",
    "float": "must be a number, got {given!r}",
    "bool": "must be true or false, got {given!r}",
    "greater_than": "must be greater than {gt:g}, got {given!r}",
    "less_than": "must be less than {lt:g}, got {given!r}",
    "literal_error": "must be {expected}, got {given!r}",
}
_SERVER = ("redis_url", "redis_host")  # the keys that name one Redis server
# Variables that stand in for keys the file leaves out; REDIS_* only when it names no server.
_ENV_FALLBACKS = {
    "general_settings": {"master_key": "TETHER_MASTER_KEY", "database_url": "DATABASE_URL"},
    "router_settings": {
        f"redis_{k}": f"REDIS_{k.upper()}" for k in ("url", "host", "port", "password")
    },
}


def load_settings(path: str | None, environ: Mapping[str, str]) -> Settings:
    """Settings from a YAML file (or none) and `environ`; raises ConfigError.

    Nothing else in tether reads `os.environ`; the CLI passes the environment in.
    """
    raw: Any = {}
    if path:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError("--config", f"cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError("--config", f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError("--config", f"{path} must hold a mapping (model_list, ...)")
    try:
        file = _File.model_validate(_env_fallbacks(_resolve(raw, environ), environ))
    except ValidationError as exc:
        raise _error(exc.errors(include_url=False)[0]) from None
    redis_url, redis = _redis(file.router_settings, environ)
    general, server, cache = file.general_settings, file.server, file.session_cache
    settings = _present(  # None: not given, the default above holds
        models=_routes(file.model_list) if file.model_list else None,
        database_url=general.database_url,
        max_body_bytes=server.max_body_bytes,
        body_timeout_seconds=server.body_timeout_seconds,
    )
    return Settings(
        redis_url=redis_url,
        redis=redis,
        master_key=general.master_key,
        api_keys=_api_keys(general.api_keys),
        cache=CacheSettings(
            **_present(**{name: getattr(cache, name) for name in _Cache.model_fields})
        ),
        log_json=server.log_format == "json",
        metrics_multiprocess=bool(environ.get(MULTIPROC_ENV)),
        unknown_keys=tuple(_unknown(file, "")),
        **settings,
    )


def _resolve(node: Any, environ: Mapping[str, str]) -> Any:
    """`os.environ/NAME` replaced anywhere; null and empty values dropped (not given)."""
    if isinstance(node, dict):
        items = ((key, _resolve(value, environ)) for key, value in node.items())
        return {str(key): value for key, value in items if value is not None and value != ""}
    if isinstance(node, list):
        return [_resolve(item, environ) for item in node]
    if isinstance(node, str) and node.startswith(_ENV_PREFIX):
        name = node.removeprefix(_ENV_PREFIX)
        return environ[name] if name in environ else _Unset(name)
    return node


def _env_fallbacks(tree: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The file with the environment's fallbacks in it, to be checked by the file's rules."""
    tree = dict(tree)
    nodes = {*_Router.spellings("redis_startup_nodes"), *_Router.spellings("redis_sentinel_nodes")}
    for section, names in _ENV_FALLBACKS.items():
        given = tree.get(section, {})
        env = {key: environ[name] for key, name in names.items() if environ.get(name)}
        if not isinstance(given, dict):
            continue  # to be refused as it is
        if section == "router_settings" and (
            given.keys() & {*_SERVER, *nodes} or not env.keys() & {*_SERVER}
        ):
            continue
        tree[section] = env | given
    return tree


def _error(error: ErrorDetails) -> ConfigError:
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
    kind, given = error["type"], error["input"]
    if isinstance(given, _Unset) and kind != "missing":
        return ConfigError(key, f"environment variable {given.name} is not set")
    template = _REASONS.get(kind) or _REASONS.get(kind.partition("_")[0])
    if template is None:
        return ConfigError(key, error["msg"].removeprefix("Value error, "))
    return ConfigError(key, template.format(given=given, **error.get("ctx", {})))


def _present(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _unknown(value: object, path: str) -> Iterator[str]:
    """The keys tether does not read, by dotted path as the file spells them."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _unknown(item, f"{path}[{i}]")
    elif isinstance(value, _Section):
        yield from (f"{path}.{key}".lstrip(".") for key in value.model_extra or {})
        for name in type(value).model_fields:
            yield from _unknown(getattr(value, name), f"{path}.{value.spelled(name)}".lstrip("."))


def _routes(entries: list[_Entry]) -> tuple[ModelRoute, ...]:
    names = [entry.model_name for entry in entries]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"model_list[{i}].model_name", f"'{name}' is listed twice")
    return tuple(entry.params.route(entry.model_name) for entry in entries)


def _api_keys(entries: list[_Key]) -> tuple[ApiKey, ...]:
    keys: list[ApiKey] = []
    for i, entry in enumerate(entries):
        if not entry.name or not entry.key:
            raise ConfigError(f"general_settings.api_keys[{i}]", "needs both name and key")
        # A key's name owns its turns: it must be unique and not a built-in owner.
        if entry.name in RESERVED_OWNERS or any(key.name == entry.name for key in keys):
            reason = f"'{entry.name}' is reserved or used twice"
            raise ConfigError(f"general_settings.api_keys[{i}].name", reason)
        keys.append(ApiKey(entry.name, entry.key))
    return tuple(keys)


def _redis(router: _Router, environ: Mapping[str, str]) -> tuple[SecretStr | None, RedisTopology]:
    """The Redis URL (None: no Redis) and how it is reached: one server, Cluster, Sentinel."""

    def refuse(name: str, reason: str) -> ConfigError:
        return ConfigError(f"router_settings.{router.spelled(name)}", reason)

    def alone(nodes: str, *others: str) -> str:
        for other in others:
            if getattr(router, other):  # redis_cluster: false is no conflict
                raise refuse(other, f"cannot be combined with {router.spelled(nodes)}")
        return router.spelled(nodes)

    for name in _Router.model_fields:
        if len(both := router.given(name)) > 1:
            raise ConfigError(
                f"router_settings.{both[1]}", f"give {both[0]} or {both[1]}, not both"
            )
    # Nodes take REDIS_PASSWORD too (a file's redis_host takes only the file's password).
    password = router.redis_password or _secret(environ.get("REDIS_PASSWORD"))
    if sentinels := router.redis_sentinel_nodes:
        nodes = alone("redis_sentinel_nodes", *_SERVER, "redis_startup_nodes", "redis_cluster")
        if not (service := router.redis_sentinel_service_name):
            raise refuse("redis_sentinel_service_name", f"is required with {nodes}")
        secret = router.redis_sentinel_password
        topology = RedisTopology(
            nodes=_nodes(sentinels), service_name=service, sentinel_password=secret
        )
        return SecretStr(f"redis://{_auth(password)}{quote(service, safe='')}/0"), topology
    for name in ("redis_sentinel_service_name", "redis_sentinel_password"):
        if getattr(router, name) is not None:
            raise refuse(name, "needs redis_sentinel_nodes")
    if startup := router.redis_startup_nodes:
        nodes = alone("redis_startup_nodes", *_SERVER)
        if router.redis_cluster is False:
            raise refuse("redis_cluster", f"cannot be false with {nodes}")
        first = _node_url(startup[0].host, startup[0].port, password)
        return SecretStr(first), RedisTopology(cluster=True, nodes=_nodes(startup))
    url = router.redis_url
    if url is None and router.redis_host:
        url = SecretStr(_node_url(router.redis_host, router.redis_port, router.redis_password))
    if router.redis_cluster:
        if url is None:
            raise refuse("redis_cluster", "needs redis_url or redis_host")
        if url.get_secret_value().startswith("unix://"):
            raise refuse("redis_url", "a Redis Cluster is reached over TCP")
        if urlsplit(url.get_secret_value()).path not in ("", "/", "/0"):
            raise refuse("redis_url", "a Redis Cluster has only database 0")
    return url, RedisTopology(cluster=bool(router.redis_cluster))


def _nodes(nodes: list[_Node]) -> tuple[RedisNode, ...]:
    return tuple(RedisNode(node.host, node.port) for node in nodes)


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None


def _auth(password: SecretStr | None) -> str:
    return f":{quote(password.get_secret_value(), safe='')}@" if password else ""


def _node_url(host: str, port: int, password: SecretStr | None) -> str:
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    return f"redis://{_auth(password)}{host}:{port}/0"
