"""`make clients`: real clients against a tether started here, one script per client.

Starts the fake model (fake_model.py) and tether (tether.yaml) on free loopback ports,
runs each client in CLIENTS, prints each one's result and a summary line, and exits 1
when a client failed. Scratch files (installed clients, logs, the SQLite file, results)
go to .clients/ at the repository root.

A client is scripts/clients/<name>.py, run with this interpreter and the environment:
TETHER_BASE_URL (http://127.0.0.1:PORT/v1), TETHER_API_KEY, TETHER_MODEL, CLIENTS_DIR
(the scratch folder) and CLIENTS_RESULTS (where it writes its machine-readable
output). It exits 0 when it passed, 77 when it skipped, anything else when it failed;
its last line of output is its one-line result.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRATCH = ROOT / ".clients"
CLIENTS = ("openresponses",)  # run in this order; each is HERE/<name>.py
MODEL = "fake-model"  # the route in tether.yaml
API_KEY = "x"  # tether.yaml sets no master key; clients still send one
SKIPPED = 77
START_TIMEOUT_SECONDS = 60
# A developer's shell may point tether at a deployment; this run uses only tether.yaml.
DEPLOYMENT_ENV = (
    "TETHER_CONFIG", "TETHER_MASTER_KEY", "DATABASE_URL", "REDIS_URL", "REDIS_HOST",
    "REDIS_PORT", "REDIS_PASSWORD", "PROMETHEUS_MULTIPROC_DIR", "TETHER_ENCRYPTION_KEYS",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outcome:
    client: str
    status: str  # passed | FAILED | skipped
    line: str  # the client's last line of output


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (all held open while picking)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


@contextmanager
def process(
    command: list[str], log: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """A background process logging to ``log``; terminated (then killed) on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"clients: {url} exited {proc.returncode} at start-up; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"clients: {url} not ready after {START_TIMEOUT_SECONDS} s; see {log}")


def wait_ready_tcp(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"clients: the fake model exited {proc.returncode}; see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"clients: the fake model not listening after {START_TIMEOUT_SECONDS} s")


def start_services(stack: ExitStack, run_dir: Path) -> str:
    """Start the fake model and tether; tether's /v1 base URL."""
    env = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_ENV}
    model_port, tether_port = free_ports(2)
    model_log, tether_log = run_dir / "fake_model.log", run_dir / "tether.log"
    fake = [sys.executable, str(HERE / "fake_model.py"), "--port", str(model_port)]
    fake_proc = stack.enter_context(process(fake, model_log, env))
    wait_ready_tcp(model_port, fake_proc, model_log)
    database = run_dir / "tether.db"
    for stale in run_dir.glob("tether.db*"):
        stale.unlink()
    env["TETHER_CLIENTS_UPSTREAM"] = f"http://127.0.0.1:{model_port}/v1"
    env["TETHER_CLIENTS_DATABASE"] = f"sqlite:///{database}"
    tether = str(Path(sys.executable).parent / "tether")
    serve = [tether, "serve", "--config", str(HERE / "tether.yaml"), "--port", str(tether_port)]
    tether_proc = stack.enter_context(process(serve, tether_log, env))
    base = f"http://127.0.0.1:{tether_port}"
    wait_ready(base + "/health/readiness", tether_proc, tether_log)
    print(
        f"clients: tether on {base} (log {tether_log.relative_to(ROOT)}), "
        f"model {MODEL} -> fake model on :{model_port}",
        flush=True,
    )
    return base + "/v1"


def run_client(name: str, env: dict[str, str]) -> Outcome:
    print(f"\n== {name}", flush=True)
    proc = subprocess.Popen(
        [sys.executable, str(HERE / f"{name}.py")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    last = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        last = line.strip() or last
    code = proc.wait()
    status = "passed" if code == 0 else "skipped" if code == SKIPPED else "FAILED"
    return Outcome(name, status, last or f"exit status {code}")


def main() -> int:
    run_dir, results = SCRATCH / "run", SCRATCH / "results"
    run_dir.mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)
    for old in results.iterdir():  # a skipped client must not leave an old result behind
        old.unlink()
    with ExitStack() as stack:
        base_url = start_services(stack, run_dir)
        env = {
            **os.environ,
            "TETHER_BASE_URL": base_url,
            "TETHER_API_KEY": API_KEY,
            "TETHER_MODEL": MODEL,
            "CLIENTS_DIR": str(SCRATCH),
            "CLIENTS_RESULTS": str(results),
        }
        outcomes = [run_client(name, env) for name in CLIENTS]
    print("\n== results")
    for o in outcomes:
        print(f"  {o.client}: {o.status} - {o.line}")
    counts = {s: sum(o.status == s for o in outcomes) for s in ("passed", "FAILED", "skipped")}
    print(
        f"clients: {counts['passed']} passed, {counts['FAILED']} failed, "
        f"{counts['skipped']} skipped (results in {results.relative_to(ROOT)}/)"
    )
    return 1 if counts["FAILED"] else 0


if __name__ == "__main__":
    sys.exit(main())
