"""map_jobs and shared_workers: results in order, worker processes reused inside the context and only there."""

from __future__ import annotations

import os

import pytest

from cnnlab.core import pool
from cnnlab.core.pool import map_jobs, shared_workers


def worker_pid(i: int) -> tuple[int, int]:
    """(i, the pid of the process that ran it): module level, so spawned workers can import it."""
    return i, os.getpid()


def fail_on(i: int, bad: int) -> int:
    if i == bad:
        raise ValueError(f"call {i} failed")
    return i


def _pids(results: list[tuple[int, int]]) -> set[int]:
    return {pid for _, pid in results}


def test_one_job_runs_in_this_process():
    assert _pids(map_jobs(worker_pid, [(i,) for i in range(3)], jobs=1, threads=1)) == {os.getpid()}


def test_without_the_context_every_call_starts_new_workers():
    first = map_jobs(worker_pid, [(i,) for i in range(4)], jobs=2, threads=1)
    second = map_jobs(worker_pid, [(i,) for i in range(4)], jobs=2, threads=1)
    assert [i for i, _ in first] == [0, 1, 2, 3]  # in order
    assert os.getpid() not in _pids(first)
    assert not _pids(first) & _pids(second)  # the first pool's workers ended with it
    assert pool._Shared.pool is None


def test_shared_workers_serve_every_call_then_end():
    with shared_workers():
        first = map_jobs(worker_pid, [(i,) for i in range(6)], jobs=2, threads=1)
        with shared_workers():  # nested (a suite inside `run_all`): the same pool
            second = map_jobs(worker_pid, [(i,) for i in range(6)], jobs=2, threads=1)
        assert pool._Shared.pool is not None  # the inner context leaves it to the outer one
        third = map_jobs(worker_pid, [(i,) for i in range(6)], jobs=2, threads=1)
    assert [i for i, _ in third] == list(range(6))
    assert len(_pids(first) | _pids(second) | _pids(third)) <= 2  # two processes in all, started once
    assert os.getpid() not in _pids(first)
    assert pool._Shared.pool is None and pool._Shared.depth == 0


def test_other_jobs_or_threads_replace_the_shared_pool():
    with shared_workers():
        two = map_jobs(worker_pid, [(i,) for i in range(4)], jobs=2, threads=1)
        three = map_jobs(worker_pid, [(i,) for i in range(6)], jobs=3, threads=1)
        assert pool._Shared.key == (3, 1)
    assert not _pids(two) & _pids(three)
    assert pool._Shared.pool is None


def test_a_failing_call_raises_and_the_context_still_closes():
    with pytest.raises(ValueError, match="call 2 failed"):
        with shared_workers():
            assert map_jobs(fail_on, [(i, 9) for i in range(3)], jobs=2, threads=1) == [0, 1, 2]
            map_jobs(fail_on, [(i, 2) for i in range(3)], jobs=2, threads=1)
    assert pool._Shared.pool is None and pool._Shared.depth == 0
