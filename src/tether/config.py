"""Settings: LiteLLM-shaped YAML plus the environment, checked once at start-up.

Each YAML section is a frozen pydantic model, its defaults and bounds on its fields. What
the rest of tether reads is those models: a section as it is (session_cache, a Redis node,
a tenant key), or `Settings` and `ModelRoute`, which extend theirs with what is derived.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args
from urllib.parse import quote, urlsplit, urlunsplit

import yaml
from pydantic import (
    AfterValidator,
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
from tether.sealing import decode_key

PROVIDERS = ("openai", "anthropic", "echo")
DEFAULT_DATABASE_URL = "sqlite:///./tether.db"
RESERVED_OWNERS = ("master", "anonymous")  # the owners of master-key and no-auth turns
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # set when several workers share metrics
_ENV_PREFIX = "os.environ/"

_Count = Annotated[int, Field(gt=0)]  # whole: 0.5 is refused
_Positive = Annotated[float, Field(gt=0)]
_Port = Annotated[int, Field(gt=0, lt=65536)]


def _sealing_key(key: SecretStr) -> SecretStr:
    decode_key(key.get_secret_value())  # its ValueError names what a key must be
    return key


_SealingKey = Annotated[SecretStr, AfterValidator(_sealing_key)]


class _Section(BaseModel):
    """A YAML mapping; keys tether does not read are kept, to be reported rather than refused."""

    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)

    @classmethod
    def spellings(cls, name: str) -> list[str]:
        """The keys the file may use for field `name`: tether's, then LiteLLM's."""
        alias = cls.model_fields[name].validation_alias
        if isinstance(alias, AliasChoices):
            return [str(choice) for choice in alias.choices]
        return [alias if isinstance(alias, str) else name]

    def spelled(self, name: str) -> str:
        return self.spellings(name)[0]


class _Spelled(_Section):
    """A section with two spellings of some keys: it remembers which the file used."""

    _keys: frozenset[str] = PrivateAttr(frozenset())

    @model_validator(mode="wrap")
    @classmethod
    def _keep_keys(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        section = handler(data)
        section._keys = frozenset(data) if isinstance(data, dict) else frozenset()
        return section

    def given(self, name: str) -> list[str]:
        """The keys the file used for field `name`: tether's, LiteLLM's, both or none."""
        return [key for key in self.spellings(name) if key in self._keys]

    def spelled(self, name: str) -> str:
        return (self.given(name) or self.spellings(name))[0]


def _either(tether: str, litellm: str) -> Any:
    return Field(None, validation_alias=AliasChoices(tether, litellm))


class _Params(_Section):
    """A model_list entry's litellm_params (or params)."""

    model: str  # <provider>/<upstream model>
    api_base: str | None = None
    api_key: SecretStr | None = None
    timeout_seconds: _Positive = Field(600.0, validation_alias="timeout")
    connect_timeout_seconds: _Positive = Field(5.0, validation_alias="connect_timeout")
    compaction_prompt: str | None = None  # /responses/compact's instructions (docs/compaction.md)

    @field_validator("model")
    @classmethod
    def _provider_model(cls, value: str) -> str:
        provider, _, upstream = value.partition("/")
        if provider not in PROVIDERS or not upstream:
            choices = ", ".join(PROVIDERS)
            raise ValueError(f"'{value}' must be <provider>/<model> with provider one of {choices}")
        return value

    @property
    def provider(self) -> str:  # openai | anthropic | echo
        return self.model.partition("/")[0]

    @property
    def upstream_model(self) -> str:
        return self.model.partition("/")[2]


class ModelRoute(_Params):
    """A model tether serves: an entry's params under the entry's model_name."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True)  # built in code, by name
    name: str  # what clients send as `model`


_EMBEDDED = ModelRoute(name="echo", model="echo/echo")  # with no model_list: no network


class _Entry(_Spelled):
    model_name: str
    params: _Params = Field(validation_alias=AliasChoices("litellm_params", "params"))


class ApiKey(_Section):
    """A tenant's key; its name owns the turns made with it."""

    name: str
    key: SecretStr

    @model_validator(mode="before")
    @classmethod
    def _both(cls, data: Any) -> Any:
        if isinstance(data, dict) and not {"name", "key"} <= data.keys():
            raise ValueError("needs both name and key")
        return data


class CacheSettings(_Section):
    """session_cache."""

    ttl_seconds: _Count = 60
    max_responses_per_session: _Count = 50
    flush_interval_seconds: _Positive = 10.0
    flush_batch_size: _Count = 500
    # How long another instance's unacknowledged writes wait before this one takes them
    # over (a dead instance); None: max(5 s, 3 x flush interval).
    claim_idle_seconds: _Positive | None = None


class RedisNode(_Section):
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


CertReqs = Literal["required", "optional", "none"]  # how much of a server's certificate is checked


