"""`tether verify` runs on the runtime dependencies alone: httpx is only for tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.server import TetherServer, free_port


def verify_without_httpx(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`tether verify ARGS` in a process where `import httpx` fails, as in a deployment
    installed from requirements.lock."""
    blocker = tmp_path / "blocked" / "httpx"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("httpx is not installed here")\n')
    path = os.pathsep.join([str(blocker.parent), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", "verify", *args],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_verify_passes_without_httpx(tether: TetherServer, tmp_path: Path) -> None:
    result = verify_without_httpx(tmp_path, "--url", tether.url, "--model", "echo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 8 steps passed." in result.stdout
    assert "FAIL" not in result.stdout


def test_verify_reports_a_dead_url_without_httpx(tmp_path: Path) -> None:
    result = verify_without_httpx(tmp_path, "--url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "verify failed at step 'readiness'" in result.stdout
