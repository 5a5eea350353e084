"""`map_jobs`, the one process pool: the suites' runs and Part 2's runs are trained through it.

Workers are spawned (not forked: torch and fork do not mix), each with its own torch thread count, and
end with their parent (cnnlab.core.processes.exit_with_parent).

Starting a worker costs a Python, torch (and, on a GPU, CUDA context) start-up: about 1.3 s on a 2-core CPU
(bench/bench_pool.py) and about 10 s on a CUDA machine, paid by every pool. A command that calls `map_jobs`
many times (the report: seven suites and Part 2; `experiment all`) runs inside `shared_workers()`, where one
pool serves every call with the same jobs and threads, and each worker keeps what it cached (decoded data)
for the next call.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from cnnlab.core.processes import exit_with_parent

__all__ = ["map_jobs", "shared_workers", "sharing_workers"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Shared:
    """The pool kept by `shared_workers` (at most one: a call with other jobs/threads replaces it)."""

    depth = 0  # nested shared_workers() contexts; the outermost one shuts the pool down
    key: tuple[int, int] | None = None  # (jobs, threads) of `pool`
    pool: Any = None  # concurrent.futures.ProcessPoolExecutor


def _init_pool_worker(threads: int) -> None:
    import torch

    exit_with_parent()  # a killed command must not leave its workers running
    torch.set_num_threads(threads)


def _new_pool(jobs: int, threads: int):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_pool_worker, initargs=(threads,))


def _close_shared(cancel: bool = False) -> None:
    if _Shared.pool is not None:
        _Shared.pool.shutdown(wait=True, cancel_futures=cancel)
    _Shared.pool, _Shared.key = None, None


@contextlib.contextmanager
def shared_workers() -> Iterator[None]:
    """Within this context, `map_jobs` keeps its worker processes for the next call with the same jobs and
    threads instead of starting new ones; they end when the outermost context exits (or fails)."""
    _Shared.depth += 1
    failed = True
    try:
        yield
        failed = False
    finally:
        _Shared.depth -= 1
        if _Shared.depth == 0:
            _close_shared(cancel=failed)


def sharing_workers() -> bool:
    """Whether this process is inside `shared_workers()` (map_jobs then reuses its worker processes)."""
    return _Shared.depth > 0


def map_jobs(fn: Callable[..., T], calls: Sequence[tuple], jobs: int, threads: int) -> list[T]:
    """`fn(*call)` for every call, results in order: in this process when `jobs` is 1 (or there is one call),
    else in `jobs` spawned worker processes with `threads` torch threads each, ended with their parent
    (kept for the next call inside `shared_workers()`, where a call of at most `jobs` tasks also runs on a
    kept pool of more processes with the same threads: at most `jobs` of them then work at once).
    `fn` must be a module-level function and the calls picklable (the suites' runs, Part 2's seeds).
    Inside `cnnlab.core.cluster.use_cluster(address)` every call goes to that Dask cluster instead."""
    from cnnlab.core import cluster

    if cluster.cluster_active():
        return cluster.map_on_cluster(fn, calls, threads)
    if jobs <= 1 or len(calls) <= 1:
        return [fn(*call) for call in calls]
    if not sharing_workers():
        with _new_pool(jobs, threads) as pool:
            return list(pool.map(fn, *zip(*calls)))
    from concurrent.futures.process import BrokenProcessPool

    held = _Shared.key  # (jobs, threads) of the held pool
    fits = held is not None and held[1] == threads and (held[0] == jobs or held[0] >= jobs >= len(calls))
    if not fits:
        _close_shared()
        _Shared.pool, _Shared.key = _new_pool(jobs, threads), (jobs, threads)
        log.debug("started %d shared worker processes (%d torch threads each)", jobs, threads)
    try:
        return list(_Shared.pool.map(fn, *zip(*calls)))
    except BrokenProcessPool:
        _Shared.pool, _Shared.key = None, None  # a worker died: the next call starts a fresh pool
        raise
