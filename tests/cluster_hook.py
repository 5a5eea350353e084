"""Test hook preloaded into `dask worker` processes (`dask worker --preload tests/cluster_hook.py`, by
tests/dask_helpers.py): every task drops a marker file named by its worker's pid (CNNLAB_TEST_MARKS) and
sleeps CNNLAB_TEST_TASK_SLEEP seconds before training, so a test can count tasks and kill a worker mid-task;
CNNLAB_TEST_OTHER_VERSION makes the worker report another cnnlab version (a worker unlike the client)."""

import os
import time
from pathlib import Path

import cnnlab.core.cluster as _cluster
import cnnlab.core.version as _version

if os.environ.get("CNNLAB_TEST_OTHER_VERSION"):
    _version.__version__ = os.environ["CNNLAB_TEST_OTHER_VERSION"]

# Dask imports a preload module more than once: wrap the original run_task only, not a wrapper
_run_task = getattr(_cluster, "run_task_unhooked", _cluster.run_task)
_cluster.run_task_unhooked = _run_task


def _marked_task(fn, call, threads, versions):
    marks = os.environ.get("CNNLAB_TEST_MARKS")
    if marks:
        Path(marks, f"{os.getpid()}-{time.monotonic_ns()}").write_text("")
    time.sleep(float(os.environ.get("CNNLAB_TEST_TASK_SLEEP", "0")))
    return _run_task(fn, call, threads, versions)


_cluster.run_task = _marked_task
