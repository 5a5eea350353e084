"""Training on a Dask cluster: `with use_cluster("tcp://127.0.0.1:8786"): ...` sends every `map_jobs` call
made inside it to the cluster's workers (docs/cluster.md). The optional extra: `pip install -e ".[cluster]"`.

An address is `tcp://host:port` (or `tls://`, with Dask's Security from its configuration), a scheduler
file written by `dask scheduler --scheduler-file`, or `local:N`: an in-process LocalCluster of N one-thread
worker processes. Before any work is sent, every worker must run one thread (a worker process trains one
run at a time, with the global torch seeds and thread count of cnnlab's local workers) and the same cnnlab
and torch versions as this process (a run's numbers depend on both).

No shared file system is assumed (cnnlab.core.runs.capture): the client runs each job here until it meets
a run that is not in its cache, so only jobs with runs to train are sent; a worker writes its runs into a
scratch folder and sends them back as files, which the client writes atomically into its runs folder.
Data reaches a worker once: a job caches what it prepared in the worker process (as in local workers).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from cnnlab.core.errors import CnnlabError, first_line

__all__ = [
    "ENV",
    "ClusterError",
    "use_cluster",
    "cluster_active",
    "map_on_cluster",
    "cache_checked_first",
    "redact",
    "worker_facts",
    "scheduler_address",
    "worker_count",
    "run_behind",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

ENV = "CNNLAB_CLUSTER"  # the default --cluster address
CONNECT_TIMEOUT = 5  # seconds to reach the scheduler: a wrong address fails quickly
WORKER_WAIT = 60  # seconds to wait for a first worker to join the scheduler
MAX_LOCAL_WORKERS = 256
CACHE_FIRST = "__cnnlab_cache_first__"  # attribute of a job function whose runs are looked up here first


class ClusterError(CnnlabError):
    """An unusable cluster: unreachable, without workers, or with workers unlike this process."""


def cache_checked_first(fn: Callable[..., T]) -> Callable[..., T]:
    """Mark a `map_jobs` job function whose work is runs of `run_cached` and nothing else before them: on a
    cluster the client runs it until its first run missing from the client's cache, and sends only such jobs.
    (A job function that is not marked is sent as it is: it runs on a worker, its runs come back as files.)"""
    setattr(fn, CACHE_FIRST, True)
    return fn


def redact(address: str) -> str:
    """The address with any credentials (user:password@) replaced by ***: safe to print."""
    return re.sub(r"(?<=://)[^/@\s]*@", "***@", str(address))


class _Active:
    """The cluster of the innermost `use_cluster` (at most one at a time)."""

    address: str | None = None
    client: Any = None
    versions: dict[str, str] = {}
    depth = 0
    priority = 0  # Dask priority of the tasks sent (run_behind: lower, for work started ahead)
    notes: list[str] = []  # what the user is told once: the cluster, its dashboard, its workers (cluster_notes)


def cluster_active() -> bool:
    """Whether `map_jobs` sends its jobs to a cluster (inside `use_cluster` with an address)."""
    return _Active.client is not None


def cluster_notes() -> list[str]:
    """The lines a command shows its user once when it joins a cluster (the address with its dashboard link,
    the workers and their versions); [] without a cluster. Library code only logs them."""
    return list(_Active.notes) if _Active.client is not None else []


def scheduler_address() -> str | None:
    """The active cluster's scheduler address as another process can reach it (a local:N cluster's own
    tcp://127.0.0.1:port); None without a cluster."""
    return str(_Active.client.scheduler.address) if _Active.client is not None else None


def worker_count() -> int:
    """Workers the active cluster's scheduler knows now (0 without a cluster)."""
    if _Active.client is None:
        return 0
    return len(_Active.client.scheduler_info(n_workers=-1)["workers"])


def run_behind(priority: int) -> None:
    """Send this process's tasks at Dask priority `priority` (default 0; Dask runs higher first): a process
    that runs work ahead (cnnlab.core.ahead) yields the workers to the command's own tasks."""
    _Active.priority = int(priority)


def worker_facts() -> dict[str, str]:
    """What must match between the client and a worker: cnnlab's and torch's versions (read at call time)."""
    import importlib

    import torch

    return {"cnnlab": str(importlib.import_module("cnnlab.core.version").__version__), "torch": torch.__version__}


