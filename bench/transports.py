"""WebSocket mode against HTTP: a 20-turn tool-call loop through one tether worker.

    .venv/bin/python bench/transports.py                  # about 1 minute
    .venv/bin/python bench/transports.py --seconds 5 --concurrency 1,8,16 --rounds 2

Starts the harness's fake upstream and one tether worker (Redis + PostgreSQL), then,
for each concurrency (default 1 and 8 loops at once), drives the same agent loop over
each transport, each followed by the same requests sent straight to the upstream:

- `ws store:true` / `ws store:false`: one WebSocket per loop (the `websockets`
  package), a `{"type": "response.create", ...}` frame per turn, events read until
  `response.completed`; every turn after the first carries `previous_response_id`
  (store: false continuations come from the connection's memory).
- `http`: `POST /v1/responses` with `previous_response_id` (store: true, one JSON body),
  on one keep-alive connection per loop (the harness's own client, `harness.http`).
- `http sse`: the same with `stream: true`, read to the end of the event stream: the
  same events as WebSocket mode over HTTP, which separates the transport from streaming.

The loop: the client sends only the new item each turn, with the same `tools`. The
harness's fake upstream answers a user message `call lookup {...}` with a tool call
and a tool result with text ("tool said: ..."), never a tool call: so the 20 turns
alternate, a user message answered by a `function_call` (odd turns) and a
`function_call_output` answering that call, answered by text (even turns). 10 tool
calls per loop; a loop that ends starts a new one (a fresh root turn) on the same
connection.

Figures per transport and concurrency, in one run: the overhead of a continuation turn
(the 19 turns of a loop after the first), p50 and p99, is tether's time from sending the
turn to its final event (or body) less the direct upstream's time for the same requests
(the chat messages tether replays, `stream: true` for the streamed transports), measured
right after it with as many turns, percentile by percentile, as the harness does; and
tether's CPU per turn (user + system of the tether process from /proc over the measured
window, divided by every turn sent in it, roots included). Each round runs every
transport at every concurrency (the second round in reverse order, so that drift
cancels out); the samples of all rounds are pooled. The table of ratios
(WebSocket ÷ HTTP, and HTTP SSE ÷ HTTP) comes first, absolute figures second.

The load runs in this process (asyncio on uvloop), not in the harness's driver process,
which the session starts and leaves idle; the tether turns are logged at INFO as in
bench/run.py.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import secrets
import shlex
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import websockets

from harness import machine
from harness.http import Connection, HttpError
from harness.processes import ROOT
from harness.procstat import cpu_seconds
from harness.scenarios import QUICK, ROUTE, UPSTREAM_MODEL, Stage
from harness.session import Options, Session, add_service_options, stop_on_sigterm
from harness.summary import percentile

TURNS = 20
TRANSPORTS = ("ws store:true", "ws store:false", "http", "http sse")
TOOL_PARAMETERS = {
    "type": "object",
    "properties": {"q": {"type": "string", "description": "what to look up"}},
    "required": ["q"],
}
TOOLS = [
    {
        "type": "function",
        "name": "lookup",
        "description": "Look a fact up.",
        "parameters": TOOL_PARAMETERS,
    }
]
CHAT_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a fact up.",
            "parameters": TOOL_PARAMETERS,
        },
    }
]
Step = Callable[[int], Awaitable[float]]  # turn index -> seconds, or raises


def call_text(user: int, step: int) -> str:
    return f'call lookup {{"q": "user {user} step {step}"}}'


def output_text(user: int, step: int) -> str:
    return f"result for user {user} step {step}:" + " lorem" * 10


class TurnFailed(Exception):
    pass


# --------------------------------------------------------------------------- tally


@dataclass(slots=True)
class Result:
    turns: int = 0  # every turn sent in the measured window (roots too)
    latencies: list[float] = field(default_factory=list)  # continuations only
    errors: int = 0
    first_error: str = ""
    cpu: float = 0.0  # tether's CPU seconds over the window
    elapsed: float = 0.0


class Tally:
    """Warm-up turns first, then at most `limit` measured turns or `seconds`."""

    def __init__(self, warmup: int, limit: int, seconds: float, pid: int | None) -> None:
        self._warmup, self._total, self._issued = warmup, warmup + limit, 0
        self._pid = pid
        self._deadline = time.perf_counter() + seconds + 30.0  # reset when warm-up ends
        self._seconds = seconds
        self._cpu0 = self._t0 = 0.0
        self.result = Result()

    def take(self) -> bool | None:
        if self._issued >= self._total or time.perf_counter() >= self._deadline:
            return None
        self._issued += 1
        if self._issued == self._warmup + 1:
            self._t0 = time.perf_counter()
            self._deadline = self._t0 + self._seconds
            self._cpu0 = cpu_seconds([self._pid]) if self._pid else 0.0
        return self._issued > self._warmup

    def finish(self) -> Result:
        r = self.result
        r.elapsed = time.perf_counter() - self._t0 if self._t0 else 0.0
        if self._pid and self._t0:
            r.cpu = cpu_seconds([self._pid]) - self._cpu0
        return r


async def loop_user(step: Step, tally: Tally) -> None:
    """One agent: 20-turn loops, back to back, until the tally says stop."""
    k = 0
    while (measured := tally.take()) is not None:
        try:
            seconds = await step(k)
        except (TurnFailed, HttpError, OSError, websockets.WebSocketException) as exc:
            if measured:
                tally.result.turns += 1
                tally.result.errors += 1
                tally.result.first_error = tally.result.first_error or repr(exc)[:300]
            k = 0  # start a new loop
            continue
        if measured:
            tally.result.turns += 1
            if k > 0:
                tally.result.latencies.append(seconds)
        k = (k + 1) % TURNS


# --------------------------------------------------------------------------- through tether


class TetherLoop:
    """Where one agent's loop stands: the last response id and the pending call id."""

    def __init__(self, user: int, store: bool, stream: bool) -> None:
        self.user, self.store, self.stream = user, store, stream
        self.last_id: str | None = None
        self.call_id: str | None = None

    def body(self, k: int) -> dict[str, Any]:
        if k == 0:
            self.last_id = self.call_id = None
        body: dict[str, Any] = {"model": ROUTE, "tools": TOOLS, "store": self.store}
        if k % 2 == 0:
            body["input"] = call_text(self.user, k)
        else:
            if self.call_id is None:
                raise TurnFailed(f"turn {k}: no call to answer")
            output = output_text(self.user, k)
            body["input"] = [
                {"type": "function_call_output", "call_id": self.call_id, "output": output}
            ]
        if self.last_id is not None:
            body["previous_response_id"] = self.last_id
        if self.stream:
            body["stream"] = True
        return body

    def advance(self, k: int, response: dict[str, Any]) -> None:
        if response.get("status") != "completed":
            raise TurnFailed(f"turn {k}: status {response.get('status')!r}")
        self.last_id = response["id"]
        calls = [o for o in response.get("output", ()) if o.get("type") == "function_call"]
        want_call = k % 2 == 0
        if want_call != bool(calls):
            raise TurnFailed(f"turn {k}: {'no' if want_call else 'a'} tool call")
        self.call_id = calls[0]["call_id"] if calls else None


