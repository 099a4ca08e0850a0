"""The scenarios: each case runs through tether, then straight to the fake upstream.

The direct side sends the same number of requests with the same bodies (the messages
tether would replay), so every figure is a difference or ratio taken in the same run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.driver import MACHINE
from harness.jobs import Job, Target, Workload
from harness.processes import Child, Driver, Tether
from harness.procstat import peak_rss_mb, pids_named
from harness.summary import Latency, Throughput

UPSTREAM_MODEL = "bench-model"
ROUTE = "bench"
# The same fake, streaming like a real model: PACE_MS between streamed events.
PACE_MS = 1
PACED_UPSTREAM_MODEL = f"{UPSTREAM_MODEL}@{PACE_MS}ms"
PACED_ROUTE = "bench-paced"
CONCURRENCY = (1, 16, 64)
THROUGHPUT_CONCURRENCY = (16, 64)
CHAIN_TURNS = 10
WORKER = "worker:"  # CPU groups of single tether workers
OWN_GROUPS = ("tether", "upstream", "driver", "redis", "postgres")


@dataclass(frozen=True, slots=True)
class Budget:
    requests: int  # measured requests, at most
    seconds: float  # time limit of one job
    warmup: int


@dataclass(frozen=True, slots=True)
class Budgets:
    latency: Budget
    stream: Budget
    large: Budget  # 100 KB prompts
    history: Budget
    throughput: Budget


FULL = Budgets(  # about 2 minutes a run
    latency=Budget(3000, 4.0, 100),
    stream=Budget(600, 3.0, 20),
    large=Budget(300, 3.0, 10),
    history=Budget(1000, 3.0, 20),
    throughput=Budget(200_000, 6.0, 300),
)
QUICK = Budgets(  # about 1 minute
    latency=Budget(600, 1.5, 50),
    stream=Budget(150, 1.5, 10),
    large=Budget(60, 1.5, 5),
    history=Budget(300, 1.5, 10),
    throughput=Budget(200_000, 3.0, 100),
)


def tether_config(upstream_port: int, database_url: str, redis_url: str | None) -> dict[str, Any]:
    """One route to the fake upstream; Redis + PostgreSQL, or PostgreSQL alone (synchronous)."""
    config: dict[str, Any] = {
        "model_list": [
            {
                "model_name": route,
                "litellm_params": {
                    "model": f"openai/{model}",
                    "api_base": f"http://127.0.0.1:{upstream_port}/v1",
                    "api_key": "sk-bench",
                },
            }
            for route, model in ((ROUTE, UPSTREAM_MODEL), (PACED_ROUTE, PACED_UPSTREAM_MODEL))
        ],
        "general_settings": {"database_url": database_url},
    }
    if redis_url is not None:
        config["router_settings"] = {"redis_url": redis_url}
    return config


@dataclass(slots=True)
class Stage:
    """What one tether's scenarios run against."""

    run: int
    driver: Driver
    upstream: Child
    upstream_port: int
    tether: Tether
    budgets: Budgets

    @property
    def via_tether(self) -> Target:
        return Target("127.0.0.1", self.tether.port, "responses", ROUTE)

    @property
    def direct(self) -> Target:
        return Target("127.0.0.1", self.upstream_port, "chat", UPSTREAM_MODEL)

    def targets(self, *, paced: bool = False) -> tuple[Target, Target]:
        """Through tether and straight to the upstream; paced: a model that streams
        PACE_MS between events."""
        if not paced:
            return self.via_tether, self.direct
        return (
            Target("127.0.0.1", self.tether.port, "responses", PACED_ROUTE),
            Target("127.0.0.1", self.upstream_port, "chat", PACED_UPSTREAM_MODEL),
        )

    def watch(self) -> dict[str, list[int]]:
        workers = self.tether.worker_pids()
        groups = {
            "tether": sorted({self.tether.pid, *workers}),
            "upstream": [self.upstream.pid],
            "driver": [self.driver.pid],
            "redis": pids_named("redis-server"),
            "postgres": pids_named("postgres"),
        }
        return groups | {f"{WORKER}{pid}": [pid] for pid in workers}

    def pair(
        self,
        scenario: str,
        case: str,
        workload: Workload,
        concurrency: int,
        budget: Budget,
        *,
        paced: bool = False,
    ) -> list[Latency]:
        """Tether first (time-bound), then direct with as many measured requests."""
        rows = []
        requests = budget.requests
        for name, target in zip(("tether", "direct"), self.targets(paced=paced), strict=True):
            job = Job(target, workload, concurrency, requests, budget.warmup, budget.seconds)
            result = self.driver.run(job)
            requests = max(result.requests, 1)
            row = Latency.of(
                result,
                run=self.run,
                scenario=scenario,
                case=case,
                target=name,
                concurrency=concurrency,
            )
            if name == "tether":
                row.peak_rss_mb = self.peak_rss_mb()
            rows.append(row)
        return rows

    def peak_rss_mb(self) -> float:
        return round(max(peak_rss_mb(pid) for pid in self.tether.worker_pids()), 1)


