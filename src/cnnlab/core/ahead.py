"""Stages started ahead on a cluster: a later stage's runs train while the stages before it still run.

A command runs its stages one after another, each a `map_jobs` call that ends before the next starts. On a
few local workers that costs nothing: every stage keeps them all busy. On a cluster of many workers it
leaves most of them idle behind a short stage, and the report's wall time becomes the sum of its stages'
longest runs. Yet most stages need nothing from the ones before them: only the 1.6 search needs 1.3-1.5,
and 1.7's controls and robustness need the search; Part 2 needs nothing from Part 1.

`Ahead` lets a command start such a stage early, in a second client process of the same cluster whose
tasks go at a lower Dask priority (`AHEAD_PRIORITY`), so the command's own tasks, the search's trials
first, are never queued behind them. When the command comes to that stage (`stage`), it waits for the early
process, showing that stage's runs there as its own progress, and then runs the stage itself, as it always
does: it finds the runs in its runs folder (cached, not counted twice) and writes the stage's results. The
early process only fills the cache, so the numbers, the run ids and the .tex are those of a rerun, which are
those of a local build. If it fails, the stage runs itself and says what is wrong, once. A run folder is
still written only by a client of the command (the early process is one).

A process, not a thread: the torch RNG, the progress display and Python's signal handling are per
process. The early process ends with the command (Ctrl-C, kill -9 included: `exit_with_parent`).

Only with a cluster of at least `min_workers()` workers (default 4, CNNLAB_AHEAD_WORKERS; 0 turns it off):
on fewer, the stages' own runs keep every worker busy and a second client only costs its start-up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from cnnlab.core import cluster, progress

__all__ = ["AHEAD_PRIORITY", "MIN_WORKERS_ENV", "Ahead", "min_workers", "stage"]

log = logging.getLogger(__name__)

AHEAD_PRIORITY = -1  # Dask priority of the early process's tasks (the command's own are 0)
MIN_WORKERS_ENV = "CNNLAB_AHEAD_WORKERS"
DEFAULT_MIN_WORKERS = 4
STOP_WAIT = 10.0  # seconds an early process gets to end after SIGTERM before it is killed
WAIT_STEP = 0.25  # seconds between two looks at an early process's progress while the command waits for it


def min_workers() -> int:
    """Cluster workers from which stages are started ahead ($CNNLAB_AHEAD_WORKERS, default 4; 0: never)."""
    text = os.environ.get(MIN_WORKERS_ENV, "").strip()
    try:
        return int(text) if text else DEFAULT_MIN_WORKERS
    except ValueError:
        log.warning("%s=%r is not a number of workers; using %d", MIN_WORKERS_ENV, text, DEFAULT_MIN_WORKERS)
        return DEFAULT_MIN_WORKERS


class _Relay(progress.Listener):
    """In the early process: every stage's counts, sent to the command (`Ahead.wait` shows them)."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def _send(self, stage: progress.Stage, finished: bool) -> None:
        with contextlib.suppress(Exception):  # a command gone meanwhile: this process ends with it
            self.queue.put((stage.name, stage.planned, stage.done, stage.cached, finished))

    def started(self, p: progress.Progress, stage: progress.Stage) -> None:
        self._send(stage, False)

    def changed(self, p: progress.Progress, stage: progress.Stage) -> None:
        self._send(stage, False)

    def finished(self, p: progress.Progress, stage: progress.Stage) -> None:
        self._send(stage, True)


def _run_early(address: str, fn: Callable[..., Any], args: tuple, names: Sequence[str], queue: Any) -> None:
    """In the early process: `fn(*args)` on the cluster at `address`, behind the command's own tasks; its
    stages' progress goes to `queue`."""
    from cnnlab.core.logs import configure_silent_worker
    from cnnlab.core.processes import exit_with_parent, stop_on_signals

    exit_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C: the command ends this process (close)
    configure_silent_worker()  # the command tells the user, when it runs the stage itself
    try:
        # SIGTERM (close) stops it through its clean-up: its queued tasks cancelled, no temporary folder left
        with stop_on_signals(), cluster.use_cluster(address), progress.listening(_Relay(queue)):
            cluster.run_behind(AHEAD_PRIORITY)
            fn(*args)
        log.info("started ahead, done: %s", ", ".join(names))
    except BaseException as exc:  # noqa: BLE001 - told once, by the stage itself when the command runs it
        log.info("started ahead, failed (the stage will run itself): %s: %s", ", ".join(names), exc)
        os._exit(1)


