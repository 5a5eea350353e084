"""Benchmark: sweep throughput with 1, 2 and 4 worker processes on one storage, and how long a lost trial waits.

Work: `cnnlab sweep` on the embedded synthetic-artists data (451 images, 50x50; decoded tensors cached
first), T trials of E epochs each, no pruning, random search with a fixed seed, 1 torch thread per worker.
Trial settings are seeded per trial slot, so every measurement trains the same T configurations whatever
the number of workers (checked: the sets of run ids match). Each measurement is a fresh
`python -m cnnlab sweep --workers K` process with a fresh study (on --storage, e.g. a PostgreSQL server;
default: a fresh SQLite file) and runs folder, so the wall time includes Python/torch start-up.

Recovery: two separate `cnnlab sweep` processes (as on two hosts) share a study with heartbeat interval H
and grace period G; once the first runs a trial, it is killed with SIGKILL, and we time how long until a
copy of its trial is running again in the survivor (about G, plus the rest of the survivor's trial in
hand), and check that the survivor ends with all T trials finished.

    python bench/bench_sweep.py --storage postgresql://user:pw@host/db [--trials 8] [--epochs 2] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid


def _cmd(storage: str, study: str, out: str, trials: int, epochs: int, seed: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cnnlab",
        "sweep",
        "--storage",
        storage,
        "--study",
        study,
        "--trials",
        str(trials),
        "--epochs",
        str(epochs),
        "--no-prune",
        "--sampler",
        "random",
        "--sampler-seed",
        str(seed),
        "--threads",
        "1",
        "--out",
        out,
        *extra,
    ]


def _measure(storage: str | None, workers: int, trials: int, epochs: int, seed: int) -> tuple[float, list[str]]:
    """Wall seconds of one fresh sweep with `workers` local processes, and the run ids of its complete trials."""
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        url = storage or f"sqlite:///{tmp}/optuna.db"
        cmd = _cmd(
            url,
            f"bench-{uuid.uuid4().hex[:8]}",
            os.path.join(tmp, "runs"),
            trials,
            epochs,
            seed,
            "--workers",
            str(workers),
            "--json",
        )
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"sweep with {workers} workers failed:\n{proc.stderr[-2000:]}")
        result = json.loads(proc.stdout)
        if result["n_finished"] != trials or result["n_failed"] or result["n_running"]:
            sys.exit(f"expected {trials} finished trials, got {result['n_finished']} ({result['n_failed']} failed)")
        return wall, sorted(t["run_id"] for t in result["trials"] if t["status"] == "complete")


def _recovery(storage: str, trials: int, epochs: int, seed: int, interval: int, grace: int) -> tuple[float, int]:
    """Seconds from the SIGKILL of one of two workers until its trial runs again; trials finished at the end."""
    import optuna

    from cnnlab.art.sweep.storage import open_storage

    study = f"bench-kill-{uuid.uuid4().hex[:8]}"
    beat = ["--heartbeat-interval", str(interval), "--grace-period", str(grace)]
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        procs = [
            subprocess.Popen(
                _cmd(storage, study, os.path.join(tmp, f"host{i}"), trials, epochs, seed, *beat),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(2)
        ]
        store = open_storage(storage, heartbeat=False)

        def trials_now():
            try:
                return optuna.load_study(study_name=study, storage=store).get_trials(deepcopy=False)
            except KeyError:
                return []

        victim, number = procs[0], None
        while number is None:
            number = next(
                (
                    t.number
                    for t in trials_now()
                    if t.state.name == "RUNNING" and t.user_attrs.get("worker", "").endswith(f":{victim.pid}")
                ),
                None,
            )
            time.sleep(0.1)
        os.kill(victim.pid, signal.SIGKILL)
        killed = time.monotonic()
        while not any(t.user_attrs.get("replaces") == number and t.state.name != "WAITING" for t in trials_now()):
            time.sleep(0.1)
        waited = time.monotonic() - killed
        if procs[1].wait() != 0:
            sys.exit("the surviving worker failed")
        victim.wait()
        done = [t for t in trials_now() if t.state.is_finished()]
        replaced = {t.user_attrs["replaces"] for t in done if "replaces" in t.user_attrs}
        return waited, sum(t.number not in replaced for t in done)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--storage", help="storage URL shared by all measurements (default: a fresh SQLite file each)")
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--heartbeat-interval", type=int, default=2)
    ap.add_argument("--grace-period", type=int, default=10)
    args = ap.parse_args()

    from cnnlab.art.sweep.storage import mask_url

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"{cores} cores, load average {os.getloadavg()[0]:.2f} at start; storage {mask_url(args.storage or 'sqlite (fresh file)')}; "
        f"{args.trials} trials x {args.epochs} epochs, synthetic-artists 50x50, random search seed {args.seed}, no pruning, 1 thread per worker"
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from cnnlab.art.run import prepare_data; from cnnlab.art.config import RunConfig; "
            "prepare_data(RunConfig())",
        ],
        check=True,
    )  # decode and cache the data once
    rate, runs = {}, {}
    for k in args.workers:
        wall, run_ids = _measure(args.storage, k, args.trials, args.epochs, args.seed)
        rate[k], runs[k] = args.trials / wall * 60, run_ids
        print(
            f"{k} worker{'s' if k > 1 else ' '}  {wall:7.1f} s  {rate[k]:6.2f} trials/min  x{rate[k] / rate[args.workers[0]]:.2f}",
            flush=True,
        )
    print(f"same trained configurations for every worker count: {len({tuple(v) for v in runs.values()}) == 1}")
    if args.storage:
        waited, finished = _recovery(
            args.storage, args.trials, args.epochs, args.seed, args.heartbeat_interval, args.grace_period
        )
        print(
            f"kill -9 of 1 of 2 workers (heartbeat {args.heartbeat_interval} s, grace {args.grace_period} s): its trial ran again "
            f"{waited:.1f} s later; the survivor finished {finished} of {args.trials} trials"
        )
    print(f"load average at end {os.getloadavg()[0]:.2f} (other processes share these cores)")


if __name__ == "__main__":
    main()