def overhead(stage: Stage) -> list[Latency]:
    """1: fresh non-streaming turns at concurrency 1, 16 and 64."""
    return [
        row
        for c in CONCURRENCY
        for row in stage.pair("fresh", f"c={c}", Workload("fresh"), c, stage.budgets.latency)
    ]


def chains(stage: Stage, store: str) -> list[Latency]:
    """2: 10-turn chains, previous_response_id on every measured turn (lookup + record)."""
    workload = Workload("chain", turns=CHAIN_TURNS)
    return [
        row
        for c in CONCURRENCY
        for row in stage.pair(f"chain-{store}", f"c={c}", workload, c, stage.budgets.latency)
    ]


def streaming(stage: Stage) -> list[Latency]:
    """3: time to first text delta, and the gaps between deltas: ~200-delta replies the
    upstream sends in one burst, then ~40-delta replies paced PACE_MS a delta."""
    burst, paced = Workload("stream"), Workload("stream", input_bytes=256, long_reply=False)
    budget = stage.budgets.stream
    return [
        *(row for c in (1, 16) for row in stage.pair("stream", f"c={c}", burst, c, budget)),
        *(
            row
            for c in (1, 16)
            for row in stage.pair("stream", f"paced c={c}", paced, c, budget, paced=True)
        ),
    ]


def prompt_sizes(stage: Stage) -> list[Latency]:
    """4: a 1 KB and a 100 KB prompt, and a turn continuing a 50-turn chain (c=1)."""
    b = stage.budgets
    return [
        *stage.pair("prompt", "1 KB", Workload("fresh", input_bytes=1024), 1, b.latency),
        *stage.pair("prompt", "100 KB", Workload("fresh", input_bytes=100 * 1024), 1, b.large),
        *stage.pair(
            "prompt", "50 turns", Workload("history", input_bytes=256, turns=50), 1, b.history
        ),
    ]


def throughput(stage: Stage) -> list[Throughput]:
    """5: chain turns per second (every turn a Redis lookup + record), CPU and memory."""
    rows = []
    for c in THROUGHPUT_CONCURRENCY:
        for name, target in (("tether", stage.via_tether), ("direct", stage.direct)):
            rows.append(_throughput_of(stage, name, target, c))
    return rows


def _throughput_of(stage: Stage, name: str, target: Target, concurrency: int) -> Throughput:
    b = stage.budgets.throughput
    workload = Workload("chain", turns=CHAIN_TURNS)
    job = Job(target, workload, concurrency, b.requests, b.warmup, b.seconds, watch=stage.watch())
    result = stage.driver.run(job)
    elapsed = max(result.elapsed, 1e-9)
    turns = max(result.requests - result.errors + result.unmeasured, 1)
    latency = Latency.of(result, run=0, scenario="", case="", target=name, concurrency=concurrency)
    util = {group: round(seconds / elapsed, 3) for group, seconds in result.cpu.items()}
    other = util.get(MACHINE, 0.0) - sum(util.get(group, 0.0) for group in OWN_GROUPS)
    split = " + ".join(f"{v:.2f}" for k, v in sorted(util.items()) if k.startswith(WORKER))
    return Throughput(
        run=stage.run,
        target=name,
        workers=stage.tether.workers,
        concurrency=concurrency,
        turns=turns,
        errors=result.errors,
        seconds=round(result.elapsed, 3),
        turns_per_s=round(turns / elapsed, 1),
        lookup_turns_per_s=round(result.rate, 1),
        p50_ms=latency.p50_ms,
        p99_ms=latency.p99_ms,
        tether_cpu_ms_per_turn=round(result.cpu.get("tether", 0.0) / turns * 1000, 3),
        tether_cpu_util=util.get("tether", 0.0),
        upstream_cpu_util=util.get("upstream", 0.0),
        driver_cpu_util=util.get("driver", 0.0),
        redis_cpu_util=util.get("redis", 0.0),
        postgres_cpu_util=util.get("postgres", 0.0),
        other_cpu_util=round(max(other, 0.0), 3),
        worker_cores=split,
        peak_rss_mb=stage.peak_rss_mb(),
    )
