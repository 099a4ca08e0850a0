"""Rows of the result tables, summarised from the driver's raw samples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from harness.jobs import Result


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _ms(values: Sequence[float], q: float) -> float:
    return round(percentile(values, q) * 1000, 3)


@dataclass(slots=True)
class Latency:
    """One side (tether or direct) of one case of a latency scenario."""

    run: int
    scenario: str
    case: str
    target: str  # tether | direct
    concurrency: int
    requests: int
    errors: int
    rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    header_p50_ms: float  # tether's own x-tether-overhead-ms
    header_p99_ms: float
    ttft_p50_ms: float  # streamed replies only
    ttft_p99_ms: float
    gap_p50_ms: float
    gap_p99_ms: float
    gap_max_ms: float
    deltas: float  # content deltas per streamed reply (median)
    peak_rss_mb: float = math.nan  # tether: VmHWM of its largest worker after this case

    @classmethod
    def of(
        cls, result: Result, *, run: int, scenario: str, case: str, target: str, concurrency: int
    ) -> Latency:
        lat, head = result.latencies, result.overhead_ms
        mean = sum(lat) / len(lat) * 1000 if lat else math.nan
        return cls(
            run=run,
            scenario=scenario,
            case=case,
            target=target,
            concurrency=concurrency,
            requests=result.requests,
            errors=result.errors,
            rate=round(result.rate, 1),
            p50_ms=_ms(lat, 0.5),
            p90_ms=_ms(lat, 0.9),
            p99_ms=_ms(lat, 0.99),
            mean_ms=round(mean, 3),
            header_p50_ms=round(percentile(head, 0.5), 3),
            header_p99_ms=round(percentile(head, 0.99), 3),
            ttft_p50_ms=_ms(result.ttft, 0.5),
            ttft_p99_ms=_ms(result.ttft, 0.99),
            gap_p50_ms=_ms(result.gaps, 0.5),
            gap_p99_ms=_ms(result.gaps, 0.99),
            gap_max_ms=round(max(result.gaps, default=math.nan) * 1000, 3),
            deltas=percentile([float(n) for n in result.deltas], 0.5),
        )


@dataclass(slots=True)
class Throughput:
    """Turns per second of one target at one concurrency, with the CPU it cost."""

    run: int
    target: str  # tether | direct
    workers: int
    concurrency: int
    turns: int  # every turn served in the window: continuations and the chains' roots
    errors: int
    seconds: float
    turns_per_s: float
    lookup_turns_per_s: float  # the continuations alone: a chain lookup + a record each
    p50_ms: float
    p99_ms: float
    tether_cpu_ms_per_turn: float  # tether processes' user+system CPU / turns
    tether_cpu_util: float  # cores busy in tether processes during the run
    upstream_cpu_util: float
    driver_cpu_util: float
    redis_cpu_util: float
    postgres_cpu_util: float
    other_cpu_util: float  # everything else on the machine (other users' processes)
    worker_cores: str  # tether's cores by worker: how evenly the connections spread
    peak_rss_mb: float  # VmHWM, largest of the tether workers
