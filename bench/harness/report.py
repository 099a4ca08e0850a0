"""Writes the results: CSV tables, RESULTS.md, and (through `plots`) PNG charts."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.compare import Comparison, TargetCheck, compare, medians, targets
from harness.summary import Latency, Throughput


@dataclass(slots=True)
class Results:
    latency: list[Latency] = field(default_factory=list)
    throughput: list[Throughput] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Meta:
    command: str
    date: str
    machine: list[str]  # "name: value" lines
    runs: int
    mode: str  # quick | full
    wall_seconds: float


def write_csv(path: Path, rows: Sequence[Any]) -> None:
    if not rows:
        return
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)


def write_all(results: Results, meta: Meta, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    per_run = compare(results.latency)
    compared = medians(per_run, lambda r: (r.scenario, r.case))
    throughput = medians(results.throughput, lambda r: (r.target, r.workers, r.concurrency))
    checks = targets(compared, throughput)
    write_csv(out / "latency.csv", results.latency)
    write_csv(out / "overhead.csv", per_run)
    write_csv(out / "throughput.csv", results.throughput)
    write_csv(out / "targets.csv", checks)
    written = [
        out / name for name in ("latency.csv", "overhead.csv", "throughput.csv", "targets.csv")
    ]
    try:
        from harness import plots  # optional: the tables come first
    except ImportError:
        print("matplotlib is not installed: no PNG charts (pip install matplotlib)")
    else:
        written += plots.draw_all(compared, throughput, out)
    (out / "RESULTS.md").write_text(markdown(compared, throughput, checks, meta, written))
    return [*written, out / "RESULTS.md"]


def _f(value: float, digits: int = 2) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _targets(checks: list[TargetCheck]) -> list[str]:
    rows = [
        (c.name, c.limit, f"{_f(c.measured)} {c.unit}", "met" if c.met else "**not met**")
        for c in checks
    ]
    return _table(("target", "limit", "measured", ""), rows)


def _latency(rows: list[Comparison]) -> list[str]:
    head = (
        "case",
        "direct p50",
        "tether p50",
        "overhead p50",
        "direct p99",
        "tether p99",
        "overhead p99",
        "x-tether-overhead-ms p50 / p99",
        "tether req/s",
        "direct req/s",
        "tether peak RSS MB",
    )
    body = [
        (
            r.case,
            _f(r.direct_p50_ms),
            _f(r.tether_p50_ms),
            f"**{_f(r.overhead_p50_ms)}**",
            _f(r.direct_p99_ms),
            _f(r.tether_p99_ms),
            f"**{_f(r.overhead_p99_ms)}**",
            f"{_f(r.header_p50_ms)} / {_f(r.header_p99_ms)}",
            _f(r.tether_rate, 0),
            _f(r.direct_rate, 0),
            _f(r.peak_rss_mb, 0),
        )
        for r in rows
    ]
    return _table(head, body)


def _streaming(rows: list[Comparison]) -> list[str]:
    head = (
        "case",
        "TTFT direct p50",
        "TTFT tether p50",
        "TTFT overhead p50",
        "TTFT overhead p99",
        "gap p99 direct",
        "gap p99 tether",
        "x-tether-overhead-ms p50",
        "tether streams/s",
    )
    body = [
        (
            r.case,
            _f(r.ttft_direct_p50_ms),
            _f(r.ttft_tether_p50_ms),
            f"**{_f(r.ttft_overhead_p50_ms)}**",
            _f(r.ttft_overhead_p99_ms),
            _f(r.gap_direct_p99_ms, 3),
            _f(r.gap_tether_p99_ms, 3),
            _f(r.header_p50_ms),
            _f(r.tether_rate, 0),
        )
        for r in rows
    ]
    return _table(head, body)


def _throughput(rows: list[Throughput]) -> list[str]:
    head = (
        "target",
        "workers",
        "c",
        "continuations/s",
        "all turns/s",
        "p50 ms",
        "p99 ms",
        "tether CPU ms/turn",
        "cores: tether",
        "by worker",
        "upstream",
        "driver",
        "redis",
        "postgres",
        "others",
        "peak RSS/worker MB",
    )
    body = [
        (
            r.target,
            str(r.workers) if r.target == "tether" else f"({r.workers}, idle)",
            str(r.concurrency),
            f"**{_f(r.lookup_turns_per_s, 0)}**",
            _f(r.turns_per_s, 0),
            _f(r.p50_ms),
            _f(r.p99_ms),
            _f(r.tether_cpu_ms_per_turn, 3) if r.target == "tether" else "-",
            _f(r.tether_cpu_util),
            r.worker_cores if r.target == "tether" and r.workers > 1 else "-",
            _f(r.upstream_cpu_util),
            _f(r.driver_cpu_util),
            _f(r.redis_cpu_util),
            _f(r.postgres_cpu_util),
            _f(r.other_cpu_util),
            _f(r.peak_rss_mb, 1) if r.target == "tether" else "-",
        )
        for r in sorted(rows, key=lambda r: (r.target != "tether", r.workers, r.concurrency))
    ]
    return _table(head, body)


_METHOD = """\
- Every case runs through tether and then straight to the fake upstream (same process,
  same run) with the same number of requests; the direct requests carry exactly the
  messages tether replays upstream (for a chain: the whole history). Overhead = tether
  minus direct, percentile by percentile. Latency is measured by the load driver from
  writing the request to reading the last byte (streams: the first
  `response.output_text.delta` event vs the first chat chunk with content).
