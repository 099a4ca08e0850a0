"""The samples in README.md and docs/*.md work as written.

- ```python blocks run in a subprocess (this interpreter, the venv's) and must exit 0;
- ```sh / ```bash blocks that call `curl` run under bash and must exit 0 and print
  JSON, server-sent events or Prometheus samples (error bodies only where the block
  says `error expected`);
- ```yaml configuration samples load with `tether.config.load_settings`, with the
  variables they reference set to dummy values, and any key tether ignores is named
  in the same document.

They run against one tether started with the embedded default (echo model, SQLite,
in-process cache) on a free port: `127.0.0.1:4000` / `localhost:4000` in a sample
becomes that port, and the placeholder `resp_…` becomes the id of a fresh response.
A sample that is not meant to run is fenced as ```text. Reference tables are checked
too: every config key, CLI flag, metric and statistics field has to be documented.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import TetherServer
from tether.cli import _parser
from tether.config import config_keys, load_settings
from tether.observability.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SOURCES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
LOCAL_URL = re.compile(r"(?:127\.0\.0\.1|localhost):4000\b")
PLACEHOLDER = "resp_…"
ERROR_MARKER = "error expected"
TETHER_SECTIONS = config_keys()[""]
# Variables a deployment would set; cleared so the test server is the embedded default.
DEPLOYMENT_ENV = (
    "TETHER_CONFIG",
    "TETHER_MASTER_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
    "PROMETHEUS_MULTIPROC_DIR",
)
METRIC_LINE = re.compile(r"^(# (HELP|TYPE) .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+( \S+)?)$")


@dataclass(frozen=True)
class Sample:
    path: Path
    line: int
    lang: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.line}"


def samples() -> Iterator[Sample]:
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            yield Sample(path, line, match.group(1).lower(), match.group(2))


def is_curl(sample: Sample) -> bool:
    return sample.lang in ("sh", "bash", "shell") and "curl " in sample.code


def is_tether_config(sample: Sample) -> bool:
    """Every YAML block of configuration.md; elsewhere, YAML shaped like a tether config."""
    if sample.lang not in ("yaml", "yml"):
        return False
    if sample.path.name == "configuration.md":
        return True
    data = yaml.safe_load(sample.code)
    return isinstance(data, dict) and bool(data) and set(data) <= TETHER_SECTIONS


PYTHON = [s for s in samples() if s.lang == "python"]
CURL = [s for s in samples() if is_curl(s)]
CONFIGS = [s for s in samples() if is_tether_config(s)]


@pytest.fixture(scope="module")
def tether(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TetherServer]:
    with pytest.MonkeyPatch.context() as patch:
        for name in DEPLOYMENT_ENV:
            patch.delenv(name, raising=False)
        server = TetherServer({}, tmp_path_factory.mktemp("docs")).start()
    yield server
    server.stop()


def runnable(sample: Sample, server: TetherServer) -> str:
    code = LOCAL_URL.sub(f"127.0.0.1:{server.port}", sample.code)
    if PLACEHOLDER in code:
        response = httpx.post(
            f"{server.url}/v1/responses",
            json={"model": "echo", "input": "Remember the word kestrel."},
        )
        response.raise_for_status()
        code = code.replace(PLACEHOLDER, response.json()["id"])
    return code


def sample_env(server: TetherServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_ENV}
    # Samples show production calls with the master key; the test server has no auth.
    env["TETHER_MASTER_KEY"] = "sk-docs-test"
    env["OPENAI_API_KEY"] = "sk-docs-test"
    return env


def run(command: list[str], server: TetherServer, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command,
        cwd=cwd,
        env=sample_env(server),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result


def failure(sample: Sample, result: subprocess.CompletedProcess[str], server: TetherServer) -> str:
    return (
        f"{sample.name} exited {result.returncode}\n--- stdout\n{result.stdout}"
        f"\n--- stderr\n{result.stderr}\n--- tether log (tail)\n{server.log()[-2000:]}"
    )


def printed(text: str) -> tuple[list[Any], int]:
    """What a curl sample printed: JSON documents (bodies, SSE data) and metric lines.

    HTTP header blocks (`curl -i`) and `event:` lines are skipped; anything else fails.
    """
    docs: list[Any] = []
    metric_lines = 0
    decoder = json.JSONDecoder()
    text = text.replace("\r\n", "\n")
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return docs, metric_lines
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[pos:end]
        if line.startswith("HTTP/"):
            block_end = text.find("\n\n", pos)
            pos = len(text) if block_end < 0 else block_end + 2
        elif line.startswith("event:"):
            pos = end
        elif line.startswith("data:"):
            docs.append(json.loads(line[5:]))
            pos = end
        elif text[pos] in '{["':
            doc, pos = decoder.raw_decode(text, pos)
            docs.append(doc)
        elif METRIC_LINE.match(line):
            list(text_string_to_metric_families(line + "\n"))
            metric_lines += 1
            pos = end
        else:
            raise AssertionError(f"not JSON, SSE or a metric sample: {line[:200]!r}")


def is_error(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("error"), dict) and "object" not in doc


@pytest.mark.parametrize("sample", PYTHON, ids=[s.name for s in PYTHON])
def test_python_sample(sample: Sample, tether: TetherServer, tmp_path: Path) -> None:
    result = run([sys.executable, "-c", runnable(sample, tether)], tether, tmp_path)
    assert result.returncode == 0, failure(sample, result, tether)


@pytest.mark.parametrize("sample", CURL, ids=[s.name for s in CURL])
def test_curl_sample(sample: Sample, tether: TetherServer, tmp_path: Path) -> None:
    code = runnable(sample, tether)
    result = run(["bash", "-e", "-o", "pipefail", "-c", code], tether, tmp_path)
    assert result.returncode == 0, failure(sample, result, tether)
    docs, metric_lines = printed(result.stdout)
    assert docs or metric_lines, f"{sample.name} printed nothing:\n{result.stderr}"
    errors = [doc for doc in docs if is_error(doc)]
    if ERROR_MARKER in sample.code:
        assert errors, f"{sample.name} says an error is expected, but none came"
    else:
        assert not errors, f"{sample.name} answered an error: {errors}"


def dummy(name: str) -> str:
    if name.endswith("PORT"):
        return "6379"
    if name == "DATABASE_URL":
        return "postgresql://tether:secret@db.internal:5432/tether"
    if name == "REDIS_URL":
        return "redis://redis.internal:6379/0"
    if name.startswith("TETHER_ENCRYPTION_KEY"):
        return "A" * 43 + "="  # 32 bytes in base64, as a key must be
    return f"dummy-{name.lower()}"


@pytest.mark.parametrize("sample", CONFIGS, ids=[s.name for s in CONFIGS])
def test_config_sample(sample: Sample, tmp_path: Path) -> None:
    names = re.findall(r"os\.environ/([A-Za-z_][A-Za-z0-9_]*)", sample.code)
    path = tmp_path / "tether.yaml"
    path.write_text(sample.code, encoding="utf-8")
    settings = load_settings(str(path), {name: dummy(name) for name in names})
    document = sample.path.read_text(encoding="utf-8")
    # A key tether ignores is fine in a sample only if the document says so.
    for key in settings.unknown_keys:
        assert key in document, f"{sample.name}: `{key}` is ignored by tether but not named"


def test_the_documents_have_samples() -> None:
    assert PYTHON
    assert CURL
    assert any(s.path.name == "configuration.md" for s in CONFIGS)


def test_every_config_key_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for section, keys in config_keys().items():
        for key in keys:
            assert f"`{key}`" in text, f"configuration.md does not describe {section}.{key}"


def test_every_cli_flag_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    commands = next(a for a in _parser()._actions if a.dest == "command")
    for name, parser in commands.choices.items():  # type: ignore[union-attr]
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}" in text, f"configuration.md misses `tether {name} {flag}`"


def test_every_metric_is_documented() -> None:
    text = (DOCS / "monitoring.md").read_text(encoding="utf-8")
    for family in Metrics().registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        assert f"`{name}`" in text, f"monitoring.md does not describe {name}"


def test_every_probe_field_is_documented(tether: TetherServer) -> None:
    text = (DOCS / "monitoring.md").read_text(encoding="utf-8")
    stats = httpx.get(f"{tether.url}/v1/session-cache/stats").json()
    readiness = httpx.get(f"{tether.url}/health/readiness").json()
    fields = set(stats) | set(stats["fallbacks"]) | set(readiness)
    for part in ("redis", "database", "writer"):
        fields |= set(readiness[part])
    for field in sorted(fields):
        # `field`, or a dotted path through it such as `writer.pending`
        documented = re.search(rf"`([\w.]+\.)?{re.escape(field)}(\.[\w.]+)?`", text)
        assert documented, f"monitoring.md does not describe the field {field}"