@contextlib.contextmanager
def use_cluster(address: str | None) -> Iterator[None]:
    """Within this block `map_jobs` trains on the Dask cluster at `address` (None or "": on local workers, as
    without the block). A nested block with the same address uses the same connection."""
    if not address or not str(address).strip():
        yield
        return
    address = str(address).strip()
    if _Active.client is not None:
        if address != _Active.address:
            raise ClusterError(f"already using the cluster {redact(_Active.address or '')}, not {redact(address)}")
        _Active.depth += 1
        try:
            yield
        finally:
            _Active.depth -= 1
        return
    with _connect(address) as client:
        _Active.address, _Active.client, _Active.depth = address, client, 1
        try:
            _Active.versions = _check_workers(client, address)
            yield
        finally:
            _Active.address, _Active.client, _Active.depth, _Active.notes = None, None, 0, []
            _Active.priority = 0


@contextlib.contextmanager
def _connect(address: str) -> Iterator[Any]:
    """A Dask client of `address` (local:N starts a LocalCluster), closed (with the cluster) at the end."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError('--cluster needs Dask: pip install -e ".[cluster]"') from None
    shown = redact(address)
    dask_log = logging.getLogger("distributed")
    if not log.isEnabledFor(logging.DEBUG):  # Dask's INFO lines (each worker, each connection) drown cnnlab's
        dask_log.setLevel(logging.WARNING)
    if "@" in address.split("://", 1)[-1].split("/", 1)[0]:
        raise ClusterError(
            f"--cluster {shown}: a Dask address holds no credentials; secure it with TLS (docs/cluster.md)"
        )
    local = re.fullmatch(r"local:(\d+)", address)
    try:
        if local:
            n = int(local.group(1))
            if not 1 <= n <= MAX_LOCAL_WORKERS:
                raise ClusterError(f"--cluster local:N needs 1 <= N <= {MAX_LOCAL_WORKERS}, got {n}")
            cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
            )
            client = Client(cluster, timeout=CONNECT_TIMEOUT)
        elif "://" in address or re.fullmatch(r"[\w.\-\[\]:]+:\d+", address):
            cluster, client = None, Client(address, timeout=CONNECT_TIMEOUT)
        elif Path(address).is_file():
            cluster, client = None, Client(scheduler_file=address, timeout=CONNECT_TIMEOUT)
        else:
            raise ClusterError(f"--cluster {shown}: not tcp://host:port, a scheduler file or local:N (no such file)")
    except CnnlabError:
        raise
    except Exception as exc:  # noqa: BLE001 - Dask's many ways of failing to connect: one line
        reason = first_line(exc).replace(address, shown)
        raise ClusterError(f"cannot reach the Dask scheduler at {shown}: {redact(reason)}") from None
    try:
        link = client.dashboard_link if client.scheduler_info().get("services", {}).get("dashboard") else None
        note = f"Dask cluster {shown}" + (f"; dashboard {redact(link)}" if link else " (no dashboard)")
        log.info("%s", note)
        _Active.notes = [note]
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=CONNECT_TIMEOUT)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=CONNECT_TIMEOUT)


def _check_workers(client: Any, address: str) -> dict[str, str]:
    """Refuse, before any work is sent, a cluster without workers or with a worker unlike this process; returns
    this process's `worker_facts`."""
    shown = redact(address)
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT)
    except Exception:  # noqa: BLE001 - a TimeoutError, or the scheduler gone meanwhile
        raise ClusterError(f"no Dask worker joined the scheduler at {shown} within {WORKER_WAIT} s") from None
    workers = client.scheduler_info(n_workers=-1)["workers"]
    many = sorted(a for a, w in workers.items() if w.get("nthreads", 1) != 1)
    if many:
        raise ClusterError(
            f"Dask worker {redact(many[0])} runs {workers[many[0]]['nthreads']} threads: "
            "start workers with --nthreads 1 (one run at a time per process)"
        )
    from concurrent.futures import ThreadPoolExecutor

    # Both sides import torch to say its version (seconds each on a small machine): at the same time.
    with ThreadPoolExecutor(1) as thread:
        asked = thread.submit(client.run, worker_facts)
        ours = worker_facts()
        facts = asked.result()
    for worker, theirs in sorted(facts.items()):
        problem = _mismatch(theirs, ours)
        if problem:
            raise ClusterError(
                f"Dask worker {redact(worker)} runs {problem}: install the same versions on every worker"
            )
    note = f"{len(facts)} Dask worker(s), cnnlab {ours['cnnlab']}, torch {ours['torch']}"
    log.info("%s", note)
    _Active.notes.append(note)
    return ours


def _mismatch(theirs: dict[str, str], ours: dict[str, str] | None = None) -> str | None:
    ours = _Active.versions if ours is None else ours
    for name in ("cnnlab", "torch"):
        if theirs.get(name) != ours.get(name):
            return f"{name} {theirs.get(name)} and this process {name} {ours.get(name)}"
    return None


M_MMAP_THRESHOLD = -3  # glibc <malloc.h>
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest: tensor buffers stay on the heap


