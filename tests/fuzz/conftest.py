"""Running tethers for hostile-input tests, a probe that counts what it sends, and a tally.

Three servers, each a real `tether serve` process:
- `embedded`: the embedded default (in-process cache, SQLite) with `echo` and `transcript`;
- `guarded`: Redis + PostgreSQL, a master key and two tenant keys (alice, bob);
- `limited`: the embedded default with `server.max_body_bytes: 1024`.

Every request goes through a `Probe` with a bounded timeout, so a hang fails the test
instead of stalling the run; the session ends with a line counting cases and 5xx answers.
"""

from __future__ import annotations

import json
import socket
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from tests.support.databases import create_pg_database, drop_pg_database, fresh_redis_url
from tests.support.server import TetherServer
from tests.support.services import DATABASE_URL, REDIS_URL

REQUEST_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MASTER_KEY = "sk-fuzz-master-7f3a9c"
ALICE_KEY = "sk-fuzz-alice-51d0e2"
BOB_KEY = "sk-fuzz-bob-c86b44"
SECRETS = (MASTER_KEY, ALICE_KEY, BOB_KEY)
ERROR_FIELDS = {"message", "type", "param", "code"}
UNKNOWN_ID = "resp_" + "0" * 64  # well-formed, never issued (ids are random)
ALICE = {"authorization": f"Bearer {ALICE_KEY}"}
BOB = {"authorization": f"Bearer {BOB_KEY}"}
MASTER = {"authorization": f"Bearer {MASTER_KEY}"}
MODELS = [
    {"model_name": "echo", "litellm_params": {"model": "echo/echo"}},
    {"model_name": "transcript", "litellm_params": {"model": "echo/transcript"}},
]


@dataclass
class Tally:
    """Cases sent per source and the 5xx answers among them, for the closing summary."""

    cases: Counter[str] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)

    def record(self, source: str, status: int) -> None:
        self.cases[source] += 1
        if status >= 500:
            self.server_errors[source] += 1


TALLY_KEY = pytest.StashKey[Tally]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[TALLY_KEY] = Tally()
    # Hypothesis keeps caches in ./.hypothesis by default: keep the work tree clean.
    set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "tether-fuzz-hypothesis"))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    tally = config.stash.get(TALLY_KEY, None)
    if tally is None or not tally.cases:
        return
    terminalreporter.section("fuzz summary")
    for source in sorted(tally.cases):
        terminalreporter.write_line(
            f"{source}: {tally.cases[source]} cases, {tally.server_errors[source]} server errors"
        )
    total, errors = sum(tally.cases.values()), sum(tally.server_errors.values())
    terminalreporter.write_line(f"fuzz total: {total} cases, {errors} server errors")


@pytest.fixture(scope="session")
def tally(pytestconfig: pytest.Config) -> Tally:
    return pytestconfig.stash[TALLY_KEY]


class Probe:
    """A keep-alive client that counts every answer and never waits without bound.

    A request that fails at the transport level is retried once on a fresh connection:
    after a 500 uvicorn closes the connection, and the next request on it may meet the
    close. A second failure is the server's fault and is raised.
    """

    def __init__(
        self, base_url: str, tally: Tally, source: str, forbidden: tuple[str, ...] = ()
    ) -> None:
        self.base_url = base_url
        self.client = httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT)
        self.tally = tally
        self.source = source
        self.forbidden = forbidden  # strings no answer may ever contain (the keys)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise  # a hang is the server's fault, never retried away
        except httpx.TransportError:
            self.client.close()
            self.client = httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT)
            response = self.client.request(method, url, **kwargs)
        self.tally.record(self.source, response.status_code)
        shown = response.text + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        for secret in self.forbidden:
            assert secret not in shown, f"{method} {url} answered with a key in it"
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self.client.close()


def openai_error(response: httpx.Response) -> dict[str, Any]:
    """The `error` object of an error answer, checked to have OpenAI's shape."""
    assert response.status_code < 500, f"server error {response.status_code}: {response.text}"
    assert response.status_code >= 400, f"expected an error, got {response.status_code}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == ERROR_FIELDS, error
    assert isinstance(error["message"], str), error
    assert error["message"], error
    assert isinstance(error["type"], str), error
    assert error["param"] is None or isinstance(error["param"], str), error
    assert error["code"] is None or isinstance(error["code"], str), error
    return error


def create(probe: Probe, headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    response = probe.post("/v1/responses", json={"model": "echo", **body}, headers=headers)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def bad_request(response: httpx.Response, param: str | None = None) -> dict[str, Any]:
    """A 400 `invalid_request_error`; with `param`, the error names that field."""
    error = openai_error(response)
    assert response.status_code == 400, response.text
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] is not None, error
        assert error["param"] == param or error["param"].startswith((f"{param}.", f"{param}[")), (
            error
        )
    return error


def raw_exchange(port: int, data: bytes, timeout: float) -> tuple[int, bytes]:
    """Sends raw bytes and reads one answer; a silent server fails on the timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(head.split(b" ")[1]), body


def _guarded_config(pg_url: str) -> dict[str, Any]:
    return {
        "model_list": MODELS,
        "router_settings": {"redis_url": fresh_redis_url(REDIS_URL, db=4)},
        "general_settings": {
            "database_url": pg_url,
            "master_key": MASTER_KEY,
            "api_keys": [{"name": "alice", "key": ALICE_KEY}, {"name": "bob", "key": BOB_KEY}],
        },
        "session_cache": {"flush_interval_seconds": 0.2},  # durable soon, for tests to read
    }


@pytest.fixture(scope="session")
def guarded_pg_url() -> Iterator[str]:
    url = create_pg_database(DATABASE_URL, "tether_fuzz")
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="session")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, guarded_pg_url: str
) -> Iterator[dict[str, TetherServer]]:
    """The three servers, started side by side: start-up is mostly imports, one core each."""
    pg_url = guarded_pg_url
    configs = {
        "embedded": {"model_list": MODELS},
        "limited": {"model_list": MODELS, "server": {"max_body_bytes": 1024}},
        "guarded": _guarded_config(pg_url),
    }
    servers = {
        name: TetherServer(config, tmp_path_factory.mktemp(f"fuzz-{name}"))
        for name, config in configs.items()
    }
    try:
        with ThreadPoolExecutor(len(servers)) as pool:
            for started in [pool.submit(server.start) for server in servers.values()]:
                started.result()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="session")
def embedded(fleet: dict[str, TetherServer]) -> TetherServer:
    return fleet["embedded"]


@pytest.fixture(scope="session")
def limited(fleet: dict[str, TetherServer]) -> TetherServer:
    return fleet["limited"]


@pytest.fixture(scope="session")
def guarded(fleet: dict[str, TetherServer]) -> TetherServer:
    return fleet["guarded"]


def _probe(
    server: TetherServer, tally: Tally, source: str, forbidden: tuple[str, ...] = ()
) -> Iterator[Probe]:
    probe = Probe(server.url, tally, source, forbidden)
    yield probe
    probe.close()


@pytest.fixture(scope="session")
def probe(embedded: TetherServer, tally: Tally) -> Iterator[Probe]:
    yield from _probe(embedded, tally, "hostile")


@pytest.fixture(scope="session")
def guarded_probe(guarded: TetherServer, tally: Tally) -> Iterator[Probe]:
    yield from _probe(guarded, tally, "hostile", forbidden=SECRETS)


@pytest.fixture(scope="session")
def limited_probe(limited: TetherServer, tally: Tally) -> Iterator[Probe]:
    yield from _probe(limited, tally, "hostile")
