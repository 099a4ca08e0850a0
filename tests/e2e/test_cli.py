"""`tether serve` with a bad configuration: one line naming the key, exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MISSING_VAR = "TETHER_TEST_SURELY_UNSET_VARIABLE"


def config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "tether.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def serve(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m tether.cli serve ARGS`; with a bad config it must exit at once."""
    environ = {k: v for k, v in os.environ.items() if k not in ("TETHER_CONFIG", MISSING_VAR)}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", "serve", *args],
        cwd=tmp_path,  # an accidental start would create ./tether.db here, not in the repo
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tether: config error: ")
    for text in expected:
        assert text in lines[0]
    assert "listening" not in result.stdout


def test_wrong_type_names_the_key_and_reason(tmp_path: Path) -> None:
    path = config_file(tmp_path, "session_cache:\n  ttl_seconds: abc\n")

    result = serve(tmp_path, "--config", path)

    assert_one_line_error(result, "session_cache.ttl_seconds", "must be a number", "'abc'")


def test_missing_env_var_names_the_key_and_variable(tmp_path: Path) -> None:
    path = config_file(tmp_path, f"general_settings:\n  master_key: os.environ/{MISSING_VAR}\n")

    result = serve(tmp_path, "--config", path)

    assert_one_line_error(result, "general_settings.master_key", MISSING_VAR, "not set")


def test_unknown_provider_names_the_model_entry(tmp_path: Path) -> None:
    path = config_file(
        tmp_path, "model_list:\n  - model_name: x\n    litellm_params: {model: foo/bar}\n"
    )

    result = serve(tmp_path, "--config", path)

    assert_one_line_error(result, "model_list[0].litellm_params.model", "foo/bar")


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    result = serve(tmp_path, "--config", str(tmp_path / "nope.yaml"))

    assert_one_line_error(result, "--config", "nope.yaml")


def test_config_named_by_tether_config_is_checked_too(tmp_path: Path) -> None:
    path = config_file(tmp_path, "router_settings: {redis_url: 'http://nope'}\n")

    result = serve(tmp_path, env={"TETHER_CONFIG": path})

    assert_one_line_error(result, "router_settings.redis_url")


def test_several_workers_without_redis_are_refused(tmp_path: Path) -> None:
    result = serve(tmp_path, "--workers", "2", "--port", "1")
    assert result.returncode == 2
    assert "more than one worker needs Redis" in result.stderr
    assert "Traceback" not in result.stderr
