"""What the orchestrator asks of the load driver, and what the driver sends back (JSON lines)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import orjson

Dialect = Literal["responses", "chat"]  # tether's Responses API, or the upstream's chat API
WorkloadKind = Literal["fresh", "chain", "history", "stream"]


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int
    dialect: Dialect
    model: str  # `model` as this target names it (tether's route, or the upstream model)


@dataclass(frozen=True, slots=True)
class Workload:
    """fresh: independent turns; chain: each user makes a root turn, continues it `turns`
    deep, then starts a new chain; history: every turn continues (store: false) one
    `turns`-deep chain made before timing; stream: fresh streamed turns."""

    kind: WorkloadKind
    input_bytes: int = 64
    turns: int = 1
    long_reply: bool = True  # stream: a reply of ~200 deltas; else ~input_bytes / 6


@dataclass(frozen=True, slots=True)
class Job:
    target: Target
    workload: Workload
    concurrency: int
    requests: int  # measured requests (upper bound)
    warmup: int = 0  # requests sent first and not recorded
    seconds: float = 30.0  # time limit of the whole job, setup excluded
    watch: dict[str, list[int]] = field(default_factory=dict)  # CPU of these pids, by group
    result_path: str = ""  # where the driver writes the Result (a file, not the pipe)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes) -> Job:
        data = orjson.loads(raw)
        return cls(
            target=Target(**data.pop("target")), workload=Workload(**data.pop("workload")), **data
        )


@dataclass(slots=True)
class Result:
    """Seconds throughout; `overhead_ms` is tether's own x-tether-overhead-ms header."""

    requests: int = 0
    errors: int = 0
    unmeasured: int = 0  # turns sent in the measured window but not timed (chain roots)
    first_error: str = ""
    elapsed: float = 0.0  # from the first measured request sent to the last reply read
    latencies: list[float] = field(default_factory=list)
    overhead_ms: list[float] = field(default_factory=list)
    ttft: list[float] = field(default_factory=list)  # streamed: first content delta
    gaps: list[float] = field(default_factory=list)  # streamed: between content deltas
    deltas: list[int] = field(default_factory=list)  # streamed: content deltas per reply
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of each watched group

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes) -> Result:
        data: dict[str, Any] = orjson.loads(raw)
        return cls(**data)

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0
