"""Profile one tether worker under load with py-spy: where the CPU of a turn goes.

    .venv/bin/python bench/profile.py                       # 10-turn chains, c=16, 15 s
    .venv/bin/python bench/profile.py --workload fresh --concurrency 1

Needs py-spy (`pip install py-spy`) and the rights to attach to a process (root, or
ptrace allowed). Writes docs/benchmarks/PROFILE-<workload>.md (top costs) and
profile-<workload>.folded.gz (collapsed stacks: gunzip, then open in speedscope or
feed to flamegraph.pl).
"""

from __future__ import annotations

import argparse
import gzip
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from harness import scenarios
from harness.jobs import Job, Workload
from harness.processes import ROOT, Child
from harness.session import Options, Session, add_service_options, stop_on_sigterm
from harness.stacks import Profile, markdown

WORKLOADS = {
    "chain": Workload("chain", turns=scenarios.CHAIN_TURNS),
    "fresh": Workload("fresh"),
    "stream": Workload("stream"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="chain")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    add_service_options(parser)
    return parser


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    stop_on_sigterm()
    workload = WORKLOADS[args.workload]
    args.out.mkdir(parents=True, exist_ok=True)
    stacks = args.out / f"profile-{args.workload}.folded.gz"
    with (
        Session(Options.of(args, scenarios.FULL)) as session,
        session.tether(1, redis=True) as stage,
    ):
        warm = Job(stage.via_tether, workload, args.concurrency, 100_000, 0, 3.0)
        stage.driver.run(warm)
        command = [_py_spy(), "record", "--pid", str(stage.tether.pid), "--rate", str(args.rate)]
        command += ["--duration", f"{args.seconds:.0f}", "--format", "raw", "--nolineno"]
        folded = session.workdir / "stacks.folded"
        spy = Child("py-spy", [*command, "--output", str(folded)], session.workdir / "py-spy.log")
        try:
            time.sleep(1.0)  # py-spy attaches
            job = Job(stage.via_tether, workload, args.concurrency, 1_000_000, 0, args.seconds - 2)
            result = stage.driver.run(job)
            spy.process.wait(args.seconds + 30)
        finally:
            spy.stop()
        if not folded.exists():
            raise SystemExit(f"py-spy recorded nothing (can it attach?):\n{spy.tail()}")
        profile = Profile.read(folded)
        stacks.write_bytes(gzip.compress(folded.read_bytes()))
    turns = result.requests + result.unmeasured  # chains: the roots too
    context = [
        f"command: `{shlex.join(['python', 'bench/profile.py', *(argv or sys.argv[1:])])}`",
        f"load: {args.workload} turns through one tether worker (Redis + PostgreSQL) at"
        f" c={args.concurrency}, {turns / max(result.elapsed, 1e-9):.0f} turns/s while sampled"
        f" at {args.rate} Hz",
        f"stacks: [{stacks.name}]({stacks.name})",
    ]
    report = args.out / f"PROFILE-{args.workload}.md"
    title = f"Where tether's CPU goes: {args.workload} turns"
    report.write_text(markdown(profile, title, context))
    print(f"wrote {report}\nwrote {stacks}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
