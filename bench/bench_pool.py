"""Benchmark: worker processes held for a whole command (core.pool.shared_workers) against a new pool per call.

Two measurements, each setting in turn, R interleaved rounds, medians and the ratio new-per-call / held:
  - start-up: K calls of `map_jobs` with --jobs tiny tasks each (what a pool costs to start here: Python,
    torch and the worker's imports; on a CUDA machine the CUDA context as well);
  - the quick report: `cnnlab report --quick --no-compile` in a fresh runs folder per round (7 suites,
    the search and Part 2's small runs: 11 map_jobs calls and a sweep).
"New per call" is the code before shared_workers: the bench turns it off by replacing it with a null
context in the measured process (and so the search spawns its own sweep workers, as before).

    python bench/bench_pool.py [--rounds 3] [--jobs 2] [--calls 10] [--skip-report]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run in the measured process: `held` leaves cnnlab as it is; `per-call` turns shared_workers off.
CHILD = """
import contextlib, sys, time
import cnnlab.art.suites.runner as runner, cnnlab.core.pool as pool
if sys.argv[1] == "per-call":
    pool.shared_workers = runner.shared_workers = contextlib.nullcontext
if sys.argv[2] == "startup":
    calls, jobs = int(sys.argv[3]), int(sys.argv[4])
    t0 = time.perf_counter()
    with pool.shared_workers():
        for _ in range(calls):
            pool.map_jobs(abs, [(-i,) for i in range(jobs)], jobs, 1)
    print(time.perf_counter() - t0)
else:
    from cnnlab.cli.app import main
    sys.exit(main(sys.argv[3:]))
"""


def measure(mode: str, what: str, args: list[str], cwd: Path) -> float:
    """Seconds of one measured process (the start-up case reports its own in-process time)."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, what, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{mode} {what} failed ({out.returncode}): {out.stderr[-800:]}")
    return float(out.stdout.strip().splitlines()[-1]) if what == "startup" else seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--calls", type=int, default=10, help="map_jobs calls in the start-up measurement")
    parser.add_argument("--skip-report", action="store_true", help="only the start-up measurement")
    args = parser.parse_args()
    import torch

    import cnnlab

    print(
        f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores; torch {torch.__version__}; "
        f"cnnlab {cnnlab.__version__}; --jobs {args.jobs}; {args.rounds} rounds"
    )
    cases = [("startup", [str(args.calls), str(args.jobs)], f"{args.calls} map_jobs calls of {args.jobs} tasks")]
    if not args.skip_report:
        cases.append(("report", ["report", "--quick", "--no-compile", "--jobs", str(args.jobs)], "report --quick"))
    with tempfile.TemporaryDirectory(prefix="bench-pool-") as tmp:
        for what, extra, label in cases:
            times: dict[str, list[float]] = {"per-call": [], "held": []}
            for r in range(args.rounds):
                for mode in ("per-call", "held") if r % 2 == 0 else ("held", "per-call"):
                    out = Path(tmp) / f"{what}-{mode}-{r}"
                    out.mkdir()
                    run_args = [*extra, "--out", str(out / "runs")] if what == "report" else extra
                    times[mode].append(measure(mode, what, run_args, out))
                    shutil.rmtree(out, ignore_errors=True)
            per_call, held = (statistics.median(times[m]) for m in ("per-call", "held"))
            print(
                f"{label:<28} new pool per call {per_call:7.1f} s   held workers {held:7.1f} s   "
                f"per-call / held {per_call / held:5.2f}x   (rounds: {', '.join(f'{t:.1f}' for t in times['per-call'])} "
                f"| {', '.join(f'{t:.1f}' for t in times['held'])})"
            )
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
