"""load_settings: LiteLLM-shaped YAML plus the environment, and the errors a user sees."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from pydantic import SecretStr

from tether.config import DEFAULT_DATABASE_URL, Settings, load_settings
from tether.errors import ConfigError

ARCHITECTURE_EXAMPLE = """\
model_list:
  - model_name: claude                  # what clients send as `model`
    litellm_params:                     # LiteLLM's key; `params` also accepted
      model: anthropic/claude-sonnet-4-5   # provider/upstream model
      api_base: http://127.0.0.1:9001      # provider SDK convention (no /v1 for anthropic)
      api_key: os.environ/ANTHROPIC_API_KEY
  - model_name: local
    litellm_params:
      model: openai/qwen2.5-7b          # any OpenAI-compatible /chat/completions
      api_base: http://127.0.0.1:8000/v1   # OpenAI SDK convention (with /v1)
  - model_name: echo
    litellm_params: {model: echo/echo}  # built-in, deterministic, no network
router_settings:
  redis_host: os.environ/REDIS_HOST     # or redis_url
  redis_port: os.environ/REDIS_PORT
  redis_password: os.environ/REDIS_PASSWORD
general_settings:
  master_key: os.environ/TETHER_MASTER_KEY   # when set, every /v1 call needs a key
  database_url: os.environ/DATABASE_URL      # postgresql://... or sqlite:///path
  api_keys:                                  # tenant keys; each sees only its own responses
    - {name: alice, key: os.environ/ALICE_KEY}
session_cache:
  ttl_seconds: 60
  max_responses_per_session: 50
  flush_interval_seconds: 10            # durable batch writer period