class Ahead:
    """The stages a command started ahead, by name; see the module's docstring. Use as a context manager:
    at its end every early process still running is stopped."""

    def __init__(self) -> None:
        self._processes: dict[str, Any] = {}  # stage name -> the multiprocessing.Process that runs it
        self._queues: dict[Any, Any] = {}  # process -> the queue its stages' counts come through
        self._counts: dict[str, tuple[int, int, int, bool]] = {}  # stage -> (planned, done, cached, finished) there
        self._shown: dict[str, tuple[int, int, int]] = {}  # stage -> (planned, done, cached) shown here

    @property
    def enabled(self) -> bool:
        """Whether stages are started ahead here: on a cluster of at least `min_workers()` workers."""
        n = min_workers()
        return n > 0 and cluster.cluster_active() and cluster.worker_count() >= n

    @property
    def address(self) -> str | None:
        """The scheduler address the early processes use (a cluster option for the work they are given)."""
        return cluster.scheduler_address()

    def start(self, names: Sequence[str], fn: Callable[..., Any], *args: Any) -> None:
        """Start `fn(*args)` (a module-level function with picklable arguments, whose options name the cluster
        as `self.address`) in an early process that runs the stages `names` (call it when `enabled`)."""
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        process = context.Process(
            target=_run_early, args=(self.address, fn, args, tuple(names), queue), name=f"cnnlab-ahead-{names[0]}"
        )
        # Started with SIGINT ignored (kept across exec: Python then leaves it so), so that a terminal's Ctrl-C
        # during its start-up prints nothing there; the command stops it (close).
        ignore = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if ignore else None
        try:
            process.start()
        finally:
            if ignore:
                signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
        log.info("started ahead on the cluster: %s", ", ".join(names))
        self._queues[process] = queue
        for name in names:
            self._processes[name] = process

    def wait(self, name: str) -> None:
        """Inside the command's stage `name`: wait until its early process (if any) has ended, showing that
        stage's runs there as this stage's progress (planned, done, cached, as they come)."""
        process = self._processes.pop(name, None)
        if process is None:
            return
        while process.is_alive():
            process.join(WAIT_STEP)
            self._show(process, name)
        self._show(process, name)
        if process.exitcode != 0:
            log.info("the early process for %s ended with %s; the stage runs itself", name, process.exitcode)

    def covered(self, name: str) -> bool:
        """Whether an early process finished stage `name` (its runs were counted by `wait`: the command's own
        pass over them, all cached, is not counted again)."""
        return self._counts.get(name, (0, 0, 0, False))[3]

    def _read(self, process: Any) -> None:
        """Read what `process` sent so far (an early process ends only once its queue is read)."""
        queue = self._queues.get(process)
        while queue is not None:
            try:
                stage, *counts = queue.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty, or a process killed mid-message: nothing more
                break
            self._counts[str(stage)] = tuple(counts)  # type: ignore[assignment]

    def _show(self, process: Any, name: str) -> None:
        """Read what `process` sent, and add to the current stage what its stage `name` did since last shown."""
        self._read(process)
        planned, done, cached, _ = self._counts.get(name, (0, 0, 0, False))
        was = self._shown.get(name, (0, 0, 0))
        progress.plan(planned - was[0])
        progress.advance(done - cached - (was[1] - was[2]))
        progress.advance(cached - was[2], cached=True)
        self._shown[name] = (planned, done, cached)

    def close(self) -> None:
        """Stop every early process still running (SIGTERM, then SIGKILL after STOP_WAIT seconds)."""
        running = [p for p in dict.fromkeys(self._processes.values()) if p.is_alive()]
        self._processes.clear()
        for p in running:
            with contextlib.suppress(ProcessLookupError):
                p.terminate()
        deadline = time.monotonic() + STOP_WAIT
        while running and time.monotonic() < deadline:
            for p in running:
                self._read(p)  # what it still sends: it ends once that is read
                p.join(WAIT_STEP / len(running))
            running = [p for p in running if p.is_alive()]
        for p in running:
            p.kill()
            p.join(5)

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def stage(name: str, ahead: Ahead | None = None) -> Iterator[None]:
    """`progress.stage(name)` of a stage that `ahead` may have started early: it first waits for that (showing
    its progress as this stage's), and then the command's own pass is not counted again if it finished."""
    with progress.stage(name):
        if ahead is None:
            yield
            return
        ahead.wait(name)
        with progress.job() if ahead.covered(name) else contextlib.nullcontext():
            yield
