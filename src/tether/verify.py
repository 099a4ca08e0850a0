"""`tether verify`: an end-to-end check of a live deployment, step by step."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from tether.config import Settings

# Per connection attempt and per read, as a client would wait; a whole stream may take longer.
TIMEOUT = aiohttp.ClientTimeout(total=None, connect=30, sock_read=30)


@dataclass
class Step:
    name: str
    ok: bool
    ms: float
    detail: str


class VerifyFailed(Exception):
    pass


class Checker:
    def __init__(self, session: aiohttp.ClientSession, url: str, model: str | None) -> None:
        self.session = session
        self.url = url.rstrip("/")
        self.model = model
        self.steps: list[Step] = []
        self.state: dict[str, Any] = {}
        self.warnings: list[str] = []

    async def run(self, name: str, check: Callable[[], Awaitable[str]]) -> bool:
        start = time.perf_counter()
        try:
            detail, ok = await check(), True
        except (VerifyFailed, aiohttp.ClientError, TimeoutError, KeyError, ValueError) as exc:
            detail, ok = f"{type(exc).__name__}: {exc}", False
        ms = (time.perf_counter() - start) * 1000
        self.steps.append(Step(name, ok, ms, detail))
        mark = "ok  " if ok else "FAIL"
        print(f"  {mark} {name:<28} {ms:8.1f} ms  {detail}", flush=True)
        return ok

    async def _call(self, method: str, path: str, body: Any = None, *, also: int = 0) -> Any:
        """The JSON answer; an error status (but `also`) fails the step, quoting the answer."""
        async with self.session.request(method, self.url + path, json=body) as response:
            raw = await response.read()
        if response.status >= 400 and response.status != also:
            text = raw[:300].decode(errors="replace")
            raise VerifyFailed(f"HTTP {response.status}: {text}")
        return orjson.loads(raw)

    async def readiness(self) -> str:
        body = await self._call("GET", "/health/readiness", also=503)  # a body worth reading
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

    async def models(self) -> str:
        data = (await self._call("GET", "/v1/models"))["data"]
        if not data:
            raise VerifyFailed("no models configured")
        self.model = self.model or data[0]["id"]
        return f"using model {self.model}"

    async def create(self) -> str:
        body = {"model": self.model, "input": "tether verify: remember the word 'kestrel'."}
        response = await self._call("POST", "/v1/responses", body)
        self.state["first"] = response["id"]
        return f"{response['id'][:20]}… {response['status']}"

    async def follow_up(self) -> str:
        body = {
            "model": self.model,
            "input": "And now?",
            "previous_response_id": self.state["first"],
        }
        response = await self._call("POST", "/v1/responses", body)
        self.state["second"] = response["id"]
        return "previous_response_id accepted at once"

    async def stream(self) -> str:
        body = {
            "model": self.model,
            "input": "Stream this.",
            "previous_response_id": self.state["second"],
            "stream": True,
        }
        events: list[str] = []
        async with self.session.post(self.url + "/v1/responses", json=body) as response:
            if response.status >= 400:
                raise VerifyFailed(f"HTTP {response.status}: {(await response.read())[:300]!r}")
            async for line in response.content:  # one SSE line at a time
                if line.startswith(b"data:"):
                    event = orjson.loads(line[5:])
                    events.append(event["type"])
                    if event["type"] == "response.completed":
                        self.state["third"] = event["response"]["id"]
        if "response.completed" not in events:
            raise VerifyFailed(f"stream ended without response.completed ({events[-1:]})")
        return f"{len(events)} events"

    async def retrieve(self) -> str:
        response = await self._call("GET", f"/v1/responses/{self.state['third']}")
        if response["previous_response_id"] != self.state["second"]:
            raise VerifyFailed("stored response does not point at its parent")
        return "stored response found"

    async def input_items(self) -> str:
        items = await self._call("GET", f"/v1/responses/{self.state['third']}/input_items")
        return f"{len(items['data'])} item(s)"

    async def delete(self) -> str:
        for key in ("third", "second", "first"):
            await self._call("DELETE", f"/v1/responses/{self.state[key]}")
        return "test chain deleted"


def run_verify(url: str, settings: Settings, model: str | None, key: str | None) -> int:
    if key is None and settings.master_key is not None:
        key = settings.master_key.get_secret_value()
    print(f"tether verify {url}")
    return asyncio.run(_verify(url, model, key))


async def _verify(url: str, model: str | None, key: str | None) -> int:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    async with aiohttp.ClientSession(headers=headers, timeout=TIMEOUT) as session:
        checker = Checker(session, url, model)
        steps: list[tuple[str, Callable[[], Awaitable[str]]]] = [
            ("readiness", checker.readiness),
            ("models", checker.models),
            ("create", checker.create),
            ("immediate follow-up", checker.follow_up),
            ("streamed follow-up", checker.stream),
            ("retrieve", checker.retrieve),
            ("input items", checker.input_items),
            ("delete", checker.delete),
        ]
        passed = True
        for name, check in steps:
            if not await checker.run(name, check):
                passed = False
                break
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
