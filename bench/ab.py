"""A/B: the throughput scenario for two or more source trees, alternating, in one session.

    git worktree add /tmp/before HEAD~3
    python bench/ab.py --rounds 3 before=/tmp/before/src after=src

Each round starts one tether per tree in turn (the tree's `src` first on PYTHONPATH),
runs scenario 5 (10-turn chains, c=16 and c=64, one worker, Redis + PostgreSQL) and the
overhead of a 10-turn chain's turn at c=1 (tether's latency less the direct upstream's,
p50 and p99), and stops it; then prints every tree's medians. Alternating in one session keeps a shared
machine's drift out of the comparison as far as it can be: single full runs of
bench/run.py differ by ±5% in turns/s on the 2-core machine the docs quote.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from harness import scenarios
from harness.jobs import Workload
from harness.scenarios import Budget, Budgets
from harness.session import Options, Session, add_service_options, stop_on_sigterm

BUDGETS = Budgets(
    latency=Budget(1500, 2.0, 100),
    stream=Budget(300, 2.0, 20),
    large=Budget(60, 1.5, 5),
    history=Budget(300, 1.5, 10),
    throughput=Budget(200_000, 4.0, 200),
)


def _tree(spec: str) -> tuple[str, Path]:
    name, _, path = spec.partition("=")
    if not name or not path or not (Path(path) / "tether").is_dir():
        raise argparse.ArgumentTypeError(f"{spec!r}: want NAME=PATH, PATH holding tether/")
    return name, Path(path).resolve()


def _f(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("trees", nargs="+", type=_tree, help="NAME=PATH to a src directory")
    parser.add_argument("--rounds", type=int, default=3)
    add_service_options(parser)
    args = parser.parse_args()
    stop_on_sigterm()
    figures: dict[str, dict[str, list[float]]] = {name: {} for name, _ in args.trees}
    with Session(Options.of(args, BUDGETS)) as session:
        for run in range(1, args.rounds + 1):
            for name, path in args.trees:
                os.environ["PYTHONPATH"] = str(path)  # the tether process imports this tree
                with session.tether(run, redis=True) as stage:
                    mine = figures[name]
                    chain = Workload("chain", turns=scenarios.CHAIN_TURNS)
                    tether, direct = stage.pair("chain", "c=1", chain, 1, BUDGETS.latency)
                    for q in ("p50", "p99"):
                        overhead = getattr(tether, f"{q}_ms") - getattr(direct, f"{q}_ms")
                        mine.setdefault(f"overhead {q} ms c=1", []).append(overhead)
                    for row in scenarios.throughput(stage):
                        if row.target != "tether":
                            continue
                        c = row.concurrency
                        mine.setdefault(f"continuations/s c={c}", []).append(row.lookup_turns_per_s)
                        mine.setdefault(f"CPU ms/turn c={c}", []).append(row.tether_cpu_ms_per_turn)
                        mine.setdefault(f"p99 ms c={c}", []).append(row.p99_ms)
                print(f"round {run}: {name} done", flush=True)
    for name, mine in figures.items():
        medians = ", ".join(f"{k} {_f(statistics.median(v))}" for k, v in sorted(mine.items()))
        print(f"{name}: {medians}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