async def ws_step_for(port: int, user: int, store: bool) -> tuple[Step, Callable[[], Any]]:
    socket = await websockets.connect(
        f"ws://127.0.0.1:{port}/v1/responses", max_size=None, compression=None
    )
    state = TetherLoop(user, store, stream=False)

    async def step(k: int) -> float:
        frame = orjson.dumps({"type": "response.create", **state.body(k)})
        sent = time.perf_counter()
        await socket.send(frame, text=True)
        while True:
            message = await socket.recv(decode=False)
            head = message[:40]
            if b'"response.completed"' in head or b'"response.failed"' in head:
                done = time.perf_counter()
                state.advance(k, orjson.loads(message)["response"])
                return done - sent
            if b'"type":"error"' in head or b'"response.incomplete"' in head:
                raise TurnFailed(message[:300].decode(errors="replace"))

    return step, socket.close


async def http_step_for(port: int, user: int, stream: bool) -> tuple[Step, Callable[[], Any]]:
    connection = Connection("127.0.0.1", port)
    await connection.open()
    state = TetherLoop(user, store=True, stream=stream)

    async def step(k: int) -> float:
        reply = await connection.post("/v1/responses", orjson.dumps(state.body(k)), streamed=False)
        if reply.status != 200:
            raise TurnFailed(f"HTTP {reply.status}: {reply.body[:300]!r}")
        if stream:
            last = reply.body.rstrip().rsplit(b"\n\n", 1)[-1]
            data = last.split(b"data: ", 1)[-1]
            event = orjson.loads(data)
            if event.get("type") != "response.completed":
                raise TurnFailed(f"last event: {last[:300]!r}")
            response = event["response"]
        else:
            response = orjson.loads(reply.body)
        state.advance(k, response)
        return reply.seconds

    return step, connection.close


