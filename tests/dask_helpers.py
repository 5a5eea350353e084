"""A real Dask cluster on 127.0.0.1 for the cluster tests: a `dask scheduler` process and `dask worker`
processes (one thread each, no nanny, so that kill -9 of a worker's pid kills that worker), each with the
test hook tests/cluster_hook.py preloaded. Everything is stopped at the end, by process group."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOOK = Path(__file__).with_name("cluster_hook.py")
START_TIMEOUT = 90.0  # seconds for the scheduler and workers to come up on a busy 2-core machine


@dataclass
class DaskCluster:
    """The scheduler's address and file, the workers' processes, and the folder of task markers."""

    address: str
    scheduler_file: Path
    marks: Path
    workers: list[subprocess.Popen] = field(default_factory=list)

    def tasks_started(self) -> list[Path]:
        return sorted(self.marks.iterdir())


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def _stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(10)


def worker_names(address: str) -> list[str]:
    """The names of the workers the scheduler knows now."""
    from distributed import Client

    with Client(address, timeout=20) as client:
        return sorted(str(w.get("name")) for w in client.scheduler_info(n_workers=-1)["workers"].values())


def worker_count(address: str) -> int:
    return len(worker_names(address))


@contextlib.contextmanager
def dask_cluster(tmp: Path, workers: int = 2, env: dict[str, str] | None = None) -> Iterator[DaskCluster]:
    """`dask scheduler` plus `workers` `dask worker --nthreads 1` processes on 127.0.0.1 (env: for the workers)."""
    tmp.mkdir(parents=True, exist_ok=True)
    sched_file, marks = tmp / "scheduler.json", tmp / "marks"
    marks.mkdir(exist_ok=True)
    logs = open(tmp / "dask.log", "ab")  # noqa: SIM115 - closed below
    sched = subprocess.Popen(
        [
            *_dask_cmd("scheduler"),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(sched_file),
        ],
        env=_env({}),
        stdout=logs,
        stderr=logs,
        start_new_session=True,
    )
    procs: list[subprocess.Popen] = [sched]
    try:
        deadline = time.time() + START_TIMEOUT
        address = _scheduler_address(sched_file, deadline)
        cluster = DaskCluster(address, sched_file, marks)
        for i in range(workers):
            add_worker(cluster, tmp, f"w{i}", env or {}, logs)
            procs.append(cluster.workers[-1])
        while worker_count(address) < workers and time.time() < deadline:
            time.sleep(0.2)
        assert worker_count(address) == workers, (tmp / "dask.log").read_text()[-2000:]
        yield cluster
    finally:
        for proc in reversed(procs):
            _stop(proc)
        logs.close()


def _scheduler_address(sched_file: Path, deadline: float) -> str:
    """The address in the scheduler file, once the scheduler has written all of it (the file appears empty
    first: reading it the moment it exists raced the scheduler's write)."""
    while time.time() < deadline:
        try:
            return json.loads(sched_file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
    return json.loads(sched_file.read_text())["address"]  # the error itself, once the time is up


def add_worker(
    cluster: DaskCluster, tmp: Path, name: str, env: dict[str, str], logs=None, nthreads: int = 1
) -> subprocess.Popen:
    """One more `dask worker` process of `cluster` (stopped by dask_cluster's end)."""
    out = logs or open(tmp / f"{name}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            *_dask_cmd("worker"),
            cluster.address,
            "--nthreads",
            str(nthreads),
            "--no-nanny",
            "--no-dashboard",
            "--host",
            "127.0.0.1",
            "--name",
            name,
            "--preload",
            str(HOOK),
        ],
        env=_env({"CNNLAB_TEST_MARKS": str(cluster.marks), **env}),
        stdout=out,
        stderr=out,
        start_new_session=True,
    )
    cluster.workers.append(proc)
    return proc


def _dask_cmd(what: str) -> list[str]:
    """`dask scheduler` / `dask worker` of this Python (the `dask` script beside it)."""
    script = Path(sys.executable).with_name("dask")
    return [str(script), what] if script.is_file() else ["dask", what]
