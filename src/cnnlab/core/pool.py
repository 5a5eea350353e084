"""`map_jobs`, the one process pool: the suites' runs and Part 2's runs are trained through it.

Workers are spawned (not forked: torch and fork do not mix), each with its own torch thread count, and
end with their parent (cnnlab.core.processes.exit_with_parent).

Starting a worker costs a Python, torch (and, on a GPU, CUDA context) start-up: about 1.3 s on a 2-core CPU
(bench/bench_pool.py) and about 10 s on a CUDA machine, paid by every pool. A command that calls `map_jobs`
many times (the report: seven suites and Part 2; `experiment all`) runs inside `shared_workers()`, where one
pool serves every call with the same jobs and threads, and each worker keeps what it cached (decoded data)
for the next call.

Each call of `fn` is one unit of progress (`cnnlab.core.progress`): planned when `map_jobs` starts, counted as
each finishes (cached when its result is a run summary with "cached" true), in the order they finish.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from cnnlab.core import progress
from cnnlab.core.logs import configure_worker
from cnnlab.core.processes import end_processes, exit_with_parent, pass_on_signal, signals_ignored

__all__ = ["map_jobs", "shared_workers", "sharing_workers"]

log = logging.getLogger(__name__)

T = TypeVar("T")
PASS_ON_WAIT = 10.0  # seconds workers get to end after a stop is passed on to them, before they are killed


class _Shared:
    """The pool kept by `shared_workers` (at most one: a call with other jobs/threads replaces it)."""

    depth = 0  # nested shared_workers() contexts; the outermost one shuts the pool down
    key: tuple[int, int] | None = None  # (jobs, threads) of `pool`
    pool: Any = None  # concurrent.futures.ProcessPoolExecutor


def _init_pool_worker(threads: int) -> None:
    import torch

    exit_with_parent()  # a killed command must not leave its workers running
    configure_worker()  # INFO lines into the command's log file, if it keeps one
    torch.set_num_threads(threads)


def _new_pool(jobs: int, threads: int):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_pool_worker, initargs=(threads,))


def _stop_pool(pool: Any, exc: BaseException) -> None:
    """A stop by signal (Ctrl-C, SIGTERM: `exc`) while `pool` works: the signal is passed on to the worker
    processes (sent to the parent alone, it would leave them running their tasks), tasks not started are
    cancelled, and workers still running after PASS_ON_WAIT seconds are killed. The parent then exits
    through its normal clean-up: no "leaked semaphore" warnings from multiprocessing's resource tracker."""
    import signal

    with signals_ignored():
        workers = pass_on_signal(getattr(exc, "signum", signal.SIGINT))
        pool.shutdown(wait=False, cancel_futures=True)
        end_processes(workers, PASS_ON_WAIT)


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

    counted = progress.counting()
    if counted:
        progress.plan(len(calls))
    if cluster.cluster_active():
        return cluster.map_on_cluster(fn, calls, threads, counted)
    if jobs <= 1 or len(calls) <= 1:
        out = []
        for call in calls:
            with progress.job():  # the runs inside are this call: counted once, below
                out.append(fn(*call))
            if counted:
                progress.advance(cached=_was_cached(out[-1]))
        return out
    if not sharing_workers():
        with _new_pool(jobs, threads) as pool:
            try:
                return _gather(pool, fn, calls, counted)
            except KeyboardInterrupt as exc:
                _stop_pool(pool, exc)
                raise
    from concurrent.futures.process import BrokenProcessPool

    held = _Shared.key  # (jobs, threads) of the held pool
    fits = held is not None and held[1] == threads and (held[0] == jobs or held[0] >= jobs >= len(calls))
    if not fits:
        _close_shared()
        _Shared.pool, _Shared.key = _new_pool(jobs, threads), (jobs, threads)
        log.debug("started %d shared worker processes (%d torch threads each)", jobs, threads)
    try:
        return _gather(_Shared.pool, fn, calls, counted)
    except BrokenProcessPool:
        _Shared.pool, _Shared.key = None, None  # a worker died: the next call starts a fresh pool
        raise
    except KeyboardInterrupt as exc:
        pool, _Shared.pool, _Shared.key = _Shared.pool, None, None
        _stop_pool(pool, exc)
        raise


def _gather(pool: Any, fn: Callable[..., T], calls: Sequence[tuple], counted: bool) -> list[T]:
    """`fn(*call)` for every call on `pool`, results in order; each finished call is reported to the progress as
    it finishes. The first failure (in the order they finish) is raised at once, as `pool.map` would; the calls
    not started yet are cancelled."""
    from concurrent.futures import FIRST_COMPLETED, wait

    futures = [pool.submit(fn, *call) for call in calls]
    pending = set(futures)
    try:
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                f.result()  # raises the call's exception
                if counted:
                    progress.advance(cached=_was_cached(f.result()))
    except BaseException:
        for f in pending:
            f.cancel()
        raise
    return [f.result() for f in futures]


def _was_cached(result: Any) -> bool:
    """Whether a call's result is a run reused from the runs folder (a summary with "cached": true)."""
    return isinstance(result, dict) and result.get("cached") is True
