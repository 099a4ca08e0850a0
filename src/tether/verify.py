"""`tether verify`: an end-to-end check of a live deployment, step by step."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from tether.config import Settings


@dataclass
class Step:
    name: str
    ok: bool
    ms: float
    detail: str


class VerifyFailed(Exception):
    pass


class Checker:
    def __init__(self, client: httpx.Client, model: str | None) -> None:
        self.client = client
        self.model = model
        self.steps: list[Step] = []
        self.state: dict[str, Any] = {}
        self.warnings: list[str] = []

    def run(self, name: str, check: Callable[[], str]) -> bool:
        start = time.perf_counter()
        try:
            detail, ok = check(), True
        except (VerifyFailed, httpx.HTTPError, KeyError, ValueError) as exc:
            detail, ok = f"{type(exc).__name__}: {exc}", False
        ms = (time.perf_counter() - start) * 1000
        self.steps.append(Step(name, ok, ms, detail))
        mark = "ok  " if ok else "FAIL"
        print(f"  {mark} {name:<28} {ms:8.1f} ms  {detail}", flush=True)
        return ok

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise VerifyFailed(f"HTTP {response.status_code}: {response.text[:300]}")
        return response.json()

    def readiness(self) -> str:
        body = self._json_any(self.client.get("/health/readiness"))
        redis, database = body.get("redis") or {}, body.get("database") or {}
        problems = []
        if redis.get("status") not in ("ok", "not_configured"):
            problems.append(f"redis {redis.get('status')}: {redis.get('error', 'unreachable')}")
        if database.get("status") != "ok":
            problems.append(f"database {database.get('status')}: {database.get('error', '')}")
        if problems:
            raise VerifyFailed("; ".join(problems))
        if redis.get("status") == "ok" and redis.get("persistence") == "off":
            self.warnings.append(
                "Redis keeps nothing on disk: turns waiting for the database would be lost "
                "if Redis restarted at the same time as this instance."
            )
        return f"redis {redis.get('status')}, database {database.get('status')}"

    def _json_any(self, response: httpx.Response) -> Any:
        """Readiness answers 503 with a body worth reading."""
        if response.status_code >= 400 and response.status_code != 503:
            raise VerifyFailed(f"HTTP {response.status_code}: {response.text[:300]}")
        return response.json()

    def models(self) -> str:
        data = self._json(self.client.get("/v1/models"))["data"]
        if not data:
            raise VerifyFailed("no models configured")
        self.model = self.model or data[0]["id"]
        return f"using model {self.model}"

    def create(self) -> str:
        body = {"model": self.model, "input": "tether verify: remember the word 'kestrel'."}
        response = self._json(self.client.post("/v1/responses", json=body))
        self.state["first"] = response["id"]
        return f"{response['id'][:20]}… {response['status']}"

    def follow_up(self) -> str:
        body = {
            "model": self.model,
            "input": "And now?",
            "previous_response_id": self.state["first"],
        }
        response = self._json(self.client.post("/v1/responses", json=body))
        self.state["second"] = response["id"]
        return "previous_response_id accepted at once"

    def stream(self) -> str:
        body = {
            "model": self.model,
            "input": "Stream this.",
            "previous_response_id": self.state["second"],
            "stream": True,
        }
        events: list[str] = []
        with self.client.stream("POST", "/v1/responses", json=body) as response:
            if response.status_code >= 400:
                raise VerifyFailed(f"HTTP {response.status_code}: {response.read()[:300]!r}")
            for line in response.iter_lines():
                if line.startswith("data:"):
                    event = orjson.loads(line[5:])
                    events.append(event["type"])
                    if event["type"] == "response.completed":
                        self.state["third"] = event["response"]["id"]
        if "response.completed" not in events:
            raise VerifyFailed(f"stream ended without response.completed ({events[-1:]})")
        return f"{len(events)} events"

    def retrieve(self) -> str:
        response = self._json(self.client.get(f"/v1/responses/{self.state['third']}"))
        if response["previous_response_id"] != self.state["second"]:
            raise VerifyFailed("stored response does not point at its parent")
        return "stored response found"

    def input_items(self) -> str:
        items = self._json(self.client.get(f"/v1/responses/{self.state['third']}/input_items"))
        return f"{len(items['data'])} item(s)"

    def delete(self) -> str:
        for key in ("third", "second", "first"):
            self._json(self.client.delete(f"/v1/responses/{self.state[key]}"))
        return "test chain deleted"


def run_verify(url: str, settings: Settings, model: str | None, key: str | None) -> int:
    if key is None and settings.master_key is not None:
        key = settings.master_key.get_secret_value()
    headers = {"authorization": f"Bearer {key}"} if key else {}
    print(f"tether verify {url}")
    with httpx.Client(base_url=url, headers=headers, timeout=30.0) as client:
        checker = Checker(client, model)
        steps: list[tuple[str, Callable[[], str]]] = [
            ("readiness", checker.readiness),
            ("models", checker.models),
            ("create", checker.create),
            ("immediate follow-up", checker.follow_up),
            ("streamed follow-up", checker.stream),
            ("retrieve", checker.retrieve),
            ("input items", checker.input_items),
            ("delete", checker.delete),
        ]
        passed = all(checker.run(name, check) for name, check in steps)
    _summary(checker.steps, len(steps))
    for warning in checker.warnings:
        print(f"warning: {warning}")
    if not passed:
        failed = checker.steps[-1]
        print(f"verify failed at step '{failed.name}': {failed.detail}")
        return 1
    print(f"all {len(steps)} steps passed.")
    return 0


def _summary(steps: list[Step], planned: int) -> None:
    print()
    print(f"  {'step':<28} {'result':<8} {'ms':>9}")
    for step in steps:
        print(f"  {step.name:<28} {'ok' if step.ok else 'FAILED':<8} {step.ms:9.1f}")
    skipped = planned - len(steps)
    total = sum(step.ms for step in steps)
    print(f"  {'total':<28} {'':<8} {total:9.1f}" + (f"  ({skipped} not run)" if skipped else ""))
    print()