class RedisTopology(BaseModel):
    """How `Settings.redis_url` is reached: one server, a Cluster, or a Sentinel-watched primary.

    Standalone: the URL is the server. Cluster: the URL is one node, and `nodes` are
    more startup nodes. Sentinel: `nodes` are the sentinels that name the primary of
    `service_name`; the URL carries only the primary's user, password and database (its
    host is the service name, as redis-rb writes it). In every topology the URL's scheme
    says whether each node (and each sentinel) is reached over TLS: `rediss://`; its user
    and password are every data node's.
    """

    model_config = ConfigDict(frozen=True)
    cluster: bool = False
    nodes: tuple[RedisNode, ...] = ()
    service_name: str | None = None  # set: Sentinel mode
    sentinel_username: str | None = None  # AUTH for the sentinels themselves
    sentinel_password: SecretStr | None = None
    ssl_ca_certs: str | None = None  # TLS: the CA file to trust; None: the system's
    ssl_cert_reqs: CertReqs = "required"

    @property
    def kind(self) -> Literal["standalone", "cluster", "sentinel"]:
        return "sentinel" if self.service_name else "cluster" if self.cluster else "standalone"


_Nodes = Annotated[list[RedisNode], Field(min_length=1)]


class _Router(_Spelled):
    redis_url: SecretStr | None = None
    redis_host: str | None = None
    redis_port: _Port = 6379
    redis_username: str | None = _either("redis_username", "username")
    redis_password: SecretStr | None = None
    redis_ssl: bool | None = _either("redis_ssl", "ssl")
    redis_ssl_ca_certs: str | None = _either("redis_ssl_ca_certs", "ssl_ca_certs")
    redis_ssl_cert_reqs: CertReqs | None = _either("redis_ssl_cert_reqs", "ssl_cert_reqs")
    redis_cluster: bool | None = None
    redis_startup_nodes: _Nodes | None = _either("redis_startup_nodes", "startup_nodes")
    redis_sentinel_nodes: _Nodes | None = _either("redis_sentinel_nodes", "sentinel_nodes")
    redis_sentinel_service_name: str | None = _either("redis_sentinel_service_name", "service_name")
    redis_sentinel_username: str | None = _either("redis_sentinel_username", "sentinel_username")
    redis_sentinel_password: SecretStr | None = _either(
        "redis_sentinel_password", "sentinel_password"
    )

    @field_validator("redis_url")
    @classmethod
    def _scheme(cls, url: SecretStr) -> SecretStr:
        if not url.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis:// or rediss://")
        return url

    @field_validator("redis_username", "redis_sentinel_username")
    @classmethod
    def _user(cls, name: str) -> str:
        if any(char.isspace() for char in name):
            raise ValueError("must not contain spaces (a Redis ACL user name cannot)")
        return name

    @field_validator("redis_ssl_ca_certs")
    @classmethod
    def _readable(cls, path: str) -> str:
        try:
            Path(path).open("rb").close()  # read at the first connection: fail at start-up
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror}") from None
        return path

    @field_validator("redis_ssl_cert_reqs", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value  # "None", "REQUIRED"

    def refuse(self, name: str, reason: str) -> ConfigError:
        return ConfigError(f"router_settings.{self.spelled(name)}", reason)


class _General(_Section):
    master_key: SecretStr | None = None
    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    api_keys: tuple[ApiKey, ...] = ()
    encryption_keys: tuple[_SealingKey, ...] = ()  # compaction items: the first seals, all open

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _key_list(cls, value: Any) -> Any:
        """TETHER_ENCRYPTION_KEYS (or one os.environ/NAME) holds the list, comma-separated."""
        return (
            [k.strip() for k in value.split(",") if k.strip()] if isinstance(value, str) else value
        )

    @field_validator("database_url")
    @classmethod
    def _database(cls, url: SecretStr) -> SecretStr:
        schemes = ("postgresql://", "postgres://", "postgresql+asyncpg://", "sqlite://")
        if not url.get_secret_value().startswith(schemes):
            raise ValueError("must be a postgresql:// or sqlite:/// URL")
        return url


class _Server(_Section):
    max_body_bytes: _Count = 32 * 1024 * 1024
    body_timeout_seconds: _Positive = 30.0
    log_format: Literal["text", "json"] = "text"


class Settings(_General, _Server):
    """What the rest of tether reads: general_settings and server, and what is derived."""

    model_config = ConfigDict(extra="forbid")  # built in code: a misspelt field is an error
    models: tuple[ModelRoute, ...] = (_EMBEDDED,)
    redis_url: SecretStr | None = None  # set whenever Redis is configured, whatever the topology
    redis: RedisTopology = RedisTopology()
    cache: CacheSettings = CacheSettings()
    metrics_multiprocess: bool = False  # MULTIPROC_ENV is set (several workers)
    unknown_keys: tuple[str, ...] = ()

    @property
    def auth_enabled(self) -> bool:
        return self.master_key is not None or bool(self.api_keys)

    @property
    def cache_backend(self) -> Literal["redis", "memory"]:
        return "redis" if self.redis_url is not None else "memory"

    @property
    def log_json(self) -> bool:
        return self.log_format == "json"


class _File(_Section):
    model_list: Annotated[list[_Entry], Field(min_length=1)] | None = None
    router_settings: _Router = _Router()
    general_settings: _General = _General()
    session_cache: CacheSettings = CacheSettings()
    server: _Server = _Server()


def config_keys(section: type[_Section] = _File, path: str = "") -> dict[str, set[str]]:
    """The keys tether reads, by section, in every spelling (docs/configuration.md has each)."""
    keys = {path: {key for name in section.model_fields for key in section.spellings(name)}}
    for name, field in section.model_fields.items():
        for inner in _sections(field.annotation):
            keys |= config_keys(inner, f"{path}.{section.spellings(name)[0]}".lstrip("."))
    return keys


def _sections(annotation: Any) -> Iterator[type[_Section]]:
    """The section models in a field's type: `list[_Entry] | None` holds _Entry."""
    if isinstance(annotation, type) and issubclass(annotation, _Section):
        yield annotation
    for arg in get_args(annotation):
        yield from _sections(arg)


class _Unset:
    """`os.environ/NAME` with NAME unset: an error only where tether reads the key."""

    def __init__(self, name: str) -> None:
        self.name = name


# Pydantic's error types in tether's words, by type or its first word; others keep pydantic's.
_REASONS = {
    "missing": "is required",
    "model_type": "must be a mapping",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
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
_SENTINEL = ("redis_sentinel_service_name", "redis_sentinel_username", "redis_sentinel_password")
# Variables that stand in for keys the file leaves out; REDIS_* only when it names no server.
_ENV_FALLBACKS = {
    "general_settings": {
        "master_key": "TETHER_MASTER_KEY",
        "database_url": "DATABASE_URL",
        "encryption_keys": "TETHER_ENCRYPTION_KEYS",
    },
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
    entries, general = file.model_list or [], file.general_settings
    _unique([entry.model_name for entry in entries], "model_list[{}].model_name")
    # A key's name owns its turns: it must be unique and not a built-in owner.
    names = [key.name for key in general.api_keys]
    _unique(names, "general_settings.api_keys[{}].name", reserved=RESERVED_OWNERS)
    routes = tuple(ModelRoute(name=e.model_name, **_fields(e.params)) for e in entries)
    redis_url, redis = _redis(file.router_settings, environ)
    return Settings(
        **_fields(general),
        **_fields(file.server),
        models=routes or (_EMBEDDED,),
        redis_url=redis_url,
        redis=redis,
        cache=file.session_cache,
        metrics_multiprocess=bool(environ.get(MULTIPROC_ENV)),
        unknown_keys=tuple(_unknown(file, "")),
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


def _fields(section: _Section) -> dict[str, Any]:
    """A section's values by field name, without the keys tether does not read."""
    return {name: getattr(section, name) for name in type(section).model_fields}


def _unique(names: list[str], key: str, reserved: tuple[str, ...] = ()) -> None:
    for i, name in enumerate(names):
        if name in reserved or name in names[:i]:
            reason = "is reserved" if name in reserved else "is listed twice"
            raise ConfigError(key.format(i), f"'{name}' {reason}")


def _unknown(value: object, path: str) -> Iterator[str]:
    """The keys tether does not read, by dotted path as the file spells them."""
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _unknown(item, f"{path}[{i}]")
    elif isinstance(value, _Section):
        yield from (f"{path}.{key}".lstrip(".") for key in value.model_extra or {})
        for name in type(value).model_fields:
            yield from _unknown(getattr(value, name), f"{path}.{value.spelled(name)}".lstrip("."))


def _redis(router: _Router, environ: Mapping[str, str]) -> tuple[SecretStr | None, RedisTopology]:
    """The Redis URL (None: no Redis) and how it is reached: one server, Cluster, Sentinel."""

    def alone(nodes: str, *others: str) -> str:
        for other in others:
            if getattr(router, other):  # redis_cluster: false is no conflict
                raise router.refuse(other, f"cannot be combined with {router.spelled(nodes)}")
        return router.spelled(nodes)

    for name in _Router.model_fields:
        if len(both := router.given(name)) > 1:
            raise ConfigError(
                f"router_settings.{both[1]}", f"give {both[0]} or {both[1]}, not both"
            )
    # Nodes take REDIS_PASSWORD too (a file's redis_host takes only the file's password).
    env_password = environ.get("REDIS_PASSWORD")
    password = router.redis_password or (SecretStr(env_password) if env_password else None)
    scheme, user = _scheme(router), router.redis_username
    given = {"ssl_ca_certs": router.redis_ssl_ca_certs, "ssl_cert_reqs": router.redis_ssl_cert_reqs}
    tls = {key: value for key, value in given.items() if value is not None}  # else defaults
    if sentinels := router.redis_sentinel_nodes:
        nodes = alone("redis_sentinel_nodes", *_SERVER, "redis_startup_nodes", "redis_cluster")
        if not (service := router.redis_sentinel_service_name):
            raise router.refuse("redis_sentinel_service_name", f"is required with {nodes}")
        topology = RedisTopology(
            nodes=tuple(sentinels),
            service_name=service,
            sentinel_username=router.redis_sentinel_username,
            sentinel_password=router.redis_sentinel_password,
            **tls,
        )
        return SecretStr(f"{scheme}://{_auth(user, password)}{quote(service, safe='')}/0"), topology
    for name in _SENTINEL:
        if getattr(router, name) is not None:
            raise router.refuse(name, "needs redis_sentinel_nodes")
    if startup := router.redis_startup_nodes:
        nodes = alone("redis_startup_nodes", *_SERVER)
        if router.redis_cluster is False:
            raise router.refuse("redis_cluster", f"cannot be false with {nodes}")
        first = _node_url(scheme, startup[0], user, password)
        return SecretStr(first), RedisTopology(cluster=True, nodes=tuple(startup), **tls)
    return _one_url(router, scheme), RedisTopology(cluster=bool(router.redis_cluster), **tls)


def _one_url(router: _Router, scheme: str) -> SecretStr | None:
    """redis_url or redis_host: one server, or a Cluster entered through one node."""
    url, user = router.redis_url, router.redis_username
    if url is not None:
        url = _with_user(url, scheme, user, router)
    elif router.redis_host:
        host = RedisNode(host=router.redis_host, port=router.redis_port)
        url = SecretStr(_node_url(scheme, host, user, router.redis_password))
    for name in ("redis_username", "redis_ssl"):
        if url is None and getattr(router, name):
            raise router.refuse(name, "needs redis_url, redis_host, startup or sentinel nodes")
    if router.redis_cluster:
        if url is None:
            raise router.refuse("redis_cluster", "needs redis_url or redis_host")
        if url.get_secret_value().startswith("unix://"):
            raise router.refuse("redis_url", "a Redis Cluster is reached over TCP")
        if urlsplit(url.get_secret_value()).path not in ("", "/", "/0"):
            raise router.refuse("redis_url", "a Redis Cluster has only database 0")
    return url


def _scheme(router: _Router) -> Literal["redis", "rediss"]:
    """rediss (TLS to every node and sentinel): redis_ssl, or a rediss:// redis_url."""
    given = router.redis_url.get_secret_value() if router.redis_url else ""
    if router.redis_ssl is False and given.startswith("rediss://"):
        raise router.refuse("redis_ssl", "cannot be false with a rediss:// redis_url")
    if router.redis_ssl and given.startswith("unix://"):
        raise router.refuse("redis_ssl", "a unix:// redis_url has no TLS")
    tls = bool(router.redis_ssl) or given.startswith("rediss://")
    for name in ("redis_ssl_ca_certs", "redis_ssl_cert_reqs"):
        if getattr(router, name) is not None and not tls:
            ssl = router.spelled("redis_ssl")
            raise router.refuse(name, f"needs {ssl}: true (or a rediss:// redis_url)")
    return "rediss" if tls else "redis"


def _with_user(url: SecretStr, scheme: str, user: str | None, router: _Router) -> SecretStr:
    """redis_url with redis_ssl's scheme and redis_username's user, where they are given."""
    parts = urlsplit(url.get_secret_value())
    userinfo, _, address = parts.netloc.rpartition("@")
    if user and userinfo.partition(":")[0]:
        raise router.refuse("redis_username", "redis_url names a user already")
    rescheme = scheme if parts.scheme == "redis" else parts.scheme  # rediss:// stays
    if not user and rescheme == parts.scheme:
        return url  # as given (a unix:// URL would not survive the round trip)
    netloc = f"{quote(user, safe='')}{userinfo}@{address}" if user else parts.netloc
    return SecretStr(urlunsplit(parts._replace(scheme=rescheme, netloc=netloc)))


def _auth(user: str | None, password: SecretStr | None) -> str:
    secret = f":{quote(password.get_secret_value(), safe='')}" if password else ""
    return f"{quote(user or '', safe='')}{secret}@" if user or secret else ""


def _node_url(scheme: str, node: RedisNode, user: str | None, password: SecretStr | None) -> str:
    host = f"[{node.host}]" if ":" in node.host else node.host  # an IPv6 address
    return f"{scheme}://{_auth(user, password)}{host}:{node.port}/0"
