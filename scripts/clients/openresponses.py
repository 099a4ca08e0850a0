"""Client: the Open Responses compliance suite (bin/compliance-test.ts) against tether.

Run by scripts/clients/run.py, which sets the environment below. Needs a checkout of
https://github.com/openresponses/openresponses named by OPENRESPONSES_DIR; without one
it says how to get it and exits SKIPPED. The checkout is left untouched: its bin/ and
src/ are copied into the scratch folder, and the suite's runtime (bun, and zod at the
version the checkout's bun.lock pins) is installed there from npm.

Writes the suite's --json output to $CLIENTS_RESULTS/openresponses.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

BUN_VERSION = "1.4.5"
ZOD_FALLBACK = "3.25.76"  # when the checkout has no bun.lock to read the pin from
SKIPPED = 77  # the exit status run.py reads as "skipped" (automake's convention)
SUITE_TIMEOUT_SECONDS = 900
MAX_ERRORS_SHOWN = 3
HOW_TO_GET = """\
To run the Open Responses compliance suite, check it out and name the checkout:
  git clone https://github.com/openresponses/openresponses /tmp/openresponses
  make clients OPENRESPONSES_DIR=/tmp/openresponses
no OPENRESPONSES_DIR given: how to get the suite is above"""


def zod_version(checkout: Path) -> str:
    lock = checkout / "bun.lock"
    if lock.exists():
        pinned = re.search(r'"zod": \["zod@([^"]+)"', lock.read_text())
        if pinned:
            return pinned.group(1)
    return ZOD_FALLBACK


def install_runtime(scratch: Path, zod: str) -> Path:
    """bun and zod into scratch/node_modules (once per version); the path of bun."""
    wanted = f"bun@{BUN_VERSION} zod@{zod}"
    stamp = scratch / "node_modules" / ".tether-clients-openresponses"
    bun = scratch / "node_modules" / ".bin" / "bun"
    if bun.exists() and stamp.exists() and stamp.read_text() == wanted:
        return bun
    print(f"openresponses: installing {wanted} from npm into {scratch}", flush=True)
    subprocess.run(
        [
            "npm",
            "install",
            "--prefix",
            str(scratch),
            "--no-audit",
            "--no-fund",
            "--silent",
            "--save-exact",
            *wanted.split(),
        ],
        check=True,
    )
    stamp.write_text(wanted)
    return bun


def copy_suite(checkout: Path, dest: Path) -> None:
    """The suite's sources only: its package.json and tsconfig.json need the site's toolchain."""
    shutil.rmtree(dest, ignore_errors=True)
    for part in ("bin", "src"):
        shutil.copytree(checkout / part, dest / part)


def suite_revision(checkout: Path) -> str:
    result = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "not a git checkout"


def run_suite(bun: Path, suite: Path, results: Path) -> dict[str, Any]:
    command = [
        str(bun), "--no-install", "run", "bin/compliance-test.ts",
        "--base-url", os.environ["TETHER_BASE_URL"],
        "--api-key", os.environ["TETHER_API_KEY"],
        "--model", os.environ["TETHER_MODEL"],
        "--json",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=suite, capture_output=True, text=True, timeout=SUITE_TIMEOUT_SECONDS
    )
    # The suite exits 1 when a test fails; only output that is not JSON is a crash.
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(
            f"openresponses: the suite exited {done.returncode} without JSON"
        ) from None
    results.write_text(json.dumps(report, indent=2) + "\n")
    return report


def show(report: dict[str, Any]) -> None:
    marks = {"passed": "pass", "failed": "FAIL", "skipped": "skip"}
    for result in report["results"]:
        print(f"  {marks.get(result['status'], result['status'])}  {result['id']}")
        errors: list[str] = result.get("errors") or []
        for error in errors[:MAX_ERRORS_SHOWN]:
            print("        " + error.replace("\n", " ")[:200])
        if len(errors) > MAX_ERRORS_SHOWN:
            print(f"        (+{len(errors) - MAX_ERRORS_SHOWN} more in the JSON)")


def main() -> int:
    given = os.environ.get("OPENRESPONSES_DIR", "")
    if not given:
        print(HOW_TO_GET)
        return SKIPPED
    checkout = Path(given).resolve()
    if not (checkout / "bin" / "compliance-test.ts").exists():
        print(f"openresponses: {checkout} has no bin/compliance-test.ts; not a suite checkout")
        return 1
    scratch = Path(os.environ["CLIENTS_DIR"])
    results = Path(os.environ["CLIENTS_RESULTS"]) / "openresponses.json"
    bun = install_runtime(scratch, zod_version(checkout))
    copy_suite(checkout, scratch / "openresponses")
    print(f"openresponses: suite {suite_revision(checkout)}, bun {BUN_VERSION}", flush=True)
    report = run_suite(bun, scratch / "openresponses", results)
    show(report)
    s = report["summary"]
    print(
        f"{s['passed']}/{s['total']} passed, {s['failed']} failed, {s['skipped']} skipped"
        f" (JSON: {os.path.relpath(results)})"
    )
    return 0 if s["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