# --------------------------------------------------------------------------- direct


def chat_bodies(user: int, stream: bool) -> list[bytes]:
    """The 20 chat requests of one loop: what tether replays upstream, turn by turn."""
    messages: list[dict[str, Any]] = []
    bodies = []
    call_id = ""
    for k in range(TURNS):
        if k % 2 == 0:
            text = call_text(user, k)
            messages.append({"role": "user", "content": text})
        else:
            output = output_text(user, k)
            messages.append({"role": "tool", "tool_call_id": call_id, "content": output})
        body: dict[str, Any] = {"model": UPSTREAM_MODEL, "messages": messages, "tools": CHAT_TOOLS}
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        bodies.append(orjson.dumps(body))
        if k % 2 == 0:
            call_id = "call_" + secrets.token_hex(12)
            arguments = text.partition("lookup ")[2]
            call = {"name": "lookup", "arguments": arguments}
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": call_id, "type": "function", "function": call}],
                }
            )
        else:
            messages.append({"role": "assistant", "content": "tool said: " + output})
    return bodies


async def direct_step_for(port: int, user: int, stream: bool) -> tuple[Step, Callable[[], Any]]:
    connection = Connection("127.0.0.1", port)
    await connection.open()
    bodies = chat_bodies(user, stream)

    async def step(k: int) -> float:
        reply = await connection.post("/v1/chat/completions", bodies[k], streamed=False)
        if reply.status != 200:
            raise TurnFailed(f"HTTP {reply.status}: {reply.body[:300]!r}")
        if (b"tool_calls" in reply.body) != (k % 2 == 0):  # a call, then text
            raise TurnFailed(f"turn {k}: unexpected reply {reply.body[:300]!r}")
        return reply.seconds

    return step, connection.close


# --------------------------------------------------------------------------- jobs


async def run_job(
    make: Callable[[int], Awaitable[tuple[Step, Callable[[], Any]]]],
    concurrency: int,
    warmup: int,
    limit: int,
    seconds: float,
    pid: int | None,
) -> Result:
    users = []
    try:
        for u in range(concurrency):
            users.append(await make(u))
        tally = Tally(warmup, limit, seconds, pid)
        await asyncio.gather(*(loop_user(step, tally) for step, _ in users))
        return tally.finish()
    finally:
        for _, close in users:
            await close()


@dataclass(slots=True)
class Row:
    transport: str
    concurrency: int
    turns: int
    errors: int
    overhead_p50_ms: float
    overhead_p99_ms: float
    cpu_ms_per_turn: float
    tether_p50_ms: float
    direct_p50_ms: float
    turns_per_s: float


def measure(
    runner: asyncio.Runner,
    stage: Stage,
    transport: str,
    concurrency: int,
    seconds: float,
) -> tuple[Result, Result]:
    """Through tether (time-bound), then straight to the upstream with as many turns."""
    tether_port, upstream_port = stage.tether.port, stage.upstream_port
    stream = transport != "http"

    def through(u: int) -> Awaitable[tuple[Step, Callable[[], Any]]]:
        if transport.startswith("ws"):
            return ws_step_for(tether_port, u, store=transport.endswith("true"))
        return http_step_for(tether_port, u, stream=transport == "http sse")

    def direct(u: int) -> Awaitable[tuple[Step, Callable[[], Any]]]:
        return direct_step_for(upstream_port, u, stream)

    warmup = TURNS * concurrency
    mine = runner.run(run_job(through, concurrency, warmup, 10**6, seconds, stage.tether.pid))
    theirs = runner.run(
        run_job(direct, concurrency, warmup, max(mine.turns, 1), seconds + 30, None)
    )
    for name, r in (("tether", mine), ("direct", theirs)):
        if r.errors:
            print(f"  {transport} c={concurrency} {name}: {r.errors} errors: {r.first_error}")
    return mine, theirs


def pooled(results: list[Result]) -> Result:
    total = Result()
    for r in results:
        total.turns += r.turns
        total.latencies += r.latencies
        total.errors += r.errors
        total.first_error = total.first_error or r.first_error
        total.cpu += r.cpu
        total.elapsed += r.elapsed
    return total