@functools.lru_cache(maxsize=1)
def heap_for_tensors() -> bool:
    """Fix glibc's mmap threshold, once per Dask worker process; True if it was set.

    In a Dask worker a small CNN trained 2.1x slower than in a local pool process (measured 2026-12-06,
    one run: 1.31 s against 0.62 s of train_seconds). The nanny starts workers with
    MALLOC_TRIM_THRESHOLD_=65536, and that alone reproduces it in a plain process (1.36 s against 0.59 s):
    setting it turns off glibc's dynamic mmap threshold, so every buffer over 128 KiB becomes a fresh mmap,
    zeroed page by page and unmapped when freed, and training allocates such buffers at every step. A worker
    started without the variable was still slow (1.23 s), so it is not the whole story; a fixed threshold
    of MMAP_THRESHOLD keeps those buffers on the heap in every case (0.64 s). Numbers are unchanged: only
    where the memory comes from.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        done = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    except (OSError, AttributeError):  # no glibc mallopt: nothing to fix
        return False
    log.debug("malloc: mmap threshold fixed at %d bytes: %s", MMAP_THRESHOLD, done)
    return done


def run_task(fn: Callable[..., T], call: tuple, threads: int, versions: dict[str, str]) -> dict:
    """On a worker: `fn(*call)` with `threads` torch threads, its runs written into a scratch folder and
    returned as files ({"value", "runs"}), paths in the value made the client's. Refuses a worker whose
    versions differ from the client's `versions` (a worker that joined after the check)."""
    import torch

    from cnnlab.core.runs import capture

    problem = _mismatch(worker_facts(), versions)
    if problem:
        raise ClusterError(f"a Dask worker runs {problem}: install the same versions on every worker")
    torch.set_num_threads(threads)
    heap_for_tensors()
    try:
        with tempfile.TemporaryDirectory(prefix="cnnlab-task-") as scratch, capture.capturing(scratch) as captured:
            value = fn(*call)
            return {"value": capture.to_client_paths(value, captured), "runs": capture.pack_runs(captured)}
    except CnnlabError:
        raise  # the user's input: one line on the client, as locally
    except Exception as exc:  # noqa: BLE001 - as text: an exception that does not pickle would hang the client
        import socket
        import traceback

        raise RuntimeError(
            f"a training task failed on Dask worker host {socket.gethostname()}: {first_line(exc, with_type=True)}\n"
            + traceback.format_exc(limit=20)
        ) from None


def map_on_cluster(fn: Callable[..., T], calls: Sequence[tuple], threads: int, counted: bool = False) -> list[T]:
    """`fn(*call)` for every call on the active cluster, results in order (see the module's docstring);
    `counted`: each finished call is reported to the progress display (core.progress), as map_jobs does."""
    from distributed import as_completed

    from cnnlab.core import progress
    from cnnlab.core.runs import capture

    client = _Active.client
    results: list[Any] = [None] * len(calls)
    where: dict[str, int] = {}  # task key -> index of its call
    futures: list[Any] = []
    pending = as_completed()
    try:
        for i, call in enumerate(calls):
            if getattr(fn, CACHE_FIRST, False):
                try:
                    with capture.probing(), progress.job():
                        results[i] = fn(*call)
                    if counted:
                        progress.advance(cached=True)
                    continue
                except capture.RunMissing:
                    pass
            # sent at once, so that the workers train while the client looks up the next calls
            future = client.submit(run_task, fn, call, threads, _Active.versions, pure=False, priority=_Active.priority)
            where[future.key] = i
            futures.append(future)
            pending.add(future)
        log.debug("%d of %d jobs sent to the cluster", len(futures), len(calls))
        for future in pending:
            out = _result(future)
            for run in out["runs"]:
                capture.install_run_files(run)
            results[where[future.key]] = out["value"]
            if counted:
                progress.advance()
    except BaseException:  # Ctrl-C, an error: nothing queued keeps running for this client
        with contextlib.suppress(Exception):
            client.cancel(futures, force=True)
        raise
    return results


def _result(future: Any) -> dict:
    """A task's result; a task lost with its workers or a lost scheduler is a one-line ClusterError."""
    from concurrent.futures import CancelledError

    from distributed import KilledWorker
    from distributed.comm.core import CommClosedError

    try:
        return future.result()
    except KilledWorker:
        raise ClusterError(
            "a training task was lost with several Dask workers in turn (killed, or out of memory); see the "
            "workers' logs"
        ) from None
    except (CommClosedError, CancelledError) as exc:
        raise ClusterError(
            f"lost the Dask cluster {redact(_Active.address or '')}: {redact(first_line(exc))}"
        ) from None


def default_address() -> str | None:
    """The --cluster default: $CNNLAB_CLUSTER, or None (local workers)."""
    return os.environ.get(ENV) or None
