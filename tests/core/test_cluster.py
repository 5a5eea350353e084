"""Training on a Dask cluster (cnnlab.core.cluster): real `dask scheduler` and `dask worker` processes on
127.0.0.1 (tests/dask_helpers.py), a quick suite through them with the numbers of a local run, and the faults:
a worker killed mid-suite, a bad address, a worker with another version, credentials, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnlab.core.errors import DataError
from cnnlab.core.runs import capture
from dask_helpers import add_worker, dask_cluster, worker_count, worker_names

pytest.importorskip("distributed")  # the [cluster] extra; the [test] extra installs it, so CI runs these

TIMING = ("wall_seconds", "prep_seconds", "train_seconds", "host")  # what may differ between two machines
N_POOLING = 5  # runs of the pooling suite in quick mode (5 variants, 1 repeat)


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory, tiny_art) -> Path:
    """The pooling suite trained by `cnnlab experiment` on its local worker processes: the numbers a
    cluster must reproduce."""
    out = tmp_path_factory.mktemp("local") / "runs"
    cmd = _experiment(tiny_art, out)
    done = subprocess.run([*cmd, "--jobs", "2"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


def _experiment(tiny_art: Path, out: Path, cluster: str | None = None) -> list[str]:
    """`cnnlab experiment pooling --quick` on `tiny_art` into `out`, through `cluster` when one is given."""
    cmd = [
        sys.executable,
        "-m",
        "cnnlab",
        "experiment",
        "pooling",
        "--quick",
        "--data",
        str(tiny_art),
        "--out",
        str(out),
    ]
    return cmd if cluster is None else [*cmd, "--cluster", cluster]


def _run(cmd: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _run_folders(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("cnn-*") if p.is_dir())


def _same_runs(out: Path, reference: Path) -> None:
    """Every run of `reference` is in `out` with the same metrics (but seconds) and summary (but timings, host)."""
    ref = _run_folders(reference)
    assert [p.name for p in _run_folders(out)] == [p.name for p in ref] and len(ref) == N_POOLING
    for ref_run in ref:
        run = out / ref_run.name
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        ref_rows = [json.loads(line) for line in (ref_run / "metrics.jsonl").read_text().splitlines()]
        assert [{k: v for k, v in r.items() if k != "seconds"} for r in rows] == [
            {k: v for k, v in r.items() if k != "seconds"} for r in ref_rows
        ]
        summary, ref_summary = (json.loads((p / "summary.json").read_text()) for p in (run, ref_run))
        assert summary["host"]  # every run records who trained it
        assert {k: v for k, v in summary.items() if k not in TIMING} == {
            k: v for k, v in ref_summary.items() if k not in TIMING
        }


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("INFO ")]
    assert len(lines) == 1 and lines[0].startswith("cnnlab: error: "), proc.stderr
    return lines[0]


@pytest.mark.slow
def test_suite_on_two_workers_matches_local_and_reuses_the_clients_cache(tmp_path, tiny_art, local_runs):
    with dask_cluster(tmp_path / "dask") as cluster:
        out = tmp_path / "runs"
        # the scheduler file as the address; the runs come back as files, written here by this client only
        done = _run(_experiment(tiny_art, out, str(cluster.scheduler_file)))
        assert done.returncode == 0, done.stderr
        assert "Dask cluster" in done.stderr and "2 Dask worker(s)" in done.stderr
        _same_runs(out, local_runs)
        assert len(cluster.tasks_started()) == N_POOLING  # one task per run, each run once
        assert not list(out.glob(".tmp-*"))
        suite = json.loads((out / "suites" / "pooling" / "suite.json").read_text())
        local = json.loads((local_runs / "suites" / "pooling" / "suite.json").read_text())
        assert [r["run_ids"] for r in suite["rows"]] == [r["run_ids"] for r in local["rows"]]
        assert suite["findings"] == local["findings"]
        # the client looks in its own cache first: a rerun sends nothing
        again = _run(_experiment(tiny_art, out, cluster.address))
        assert again.returncode == 0, again.stderr
        assert "(5/5 runs, 5 cached)" in again.stderr, again.stderr  # the progress line: every run reused
        assert len(cluster.tasks_started()) == N_POOLING


@pytest.mark.slow
def test_a_local_cluster_through_runtime_options_trains_the_local_runs(tmp_path, tiny_art, local_runs):
    from cnnlab.art.config import RunConfig
    from cnnlab.art.suites import SuiteOptions, run_suite
    from cnnlab.core.config import resolve_config
    from cnnlab.core.runtime import RuntimeOptions

    base = resolve_config(RunConfig, None, [f"data.name={tiny_art}"])
    runtime = RuntimeOptions(out=tmp_path / "runs", cluster="local:1")
    result = run_suite("pooling", SuiteOptions(runtime=runtime, base=base, quick=True))
    _same_runs(tmp_path / "runs", local_runs)
    assert all(str(tmp_path / "runs") in p for row in result.rows for p in row["run_paths"])  # the client's paths


@pytest.mark.slow
def test_worker_killed_mid_suite_every_run_once(tmp_path, tiny_art, local_runs):
    with dask_cluster(tmp_path / "dask", env={"CNNLAB_TEST_TASK_SLEEP": "1.5"}) as cluster:
        out = tmp_path / "runs"
        proc = subprocess.Popen(
            _experiment(tiny_art, out, cluster.address), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        victim = cluster.workers[1]
        deadline = time.time() + 120
        while time.time() < deadline and not any(m.name.startswith(f"{victim.pid}-") for m in cluster.tasks_started()):
            time.sleep(0.05)
        os.kill(victim.pid, signal.SIGKILL)  # mid-task: its task is rescheduled on the other worker
        victim.wait(10)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        _same_runs(out, local_runs)  # every run present once, with the local numbers
        assert len(cluster.tasks_started()) > N_POOLING  # the killed task ran again elsewhere
        assert not list(out.glob(".tmp-*"))
        for run in _run_folders(out):
            assert {"summary.json", "config.json", "metrics.jsonl", "best.pt"} <= {p.name for p in run.iterdir()}


def test_bad_addresses_are_one_line_and_quick(tmp_path, tiny_art):
    out = tmp_path / "runs"
    start = time.time()
    line = _one_line_error(_run(_experiment(tiny_art, out, "tcp://127.0.0.1:9"), timeout=60))
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in line
    assert time.time() - start < 30
    line = _one_line_error(_run(_experiment(tiny_art, out, str(tmp_path / "no-such-scheduler.json")), timeout=60))
    assert "not tcp://host:port, a scheduler file or local:N" in line
    # credentials in an address are never printed
    proc = _run(_experiment(tiny_art, out, "tcp://alice:s3cret@127.0.0.1:9"), timeout=60)
    line = _one_line_error(proc)
    assert "s3cret" not in proc.stderr + proc.stdout and "***@127.0.0.1:9" in line
    line = _one_line_error(_run(_experiment(tiny_art, out, "local:0"), timeout=60))
    assert "local:N" in line
    # $CNNLAB_CLUSTER is the default address
    cmd = _experiment(tiny_art, out)
    env = {**os.environ, "CNNLAB_CLUSTER": "tcp://127.0.0.1:9"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in _one_line_error(proc)
    assert not out.exists() or not _run_folders(out)  # nothing trained


@pytest.mark.slow
def test_a_worker_with_another_version_is_refused_before_any_work(tmp_path, tiny_art):
    with dask_cluster(tmp_path / "dask", workers=1) as cluster:
        add_worker(cluster, tmp_path, "other", {"CNNLAB_TEST_OTHER_VERSION": "0.0.1-other"})
        deadline = time.time() + 90
        while worker_count(cluster.address) < 2 and time.time() < deadline:
            time.sleep(0.2)
        out = tmp_path / "runs"
        line = _one_line_error(_run(_experiment(tiny_art, out, cluster.address)))
        assert "runs cnnlab 0.0.1-other" in line and "same versions" in line
        assert cluster.tasks_started() == [] and not _run_folders(out)
        # a worker of two threads would train two runs at once in one process (global seeds): refused too
        other = cluster.workers[-1]
        os.kill(other.pid, signal.SIGKILL)
        other.wait(10)
        add_worker(cluster, tmp_path, "two-threads", {}, nthreads=2)
        deadline = time.time() + 90
        while worker_names(cluster.address) != ["two-threads", "w0"] and time.time() < deadline:
            time.sleep(0.2)
        line = _one_line_error(_run(_experiment(tiny_art, out, cluster.address)))
        assert "runs 2 threads" in line and "--nthreads 1" in line
        assert cluster.tasks_started() == [] and not _run_folders(out)


@pytest.mark.slow
def test_ctrl_c_exits_130_and_cancels_the_queued_tasks(tmp_path, tiny_art):
    from distributed import Client

    with dask_cluster(tmp_path / "dask", env={"CNNLAB_TEST_TASK_SLEEP": "3"}) as cluster:
        out = tmp_path / "runs"
        proc = subprocess.Popen(
            _experiment(tiny_art, out, cluster.address), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.time() + 120
        while time.time() < deadline and not cluster.tasks_started():
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        with Client(cluster.address, timeout=20) as client:
            deadline = time.time() + 30
            left = None
            while time.time() < deadline:
                left = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
                if left == 0:
                    break
                time.sleep(0.2)
        assert left == 0  # the queued tasks were cancelled
        assert len(cluster.tasks_started()) <= 2  # at most the two that had started
        assert not list(out.glob(".tmp-*"))


def test_a_run_sent_back_is_checked_and_written_atomically(tmp_path):
    good = tmp_path / "good"
    with pytest.raises(DataError, match="outside it"):
        capture.install_run_files(capture.CapturedRun(str(good), "cnn-abc", {"../evil": b"x"}, False))
    with pytest.raises(DataError, match="damaged run"):
        capture.install_run_files(capture.CapturedRun(str(good), "cnn-abc", {"summary.json": b"{}"}, False))
    assert list(good.iterdir()) == []  # nothing half-written, no temporary folder left
    found = capture.Captured(tmp_path / "scratch", roots={str(tmp_path / "scratch" / "h"): "/client/runs"})
    value = {"path": str(tmp_path / "scratch" / "h" / "cnn-1"), "n": [Path(tmp_path / "scratch" / "h")], "x": "other"}
    assert capture.to_client_paths(value, found) == {
        "path": "/client/runs/cnn-1",
        "n": [Path("/client/runs")],
        "x": "other",
    }


def _wait_for(condition, timeout: float, step: float = 0.05) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@pytest.mark.slow
def test_client_killed_the_rerun_reuses_every_finished_run(tmp_path, tiny_art, local_runs):
    with dask_cluster(tmp_path / "dask", env={"CNNLAB_TEST_TASK_SLEEP": "1.5"}) as cluster:
        out = tmp_path / "runs"
        proc = subprocess.Popen(
            _experiment(tiny_art, out, cluster.address), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        assert _wait_for(lambda: len(_run_folders(out)) >= 2, 180), "no run came back from the cluster"
        proc.kill()  # kill -9 of the client mid-suite
        proc.wait(10)
        finished = {p.name for p in _run_folders(out)}
        started = len(cluster.tasks_started())
        assert len(finished) < N_POOLING  # the kill did land mid-suite
        again = _run(_experiment(tiny_art, out, cluster.address))
        assert again.returncode == 0, again.stderr
        _same_runs(out, local_runs)  # every run once, with the local numbers
        # the rerun sent only the runs the client lacked: each finished run was reused, not trained again
        assert len(cluster.tasks_started()) - started == N_POOLING - len(finished)
        assert not list(out.glob(".tmp-*"))


@pytest.mark.slow
def test_client_killed_its_local_cluster_workers_end(tmp_path, tiny_art):
    import psutil

    out = tmp_path / "runs"
    proc = subprocess.Popen(_experiment(tiny_art, out, "local:2"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = psutil.Process(proc.pid)

    def descendants() -> list:
        try:
            return client.children(recursive=True)
        except psutil.Error:  # a short-lived child ended while they were listed: look again
            return []

    # the LocalCluster's two worker processes (and multiprocessing's resource tracker)
    assert _wait_for(lambda: len(descendants()) >= 3 or proc.poll() is not None, 180)
    time.sleep(1.0)  # let the workers register and take tasks
    workers = descendants()
    assert proc.poll() is None and len(workers) >= 3, "the suite ended before the client could be killed"
    proc.kill()
    proc.wait(10)
    gone, alive = psutil.wait_procs(workers, timeout=60)
    assert not alive, [p.cmdline() for p in alive]  # no stray process outlives a killed client


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_a_worker_keeps_tensor_buffers_on_the_heap():
    from cnnlab.core.cluster import heap_for_tensors

    heap_for_tensors.cache_clear()
    assert heap_for_tensors() is True  # mallopt(M_MMAP_THRESHOLD, 32 MiB) accepted
    assert heap_for_tensors.cache_info().currsize == 1  # once per worker process


def _study(out: Path) -> dict:
    """The 1.6 search's study as suite.json records it: each trial's number, state, value, parameters and run,
    its rows' run ids and the answer (not durations or which worker ran what)."""
    suite = json.loads((out / "suites" / "search" / "suite.json").read_text())
    keep = ("number", "state", "value", "params", "run_id", "seeded")
    return {
        "trials": [{k: t.get(k) for k in keep} for t in suite["trials"]],
        "rows": [(r["variant"], r["run_ids"]) for r in suite["rows"]],
        "winner": suite.get("winner"),
        "answer": suite.get("answer"),
    }