def row_of(transport: str, concurrency: int, mine: Result, direct: Result) -> Row:
    def ms(values: list[float], q: float) -> float:
        return percentile(values, q) * 1000

    return Row(
        transport=transport,
        concurrency=concurrency,
        turns=mine.turns,
        errors=mine.errors + direct.errors,
        overhead_p50_ms=ms(mine.latencies, 0.5) - ms(direct.latencies, 0.5),
        overhead_p99_ms=ms(mine.latencies, 0.99) - ms(direct.latencies, 0.99),
        cpu_ms_per_turn=mine.cpu / max(mine.turns, 1) * 1000,
        tether_p50_ms=ms(mine.latencies, 0.5),
        direct_p50_ms=ms(direct.latencies, 0.5),
        turns_per_s=mine.turns / mine.elapsed if mine.elapsed else math.nan,
    )


# --------------------------------------------------------------------------- tables


def _ratio(a: float, b: float) -> str:
    if not (math.isfinite(a) and math.isfinite(b)) or b <= 0:
        return "n/a"
    return f"{a / b:.2f}"


def tables(rows: list[Row], concurrencies: list[int]) -> str:
    by = {(r.transport, r.concurrency): r for r in rows}
    lines = [
        "Ratios against `http` (previous_response_id, JSON body), same run:",
        "",
        "| transport ÷ http | c | overhead p50 | overhead p99 | tether CPU/turn |",
        "|---|---:|---:|---:|---:|",
    ]
    for c in concurrencies:
        base = by[("http", c)]
        for t in TRANSPORTS:
            if t == "http":
                continue
            r = by[(t, c)]
            lines.append(
                f"| {t} | {c} | {_ratio(r.overhead_p50_ms, base.overhead_p50_ms)}"
                f" | {_ratio(r.overhead_p99_ms, base.overhead_p99_ms)}"
                f" | {_ratio(r.cpu_ms_per_turn, base.cpu_ms_per_turn)} |"
            )
    lines += [
        "",
        "Absolute (overhead: tether less direct upstream, continuation turns; CPU: the"
        " tether process per turn sent):",
        "",
        "| transport | c | overhead p50 ms | overhead p99 ms | tether CPU ms/turn"
        " | tether p50 ms | direct p50 ms | turns/s | turns | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in concurrencies:
        for t in TRANSPORTS:
            r = by[(t, c)]
            lines.append(
                f"| {t} | {c} | {r.overhead_p50_ms:.2f} | {r.overhead_p99_ms:.2f}"
                f" | {r.cpu_ms_per_turn:.3f} | {r.tether_p50_ms:.2f} | {r.direct_p50_ms:.2f}"
                f" | {r.turns_per_s:.0f} | {r.turns} | {r.errors} |"
            )
    return "\n".join(lines)


def _runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time of a job")
    parser.add_argument("--concurrency", default="1,8", help="loops at once, comma-separated")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, alternating the order")
    add_service_options(parser)
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    stop_on_sigterm()
    started, load = time.monotonic(), machine.load()
    raw: dict[tuple[str, int], list[tuple[Result, Result]]] = {}
    with (
        Session(Options.of(args, QUICK)) as session,
        _runner() as runner,
        session.tether(1, redis=True) as stage,
    ):
        for n in range(args.rounds):
            order = TRANSPORTS if n % 2 == 0 else TRANSPORTS[::-1]  # drift cancels out
            for c in concurrencies:
                for transport in order:
                    mine, direct = measure(runner, stage, transport, c, args.seconds)
                    raw.setdefault((transport, c), []).append((mine, direct))
                    r = row_of(transport, c, mine, direct)
                    print(
                        f"  round {n + 1} {transport:<15} c={c}: overhead p50"
                        f" {r.overhead_p50_ms:.2f} p99 {r.overhead_p99_ms:.2f} ms,"
                        f" CPU {r.cpu_ms_per_turn:.3f} ms/turn, {r.turns} turns,"
                        f" errors {r.errors}",
                        flush=True,
                    )
    rows = [
        row_of(t, c, pooled([m for m, _ in pairs]), pooled([d for _, d in pairs]))
        for (t, c), pairs in raw.items()
    ]
    print()
    print(tables(rows, concurrencies))
    print()
    print(f"command: {shlex.join(['.venv/bin/python', 'bench/transports.py', *sys.argv[1:]])}")
    print("; ".join(machine.describe(ROOT, args.redis_url, args.postgres_url)))
    print(f"{load}; wall {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