- Closed loop: `c` virtual users, each on one keep-alive HTTP/1.1 connection, send
  their next request when the previous reply is read. Users connect one after another
  (connections opened in one burst tend to land on one uvicorn worker; "by worker"
  shows how the load spread). The driver is raw asyncio streams on uvloop in its own
  process; its ceiling is the direct rows' rate.
- Streams: "c=N" replies are ~200 one-word deltas the fake upstream writes at once, a
  burst no model produces: tether relays the rest of it while the client reads the
  first token, and on 2 cores the three processes queue for CPU. "paced" replies are
  ~40 deltas the upstream sends 1 ms apart (a model at 1,000 tokens/s, still faster
  than any real one): time to first token and the gaps between tokens as a client of
  a real model sees them.
- Chains: each virtual user sends a root turn (a new session), continues it 10 turns
  deep, then starts a new chain. Only the continuations are timed: each carries
  `previous_response_id` (a chain lookup of 1-10 turns, and a record). Throughput
  gives the continuations per second (the target) and all turns per second (roots
  too: 1 in 11). "50 turns": every measured turn continues the same 50-turn chain
  with `store: false`, so the session keeps its 50 records (the default cap) and the
  case measures the lookup and replay of 50 turns. tether runs its default
  `session_cache` settings.
- CPU: user + system time from `/proc/<pid>/stat` over the measured window (tether:
  the server and its workers; redis and postgres: every process of that name on the
  machine; "others": the rest of the machine's busy time, from `/proc/stat`, i.e.
  other people's work, which skews every figure when it is not near 0). Peak RSS:
  `VmHWM` of tether's largest worker after the case (it only grows; the 100 KB prompts
  run last for that reason).
- 2 cores are shared by tether, the fake upstream, the driver, Redis and PostgreSQL:
  the "cores" columns show where they went.
"""


def _others(rows: list[Throughput]) -> str:
    busiest = max((r.other_cpu_util for r in rows), default=math.nan)
    note = " (**others shared the machine: figures are skewed**)" if busiest > 0.2 else ""
    return f"at most {_f(busiest)}{note}"


def _profiles(out: Path) -> list[str]:
    """Links to the profiles bench/profile.py left beside the results, if any."""
    found = sorted(out.glob("PROFILE-*.md"))
    if not found:
        return []
    links = ", ".join(f"[{p.stem}]({p.name})" for p in found)
    return ["## Profiles", "", f"Made by `python bench/profile.py`: {links}.", ""]


def markdown(
    compared: list[Comparison],
    throughput: list[Throughput],
    checks: list[TargetCheck],
    meta: Meta,
    files: list[Path],
) -> str:
    def section(scenario: str) -> list[Comparison]:
        return [r for r in compared if r.scenario == scenario]

    errors = sum(r.errors for r in compared) + sum(r.errors for r in throughput)
    lines = [
        "# tether benchmarks",
        "",
        f"- command: `{meta.command}` ({meta.mode}, {meta.runs} run(s); figures are medians "
        f"across runs; {meta.wall_seconds:.0f} s)",
        f"- date: {meta.date}",
        *[f"- {line}" for line in meta.machine],
        f"- failed requests: {errors}",
        f"- cores busy with other processes during the throughput runs: {_others(throughput)}",
        "",
        "Milliseconds unless said otherwise. Raw figures: "
        + ", ".join(f"[{p.name}]({p.name})" for p in files if p.suffix == ".csv")
        + ".",
        "",
        "## Targets",
        "",
        *_targets(checks),
        "",
        "## 1. Overhead, fresh non-streaming turns",
        "",
        *_latency(section("fresh")),
        "",
        "## 2. 10-turn chains: Redis + PostgreSQL",
        "",
        *_latency(section("chain-redis")),
        "",
        "## 2b. 10-turn chains: PostgreSQL only (synchronous writes, in-process cache)",
        "",
        *_latency(section("chain-database")),
        "",
        "## 3. Streaming (c=N: ~200 one-word deltas sent in one burst; paced: ~40 deltas, 1 ms apart)",
        "",
        *_streaming(section("stream")),
        "",
        "## 4. Prompt size (c=1)",
        "",
        *_latency(section("prompt")),
        "",
        "## 5. Throughput: 10-turn chains; continuations: a Redis lookup + record each",
        "",
        *_throughput(throughput),
        "",
        *_profiles(files[0].parent if files else Path()),
        "## Charts",
        "",
        *[f"![{p.stem}]({p.name})" for p in files if p.suffix == ".png"],
        "",
        "## Method",
        "",
        _METHOD,
    ]
    return "\n".join(lines)