@pytest.mark.slow
def test_the_search_on_a_cluster_is_the_local_study(tmp_path, tiny_art):
    def search(out: Path, *extra: str) -> dict:
        cmd = [c if c != "pooling" else "search" for c in _experiment(tiny_art, out)]
        done = _run([*cmd, *extra])
        assert done.returncode == 0, done.stderr
        return _study(out)

    local = search(tmp_path / "local", "--jobs", "2")
    with dask_cluster(tmp_path / "dask") as cluster:
        on_cluster = search(tmp_path / "cluster", "--cluster", cluster.address)
        assert cluster.tasks_started()  # the trials did train on the cluster's workers
    assert on_cluster == local and len(local["trials"]) >= 2


@pytest.mark.slow
def test_ctrl_c_with_suites_started_ahead_ends_every_client(tmp_path, tiny_art):
    """`experiment all` on a cluster starts 1.4 and 1.5 in a second client (cnnlab.core.ahead): Ctrl-C still
    exits 130 with no traceback, that client ends too, and nothing it queued stays on the scheduler."""
    import psutil
    from distributed import Client

    with dask_cluster(tmp_path / "dask", env={"CNNLAB_TEST_TASK_SLEEP": "3"}) as cluster:
        out = tmp_path / "runs"
        cmd = [c if c != "pooling" else "all" for c in _experiment(tiny_art, out, cluster.address)]
        env = {**os.environ, "CNNLAB_AHEAD_WORKERS": "2"}
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        command = psutil.Process(proc.pid)

        def early() -> list:
            try:
                return [p for p in command.children() if "multiprocessing" in " ".join(p.cmdline())]
            except psutil.Error:
                return []

        assert _wait_for(lambda: bool(early()) and len(cluster.tasks_started()) >= 2, 180), "nothing started ahead"
        clients = early()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "Traceback" not in err, err
        _, alive = psutil.wait_procs(clients, timeout=30)
        assert not alive  # the early client ended with the command
        with Client(cluster.address, timeout=20) as client:
            assert _wait_for(lambda: client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0, 30)
        assert not list(out.glob(".tmp-*"))
