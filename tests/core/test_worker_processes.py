"""Worker processes never outlive a parent killed with SIGKILL.

Each test starts a real parent process, waits for its spawn workers, kills the parent with SIGKILL
and checks that every worker is gone within a few seconds (before the fix they ran on forever).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cnnlab.core.processes import pid_alive
from pg_helpers import spawned_children

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _kill_parent_and_check_workers(cmd: list[str], n_workers: int, tmp_path: Path, start_timeout: float = 240) -> None:
    env = dict(os.environ, CNNLAB_CACHE=str(tmp_path / "cache"))
    parent = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline and len(workers) < n_workers:
            assert parent.poll() is None, f"the parent ended early ({parent.returncode})"
            time.sleep(0.5)
            workers = sorted(spawned_children(parent.pid))
        assert len(workers) >= n_workers, f"only {len(workers)} workers started"
        time.sleep(3)  # let them get into their work (imports, data, training)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(pid_alive(w) for w in workers):
            time.sleep(0.2)
        alive = [w for w in workers if pid_alive(w)]
        assert not alive, f"workers {alive} outlived their killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for w in workers:  # only the workers this test started
            if pid_alive(w):
                os.kill(w, signal.SIGKILL)


@pytest.mark.parametrize("portable", [False, True], ids=["prctl", "watchdog-only"])
def test_exit_with_parent_ends_a_worker_when_its_parent_is_killed(tmp_path, portable):
    script = textwrap.dedent(f"""
        import multiprocessing as mp, sys, time

        def work():
            if {portable}:
                sys.platform = "other"  # no prctl: the parent-pid watchdog alone must notice
            from cnnlab.core.processes import exit_with_parent
            exit_with_parent(interval=0.2)
            time.sleep(120)

        if __name__ == "__main__":
            procs = [mp.get_context("spawn").Process(target=work) for _ in range(2)]
            for p in procs:
                p.start()
            time.sleep(120)
    """)
    (tmp_path / "parent.py").write_text(script)
    _kill_parent_and_check_workers([sys.executable, str(tmp_path / "parent.py")], 2, tmp_path, start_timeout=60)


@pytest.mark.slow
def test_experiment_pool_workers_die_with_a_killed_cnnlab(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "cnnlab",
        "experiment",
        "pooling",
        "--jobs",
        "2",
        "--repeats",
        "1",
        "--epochs",
        "400",
        "--out",
        str(tmp_path / "runs"),
    ]
    _kill_parent_and_check_workers(cmd, 2, tmp_path)


@pytest.mark.slow
def test_sweep_workers_die_with_a_killed_cnnlab(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "cnnlab",
        "sweep",
        "--workers",
        "2",
        "--trials",
        "20",
        "--epochs",
        "400",
        "--sampler",
        "random",
        "--no-prune",
        "--out",
        str(tmp_path / "runs"),
    ]
    _kill_parent_and_check_workers(cmd, 2, tmp_path)
