"""Benchmark: sweep throughput (trials/minute) with 1 worker process against K worker processes.

Work: `cnnlab sweep` on the embedded synthetic-artists data (451 images, 50x50; decoded tensors cached
first), T trials of E epochs each, no pruning, random search with a fixed seed. Trial settings are
seeded per trial slot, so every measurement trains the same T configurations whatever the number of
workers (the script checks that the sets of run ids match). Each measurement is a fresh
`python -m cnnlab sweep` process with a fresh storage and runs folder, so the wall time includes
Python/torch start-up of the parent and of every worker. 1 worker runs in-process with torch's default
threads (all cores), and again with 1 thread (a per-core reference: on a loaded machine, multi-threaded
torch can slow down badly); K workers get cores // K threads each. Rounds are interleaved and we print
medians, trials/minute and the ratios.

    python bench/bench_sweep.py [--trials 12] [--epochs 10] [--workers 2] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _measure(workers: int, threads: int | None, trials: int, epochs: int, seed: int) -> tuple[float, list[str]]:
    """Wall seconds of one fresh sweep, and the run ids of its complete trials."""
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        cmd = [sys.executable, "-m", "cnnlab", "sweep", "--trials", str(trials), "--workers", str(workers),
               "--epochs", str(epochs), "--no-prune", "--sampler", "random", "--sampler-seed", str(seed),
               "--out", os.path.join(tmp, "runs"), "--study", "bench", "--json"] + (["--threads", str(threads)] if threads else [])
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"sweep with {workers} workers failed:\n{proc.stderr[-2000:]}")
        result = json.loads(proc.stdout)
        if result["n_finished"] != trials or result["n_failed"]:
            sys.exit(f"expected {trials} finished trials, got {result['n_finished']} ({result['n_failed']} failed)")
        runs = sorted(t["run_id"] for t in result["trials"] if t["status"] == "complete")
        return wall, runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2, help="K, compared with 1 worker")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{cores} cores available, load average {load:.2f} at start; {args.trials} trials x {args.epochs} epochs, "
          f"synthetic-artists 50x50, random search seed {args.seed}, no pruning")
    # Warm-up: decode and cache the data once, so no measurement pays for it.
    subprocess.run([sys.executable, "-c", "from cnnlab.art.run import prepare_data; from cnnlab.art.config import RunConfig; "
                    "prepare_data(RunConfig())"], check=True)
    # (label, workers, threads per worker): "1 worker" uses torch's default threads (all cores), the
    # one-thread run is a per-core reference; K workers get cores // K threads each.
    settings = [("1 worker", 1, None), ("1 worker, 1 thread", 1, 1), (f"{args.workers} workers", args.workers, None)]
    times: dict[str, list[float]] = {label: [] for label, *_ in settings}
    runs: dict[str, list[str]] = {}
    for r in range(args.rounds):
        for label, k, threads in settings:
            wall, run_ids = _measure(k, threads, args.trials, args.epochs, args.seed)
            times[label].append(wall)
            runs.setdefault(label, run_ids)
            print(f"round {r + 1}: {label:<20} {wall:7.1f} s  ({args.trials / wall * 60:.2f} trials/min)", flush=True)
    same = len({tuple(v) for v in runs.values()}) == 1
    print(f"same trained configurations in every setting: {same} ({len(runs['1 worker'])} complete trials, "
          f"the rest invalid draws replaced)")
    rate = {label: args.trials / statistics.median(v) * 60 for label, v in times.items()}
    for label, *_ in settings:
        print(f"{label:<20} median {statistics.median(times[label]):7.1f} s  {rate[label]:6.2f} trials/min")
    top = f"{args.workers} workers"
    print(f"ratio {top} / 1 worker: {rate[top] / rate['1 worker']:.2f}x; "
          f"{top} / 1 worker with 1 thread: {rate[top] / rate['1 worker, 1 thread']:.2f}x")
    if hasattr(os, "getloadavg"):
        print(f"load average at end {os.getloadavg()[0]:.2f} (other processes share these cores)")


if __name__ == "__main__":
    main()
