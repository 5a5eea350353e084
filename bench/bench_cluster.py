"""Benchmark: the pooling suite through a real 2-worker Dask cluster against `--jobs 2` on the same machine.

A `dask scheduler` and `dask worker --nthreads 1 --nworkers 2` (separate processes on 127.0.0.1) are started
once, as a cluster is: long-lived. Each round runs `cnnlab experiment pooling` in a fresh runs folder, once
with `--jobs 2` (a fresh local pool, as every command) and once with `--cluster` (the workers restarted
first, so that they start as cold as a local pool: no data decoded yet; the restart is not timed), the
order alternating between rounds. Prints the medians and the ratio cluster / local (target: at most 1.10x),
and checks that both give the same run ids.

    python bench/bench_cluster.py [--rounds 3] [--suite pooling] [--extra "--seeds 3"] [--worker-env KEY=VALUE]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def dask_cmd(what: str) -> list[str]:
    script = Path(sys.executable).with_name("dask")
    return [str(script), what] if script.is_file() else ["dask", what]


def start_cluster(tmp: Path, workers: int, env: dict[str, str] | None = None) -> tuple[str, list[subprocess.Popen]]:
    """A scheduler and `workers` one-thread worker processes on 127.0.0.1 (`env`: added to the workers'
    environment); its address and processes."""
    sched_file, log = tmp / "scheduler.json", open(tmp / "dask.log", "ab")  # noqa: SIM115
    opts = {"stdout": log, "stderr": log, "start_new_session": True}
    procs = [
        subprocess.Popen(
            [*dask_cmd("scheduler"), "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(sched_file)],
            **opts,
        )
    ]
    while not sched_file.is_file():
        time.sleep(0.1)
    address = json.loads(sched_file.read_text())["address"]
    worker = [*dask_cmd("worker"), address, "--nthreads", "1", "--nworkers", str(workers), "--host", "127.0.0.1"]
    procs.append(subprocess.Popen(worker, **opts, env={**os.environ, **(env or {})}))
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, procs


def restart_workers(address: str, workers: int) -> None:
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.restart(wait_for_workers=True)
        client.wait_for_workers(workers, timeout=120)


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr[-800:]}")
    return seconds


def run_ids(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith((".", "suites")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--suite", default="pooling")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--extra", default="", help="more `cnnlab experiment` flags, e.g. '--quick'")
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set in the cluster workers' environment (e.g. DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False)",
    )
    args = parser.parse_args()
    worker_env = dict(item.split("=", 1) for item in args.worker_env)
    import torch

    import cnnlab

    print(
        f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores; torch {torch.__version__}; "
        f"cnnlab {cnnlab.__version__}; {args.workers} workers vs --jobs {args.workers}; {args.rounds} rounds"
        + (f"; workers with {' '.join(args.worker_env)}" if args.worker_env else "")
    )
    base = [sys.executable, "-m", "cnnlab", "experiment", args.suite, *shlex.split(args.extra)]
    times: dict[str, list[float]] = {"local": [], "cluster": []}
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        address, procs = start_cluster(Path(tmp), args.workers, worker_env)
        try:
            ids = {}
            for r in range(args.rounds):
                for mode in ("local", "cluster") if r % 2 == 0 else ("cluster", "local"):
                    out = Path(tmp) / f"{mode}-{r}"
                    if mode == "cluster":
                        restart_workers(address, args.workers)
                        cmd = [*base, "--out", str(out), "--cluster", address]
                    else:
                        cmd = [*base, "--out", str(out), "--jobs", str(args.workers)]
                    times[mode].append(timed(cmd))
                    ids[mode] = run_ids(out)
                    shutil.rmtree(out, ignore_errors=True)
                print(f"round {r}: local {times['local'][-1]:.1f} s, cluster {times['cluster'][-1]:.1f} s", flush=True)
            assert ids["local"] == ids["cluster"], "the cluster trained other runs"
        finally:
            for proc in reversed(procs):
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
    local, cluster = (statistics.median(times[m]) for m in ("local", "cluster"))
    print(
        f"{args.suite} ({len(ids['local'])} runs): --jobs {args.workers} {local:.1f} s   cluster of {args.workers} "
        f"{cluster:.1f} s   cluster / local {cluster / local:.2f}x   (rounds: "
        f"{', '.join(f'{t:.1f}' for t in times['local'])} | {', '.join(f'{t:.1f}' for t in times['cluster'])})"
    )
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
