"""`map_jobs`, the one process pool: the suites' runs and Part 2's runs are trained through it.

Workers are spawned (not forked: torch and fork do not mix), each with its own torch thread count, and
end with their parent (cnnlab.core.processes.exit_with_parent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from cnnlab.core.processes import exit_with_parent

T = TypeVar("T")


def _init_pool_worker(threads: int) -> None:
    import torch

    exit_with_parent()  # a killed command must not leave its workers running
    torch.set_num_threads(threads)


def map_jobs(fn: Callable[..., T], calls: Sequence[tuple], jobs: int, threads: int) -> list[T]:
    """`fn(*call)` for every call, results in order: in this process when `jobs` is 1 (or there is one call),
    else in `jobs` spawned worker processes with `threads` torch threads each, ended with their parent.
    `fn` must be a module-level function and the calls picklable (the suites' runs, Part 2's seeds)."""
    if jobs <= 1 or len(calls) <= 1:
        return [fn(*call) for call in calls]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_pool_worker, initargs=(threads,)) as pool:
        return list(pool.map(fn, *zip(*calls)))
