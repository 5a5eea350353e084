"""Torch threads per process: the one rule every training command follows (`--threads N` overrides it).

The rule: `--threads N` if given, else $OMP_NUM_THREADS if set, else DEFAULT_THREADS = 1 thread per
process. Measured with `python bench/bench_train.py` (docs/benchmarks.md): these networks are so small
that a second intra-op thread buys little on an idle machine, while on a busy one oversubscribed
OpenMP threads spin-wait and a run becomes many times slower; parallel work is done by processes
(`--jobs`, `--workers`) instead. A fixed count also keeps Part 1 results bitwise reproducible whatever
the machine's load: runs are reproducible only for a fixed thread count, which summaries record as
`torch_threads`.
"""

from __future__ import annotations

import logging
import os

from cnnlab.core.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_THREADS = 1
MAX_THREADS = 256


def cpu_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def resolve_threads(threads: int | None = None) -> int:
    """The torch thread count for a training process: `threads`, else $OMP_NUM_THREADS, else DEFAULT_THREADS."""
    if threads is None:
        env = os.environ.get("OMP_NUM_THREADS", "").strip()
        if env.isdigit() and int(env) >= 1:
            return min(int(env), MAX_THREADS)
        return DEFAULT_THREADS
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS:
        raise ConfigError(f"--threads must be an integer in [1, {MAX_THREADS}], got {threads!r}")
    if threads > cpu_cores():
        log.warning(
            "--threads %d is more than the %d CPU cores this process may use: threads will wait for each other",
            threads,
            cpu_cores(),
        )
    return threads


def use_threads(threads: int | None = None) -> int:
    """Set this process's torch threads by the rule (see `resolve_threads`); returns the count."""
    import torch

    n = resolve_threads(threads)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
