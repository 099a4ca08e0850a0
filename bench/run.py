"""Benchmark tether against the fake upstream and write docs/benchmarks/.

    .venv/bin/python bench/run.py            # full: 3 runs, medians; about 6 minutes
    .venv/bin/python bench/run.py --quick    # 1 short run, about 1 minute

Starts the fake upstream, tether (Redis + PostgreSQL with 1 and 2 workers, and
PostgreSQL alone) and the load driver as processes of their own, on loopback only,
and stops every one of them at the end, also on error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from harness import machine, scenarios
from harness.processes import ROOT
from harness.report import Meta, Results, write_all
from harness.session import Options, Session, add_service_options, stop_on_sigterm
from harness.summary import Latency, Throughput


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one short run, about 1 minute")
    parser.add_argument("--runs", type=int, help="runs to take medians of (default 3; quick 1)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    add_service_options(parser)
    return parser


def one_run(session: Session, run: int, results: Results) -> None:
    """Each tether in turn; only one runs at a time, so none takes CPU from another."""
    with session.tether(run, redis=True) as stage:
        results.latency += _shown(scenarios.overhead(stage))
        results.latency += _shown(scenarios.chains(stage, "redis"))
        results.latency += _shown(scenarios.streaming(stage))
        results.throughput += _shown_throughput(scenarios.throughput(stage))
        results.latency += _shown(scenarios.prompt_sizes(stage))  # last: 100 KB turns raise RSS
    with session.tether(run, redis=False) as stage:
        results.latency += _shown(scenarios.chains(stage, "database"))
    with session.tether(run, redis=True, workers=2) as stage:
        results.throughput += _shown_throughput(scenarios.throughput(stage))


def _shown(rows: list[Latency]) -> list[Latency]:
    for tether, direct in zip(rows[::2], rows[1::2], strict=True):
        ttft = ""
        if tether.deltas == tether.deltas:  # not NaN: a streaming case
            ttft = f"  TTFT {direct.ttft_p50_ms:.2f} → {tether.ttft_p50_ms:.2f}"
        print(
            f"  {tether.scenario:<15}{tether.case:<9} direct → tether:"
            f" p50 {direct.p50_ms:.2f} → {tether.p50_ms:.2f}"
            f"  p99 {direct.p99_ms:.2f} → {tether.p99_ms:.2f} ms{ttft}"
            f"  ({tether.rate:.0f} req/s, errors {tether.errors + direct.errors})",
            flush=True,
        )
    return rows


def _shown_throughput(rows: list[Throughput]) -> list[Throughput]:
    for r in rows:
        cost = f", {r.tether_cpu_ms_per_turn:.2f} CPU ms/turn" if r.target == "tether" else ""
        print(
            f"  throughput {r.target:<6}  {r.workers} worker(s) c={r.concurrency}:"
            f" {r.lookup_turns_per_s:.0f} continuations/s, {r.turns_per_s:.0f} turns/s{cost}"
            f" (errors {r.errors})",
            flush=True,
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    budgets = scenarios.QUICK if args.quick else scenarios.FULL
    stop_on_sigterm()
    started, load = time.monotonic(), machine.load()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results = Results()
    with Session(Options.of(args, budgets)) as session:
        for run in range(1, runs + 1):
            print(f"run {run}/{runs}", flush=True)
            one_run(session, run, results)
    meta = Meta(
        command=shlex.join(["python", "bench/run.py", *(argv or sys.argv[1:])]),
        date=date,
        machine=[*machine.describe(ROOT, args.redis_url, args.postgres_url), load],
        runs=runs,
        mode="quick" if args.quick else "full",
        wall_seconds=time.monotonic() - started,
    )
    for path in write_all(results, meta, args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
