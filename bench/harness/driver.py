"""The load driver, run as its own process: reads Jobs as JSON lines on stdin, answers Results.

Closed loop: `concurrency` virtual users, each on its own keep-alive connection, send
their next request as soon as the previous reply is read.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.dialects import Conversation, Dialect, dialect_for
from harness.http import Connection, HttpError, Reply
from harness.jobs import Job, Result, Workload
from harness.procstat import cpu_seconds, machine_busy_seconds

OVERHEAD_HEADER = b"x-tether-overhead-ms"
MACHINE = "machine"  # every process on the machine, in Result.cpu


def text_of(size: int, label: str) -> str:
    """About `size` bytes of words; the label keeps turns of a chain apart."""
    head = f"bench {label}:"
    words = max(0, (size - len(head)) // 6)
    return head + " lorem" * words


class Tally:
    """Hands out request slots (warm-up first) and gathers what the measured ones saw."""

    def __init__(self, job: Job) -> None:
        self._warmup, self._total = job.warmup, job.warmup + job.requests
        self._issued = 0
        self._watch = job.watch
        self._cpu_start: dict[str, float] = {}
        self.deadline = time.perf_counter() + job.seconds
        self.result = Result()
        self.first_sent = math.inf
        self.last_done = 0.0

    def take(self) -> bool | None:
        """None: stop; otherwise whether this request is measured."""
        if self._issued >= self._total or time.perf_counter() >= self.deadline:
            return None
        self._issued += 1
        if self._issued == self._warmup + 1:
            self._cpu_start = self._cpu()  # the measured window starts
        return self._issued > self._warmup

    def _cpu(self) -> dict[str, float]:
        found = {group: cpu_seconds(pids) for group, pids in self._watch.items()}
        return {**found, MACHINE: machine_busy_seconds()}

    def record(self, reply: Reply, dialect: Dialect) -> None:
        self.first_sent = min(self.first_sent, reply.sent_at)
        self.last_done = max(self.last_done, reply.done_at)
        result = self.result
        result.requests += 1
        if reply.status != 200:
            self.error(f"HTTP {reply.status}: {reply.body[:300].decode(errors='replace')}")
            return
        result.latencies.append(reply.seconds)
        overhead = reply.headers.get(OVERHEAD_HEADER)
        if overhead is not None:
            result.overhead_ms.append(float(overhead))
        if reply.chunks:
            _add_stream_timing(result, reply, dialect)

    def error(self, message: str) -> None:
        self.result.errors += 1
        self.result.first_error = self.result.first_error or message

    def finish(self) -> Result:
        if self.last_done > 0:
            self.result.elapsed = self.last_done - self.first_sent
        if self._cpu_start:
            end = self._cpu()
            self.result.cpu = {g: max(end[g] - self._cpu_start[g], 0.0) for g in end}
        return self.result


def _add_stream_timing(result: Result, reply: Reply, dialect: Dialect) -> None:
    arrivals: list[float] = []
    pending = b""
    for arrival, data in reply.chunks:
        pending += data
        *events, pending = pending.split(b"\n\n")
        arrivals += [arrival for event in events if dialect.is_content(event)]
    if not arrivals:
        return
    result.ttft.append(arrivals[0] - reply.sent_at)
    result.gaps += [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    result.deltas.append(len(arrivals))


@dataclass(slots=True)
class User:
    """One virtual user: its connection and where its conversation stands."""

    index: int
    connection: Connection
    dialect: Dialect
    workload: Workload
    conversation: Conversation | None = None  # chains: None until the next root is made
    depth: int = 0
    roots: int = 0  # chain roots sent, each a turn of its own

    async def turn(self, body: bytes) -> Reply:
        reply = await self.connection.post(self.dialect.path, body)
        if reply.status != 200:
            raise HttpError(f"unmeasured turn failed: HTTP {reply.status} {reply.body[:200]!r}")
        return reply

    async def setup(self) -> None:
        """Before timing: the connection and a first turn on it (a chain user's first root,
        a history user's deep chain), so that the next user connects while this one's
        worker is busy and the kernel hands it to another worker."""
        await self.connection.open()
        if self.workload.kind == "history":
            self.conversation = await self._history(self.workload.turns)
        elif self.workload.kind == "chain":
            await self._root()

    async def _history(self, turns: int) -> Conversation:
        conversation = Conversation()
        for n in range(turns):
            text = text_of(self.workload.input_bytes, f"history {self.index}.{n}")
            body = self.dialect.follow(conversation, text) if n else self.dialect.fresh(text)
            conversation = self.dialect.advance(conversation, text, (await self.turn(body)).body)
        return conversation

    async def run(self, tally: Tally) -> None:
        step = self._step_for()
        while (measured := tally.take()) is not None:
            roots = self.roots
            try:
                reply = await step()
            except HttpError as exc:
                if measured:
                    tally.error(str(exc))
                self.conversation = None
                continue
            if measured:
                tally.record(reply, self.dialect)
                tally.result.unmeasured += self.roots - roots
            if reply.status != 200:
                self.conversation = None

    def _step_for(self) -> Callable[[], Coroutine[Any, Any, Reply]]:
        kind, size, path = self.workload.kind, self.workload.input_bytes, self.dialect.path
        if kind == "chain":
            return self._chain_step
        streamed = kind == "stream"
        if kind == "history":  # siblings, not stored: the 50-turn session stays as it is
            assert self.conversation is not None
            text = text_of(size, f"next {self.index}")
            body = self.dialect.follow(self.conversation, text, store=False)
        elif streamed:  # "[long]" asks the fake upstream for a reply of ~200 one-word deltas
            label = "stream [long]" if self.workload.long_reply else "stream"
            body = self.dialect.fresh(text_of(size, label), stream=True)
        else:
            body = self.dialect.fresh(text_of(size, "fresh"))
        return lambda: self.connection.post(path, body, streamed=streamed)

    async def _root(self) -> Conversation:
        text = text_of(self.workload.input_bytes, f"root {self.index}.{self.roots}")
        reply = await self.turn(self.dialect.fresh(text))
        self.depth = 0
        self.conversation = self.dialect.advance(Conversation(), text, reply.body)
        return self.conversation

    async def _chain_step(self) -> Reply:
        """The next continuation; a chain starts with a root turn (a new session), sent
        first and counted apart, so every measured turn carries previous_response_id."""
        conversation = self.conversation
        if conversation is None:
            conversation = await self._root()
            self.roots += 1
        text = text_of(self.workload.input_bytes, f"turn {self.index}.{self.depth}")
        body = self.dialect.follow(conversation, text)
        reply = await self.connection.post(self.dialect.path, body)
        if reply.status == 200:
            self.depth += 1
            done = self.depth >= self.workload.turns
            self.conversation = (
                None if done else self.dialect.advance(conversation, text, reply.body)
            )
        return reply


async def run_job(job: Job) -> Result:
    dialect = dialect_for(job.target)
    users = [
        User(i, Connection(job.target.host, job.target.port), dialect, job.workload)
        for i in range(job.concurrency)
    ]
    try:
        # One user after another, as clients arrive: connections opened all at once tend to
        # be accepted by the same uvicorn worker, which would leave the others idle.
        for user in users:
            await user.setup()
        tally = Tally(job)
        await asyncio.gather(*(user.run(tally) for user in users))
        return tally.finish()
    finally:
        await asyncio.gather(*(user.connection.close() for user in users))


def _runner() -> asyncio.Runner:
    try:
        import uvloop  # optional: the driver works without it
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def main() -> None:
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        job = Job.from_json(line)
        print(f"job: {job.target.dialect} {job.workload} c={job.concurrency}", file=sys.stderr)
        with _runner() as runner:
            try:
                result = runner.run(run_job(job))
            except (HttpError, OSError) as exc:
                result = Result(errors=1, first_error=f"job failed: {exc!r}")
        # The result goes through a file and only "done" through the pipe: results of
        # hundreds of KB written to the pipe sometimes never arrived whole here.
        Path(job.result_path).write_bytes(result.to_json())
        sys.stdout.buffer.write(b"done\n")
        sys.stdout.buffer.flush()
        print(f"done: {result.requests} requests", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