"""
EXAMPLE_ENV = {
    "ANTHROPIC_API_KEY": "sk-ant-secret-value",
    "REDIS_HOST": "redis.internal",
    "REDIS_PORT": "6380",
    "REDIS_PASSWORD": "redis-secret-value",
    "TETHER_MASTER_KEY": "sk-master-secret-value",
    "DATABASE_URL": "postgresql://tether:db-secret-value@db.internal:5432/tether",
    "ALICE_KEY": "sk-alice-secret-value",
}
ECHO_ONLY = "model_list:\n  - {model_name: echo, litellm_params: {model: echo/echo}}\n"


Write = Callable[[str], str]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    def write(text: str) -> str:
        path = tmp_path / "tether.yaml"
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def load(path: str | None, environ: dict[str, str] | None = None) -> Settings:
    return load_settings(path, environ or {})


def config_error(path: str | None, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(path, environ)
    return caught.value


# --- defaults and the full example ------------------------------------------------------


def test_no_file_is_the_embedded_default() -> None:
    settings = load(None)

    [model] = settings.models
    assert (model.name, model.provider, model.upstream_model) == ("echo", "echo", "echo")
    assert (
        settings.database_url.get_secret_value() == DEFAULT_DATABASE_URL == "sqlite:///./tether.db"
    )
    assert settings.redis_url is None
    assert settings.master_key is None
    assert settings.auth_enabled is False
    assert settings.unknown_keys == ()
    assert settings.cache.ttl_seconds == 60
    assert settings.cache.max_responses_per_session == 50


def test_empty_file_is_the_embedded_default(write: Write) -> None:
    settings = load(write(""))

    assert settings.models == load(None).models
    assert settings.database_url.get_secret_value() == DEFAULT_DATABASE_URL
    assert settings.redis_url is None


def test_the_architecture_example_loads(write: Write) -> None:
    settings = load(write(ARCHITECTURE_EXAMPLE), EXAMPLE_ENV)

    claude, local, echo = settings.models
    assert (claude.name, claude.provider, claude.upstream_model) == (
        "claude",
        "anthropic",
        "claude-sonnet-4-5",
    )
    assert claude.api_base == "http://127.0.0.1:9001"
    assert claude.api_key is not None
    assert claude.api_key.get_secret_value() == "sk-ant-secret-value"
    assert (local.provider, local.upstream_model, local.api_base) == (
        "openai",
        "qwen2.5-7b",
        "http://127.0.0.1:8000/v1",
    )
    assert local.api_key is None
    assert (echo.provider, echo.upstream_model) == ("echo", "echo")
    assert settings.redis_url is not None
    assert (
        settings.redis_url.get_secret_value() == "redis://:redis-secret-value@redis.internal:6380/0"
    )
    assert settings.database_url.get_secret_value() == EXAMPLE_ENV["DATABASE_URL"]
    assert settings.master_key is not None
    assert settings.master_key.get_secret_value() == "sk-master-secret-value"
    [alice] = settings.api_keys
    assert (alice.name, alice.key.get_secret_value()) == ("alice", "sk-alice-secret-value")
    assert settings.auth_enabled is True
    assert settings.cache.ttl_seconds == 60
    assert settings.cache.max_responses_per_session == 50
    assert settings.cache.flush_interval_seconds == 10.0
    assert settings.unknown_keys == ()


def test_params_is_accepted_for_litellm_params(write: Write) -> None:
    path = write(
        "model_list:\n"
        "  - model_name: local\n"
        "    params: {model: openai/llama3, api_base: 'http://127.0.0.1:8000/v1', timeout: 30}\n"
    )

    [route] = load(path).models

    assert (route.provider, route.upstream_model) == ("openai", "llama3")
    assert route.api_base == "http://127.0.0.1:8000/v1"
    assert route.timeout_seconds == 30.0


def test_unknown_keys_are_reported_by_dotted_name(write: Write) -> None:
    path = write(
        "litellm_settings: {drop_params: true}\n"
        "model_list:\n"
        "  - model_name: echo\n"
        "    model_info: {id: 1}\n"
        "    litellm_params: {model: echo/echo, rpm: 10}\n"
        "router_settings:\n"
        "  routing_strategy: simple-shuffle\n"
        "general_settings: {alerting: [slack]}\n"
        "session_cache: {ttl: 5}\n"
    )

    unknown = set(load(path).unknown_keys)

    assert unknown == {
        "litellm_settings",
        "model_list[0].model_info",
        "model_list[0].litellm_params.rpm",
        "router_settings.routing_strategy",
        "general_settings.alerting",
        "session_cache.ttl",
    }


def test_cache_settings_are_read(write: Write) -> None:
    path = write(
        "session_cache:\n"
        "  ttl_seconds: 120\n"
        "  max_responses_per_session: 10\n"
        "  flush_interval_seconds: 0.5\n"
        "  flush_batch_size: 100\n"
    )

    cache = load(path).cache

    assert (cache.ttl_seconds, cache.max_responses_per_session) == (120, 10)
    assert (cache.flush_interval_seconds, cache.flush_batch_size) == (0.5, 100)


# --- errors name the key ------------------------------------------------------------------


def test_missing_env_var_names_the_key_and_variable(write: Write) -> None:
    env = {k: v for k, v in EXAMPLE_ENV.items() if k != "ANTHROPIC_API_KEY"}

    error = config_error(write(ARCHITECTURE_EXAMPLE), env)

    assert error.key == "model_list[0].litellm_params.api_key"
    assert "ANTHROPIC_API_KEY" in error.reason
    assert error.message.startswith("config error: model_list[0].litellm_params.api_key: ")


@pytest.mark.parametrize(
    ("text", "key", "reason_has"),
    [
        ("session_cache: {ttl_seconds: abc}\n", "session_cache.ttl_seconds", "abc"),
        ("session_cache: {ttl_seconds: 0}\n", "session_cache.ttl_seconds", "greater than 0"),
        (
            "model_list:\n  - {model_name: x, litellm_params: {model: foo/bar}}\n",
            "model_list[0].litellm_params.model",
            "foo/bar",
        ),
        (
            "model_list:\n  - {model_name: x, litellm_params: {model: gpt-4o}}\n",
            "model_list[0].litellm_params.model",
            "<provider>/<model>",
        ),
        (
            "model_list:\n  - {model_name: x, params: {model: openai/}}\n",
            "model_list[0].params.model",
            "<provider>/<model>",
        ),
        (
            ECHO_ONLY + "  - {model_name: echo, litellm_params: {model: openai/gpt-4o}}\n",
            "model_list[1].model_name",
            "twice",
        ),
        (
            "model_list:\n  - {litellm_params: {model: echo/echo}}\n",
            "model_list[0].model_name",
            "required",
        ),
        ("model_list: []\n", "model_list", "non-empty"),
        (
            "general_settings: {database_url: 'mysql://u@h/db'}\n",
            "general_settings.database_url",
            "postgresql",
        ),
        ("router_settings: [redis_host]\n", "router_settings", "mapping"),
        ("general_settings: 3\n", "general_settings", "mapping"),
        ("session_cache: on\n", "session_cache", "mapping"),
        (
            "model_list:\n  - {model_name: x, litellm_params: [echo/echo]}\n",
            "model_list[0].litellm_params",
            "mapping",
        ),
        (
            "router_settings: {redis_url: 'http://h:6379'}\n",
            "router_settings.redis_url",
            "redis://",
        ),
        (
            "router_settings: {redis_host: h, redis_port: six}\n",
            "router_settings.redis_port",
            "six",
        ),
        ("general_settings: {api_keys: [{name: bob}]}\n", "general_settings.api_keys[0]", "key"),
    ],
)
def test_bad_values_name_their_key(write: Write, text: str, key: str, reason_has: str) -> None:
    error = config_error(write(text))

    assert error.key == key
    assert reason_has in error.reason
    assert error.message == f"config error: {key}: {error.reason}"


def test_unreadable_file_names_the_option(tmp_path: Path) -> None:
    error = config_error(str(tmp_path / "missing.yaml"))

    assert error.key == "--config"
    assert "missing.yaml" in error.reason


def test_invalid_yaml_names_the_option(write: Write) -> None:
    error = config_error(write("model_list: [unclosed\n"))

    assert error.key == "--config"
    assert "not valid YAML" in error.reason


def test_a_top_level_list_names_something(write: Write) -> None:
    error = config_error(write("- model_name: echo\n"))

    assert error.key != ""
    assert not error.message.startswith("config error: :")


def test_a_fractional_ttl_is_refused_naming_the_key(write: Write) -> None:
    path = write("session_cache: {ttl_seconds: 0.5}\n")
    assert config_error(path).key == "session_cache.ttl_seconds"


# --- redis and the environment --------------------------------------------------------------


def test_redis_url_from_host_uses_port_6379_by_default(write: Write) -> None:
    settings = load(write("router_settings: {redis_host: cache.local}\n"))

    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == "redis://cache.local:6379/0"


def test_redis_url_from_file_wins_over_host(write: Write) -> None:
    path = write("router_settings: {redis_url: 'rediss://h:6390/2', redis_host: other}\n")

    settings = load(path, {"REDIS_URL": "redis://env:1/0"})

    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == "rediss://h:6390/2"


def test_redis_port_given_as_a_yaml_integer(write: Write) -> None:
    settings = load(write("router_settings: {redis_host: h, redis_port: 7000}\n"))

    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == "redis://h:7000/0"


def test_redis_password_with_url_characters_survives(write: Write) -> None:
    path = write("router_settings: {redis_host: cache.local, redis_password: 'p/ss#w@rd'}\n")

    settings = load(path)

    assert settings.redis_url is not None
    url = urlsplit(settings.redis_url.get_secret_value())
    assert url.hostname == "cache.local"
    assert url.port == 6379
    assert unquote(url.password or "") == "p/ss#w@rd"


def test_env_redis_url_is_used_without_a_file() -> None:
    settings = load(None, {"REDIS_URL": "redis://r:6379/1"})

    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == "redis://r:6379/1"


def test_env_redis_host_port_password_build_the_url() -> None:
    env = {"REDIS_HOST": "r", "REDIS_PORT": "6381", "REDIS_PASSWORD": "pw"}

    settings = load(None, env)

    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == "redis://:pw@r:6381/0"


def test_env_redis_is_used_when_the_file_has_no_redis(write: Write) -> None:
    settings = load(write(ECHO_ONLY), {"REDIS_HOST": "r"})

    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == "redis://r:6379/0"


def test_env_database_url_and_master_key_are_used_when_the_file_is_silent(write: Write) -> None:
    env = {"DATABASE_URL": "postgresql://u@db/t", "TETHER_MASTER_KEY": "sk-m"}

    settings = load(write(ECHO_ONLY), env)

    assert settings.database_url.get_secret_value() == "postgresql://u@db/t"
    assert settings.master_key is not None
    assert settings.master_key.get_secret_value() == "sk-m"
    assert settings.auth_enabled is True


def test_the_file_wins_over_env_database_url_and_master_key(write: Write) -> None:
    path = write("general_settings: {database_url: 'sqlite:///file.db', master_key: sk-file}\n")

    settings = load(path, {"DATABASE_URL": "postgresql://u@db/t", "TETHER_MASTER_KEY": "sk-env"})

    assert settings.database_url.get_secret_value() == "sqlite:///file.db"
    assert settings.master_key is not None
    assert settings.master_key.get_secret_value() == "sk-file"


def test_a_bad_env_database_url_is_refused() -> None:
    error = config_error(None, {"DATABASE_URL": "mysql://u@h/db"})

    assert error.key == "general_settings.database_url"


# --- secrets stay secret ----------------------------------------------------------------------


def test_secret_repr_and_str_hide_the_value() -> None:
    secret = SecretStr("sk-very-secret")

    assert "sk-very-secret" not in repr(secret)
    assert "sk-very-secret" not in str(secret)
    assert "sk-very-secret" not in f"{secret}"
    assert secret.get_secret_value() == "sk-very-secret"


def test_settings_repr_shows_no_secret(write: Write) -> None:
    settings = load(write(ARCHITECTURE_EXAMPLE), EXAMPLE_ENV)

    text = repr(settings) + str(settings)

    assert "claude-sonnet-4-5" in text  # the repr is still useful
    for name in ("ANTHROPIC_API_KEY", "REDIS_PASSWORD", "TETHER_MASTER_KEY", "ALICE_KEY"):
        assert EXAMPLE_ENV[name] not in text
    assert "db-secret-value" not in text


@pytest.mark.parametrize("name", ["master", "anonymous"])
def test_a_tenant_key_cannot_take_a_built_in_owner_name(write: Write, name: str) -> None:
    path = write(f"general_settings:\n  api_keys:\n    - {{name: {name}, key: sk-x}}\n")
    assert config_error(path).key == "general_settings.api_keys[0].name"


def test_tenant_key_names_are_unique(write: Write) -> None:
    path = write(
        "general_settings:\n  api_keys:\n    - {name: a, key: k1}\n    - {name: a, key: k2}\n"
    )
    assert config_error(path).key == "general_settings.api_keys[1].name"


def test_unknown_keys_inside_api_keys_and_stream_timeout_are_reported(write: Write) -> None:
    path = write(
        "model_list:\n  - model_name: m\n    litellm_params: {model: echo/echo, stream_timeout: 9}\n"
        "general_settings:\n  api_keys:\n    - {name: a, key: k, models: [m]}\n"
    )
    unknown = load(path).unknown_keys
    assert "model_list[0].litellm_params.stream_timeout" in unknown
    assert "general_settings.api_keys[0].models" in unknown


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("session_cache", "flush_batch_size"),
        ("session_cache", "max_responses_per_session"),
        ("server", "max_body_bytes"),
    ],
)
def test_whole_number_settings_refuse_fractions(write: Write, section: str, key: str) -> None:
    assert config_error(write(f"{section}:\n  {key}: 0.5\n")).key == f"{section}.{key}"
