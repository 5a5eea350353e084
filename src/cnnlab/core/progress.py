"""Progress of a long command: library code reports what it does, the command line shows it.

    with progress.stage("pooling"):     # a suite, a Part 2 step, the LaTeX pass
        progress.plan(20)              # runs this stage will train or reuse (map_jobs plans its calls itself)
        ...                            # each finished run is counted by `run_cached` or `map_jobs`

The library only reports events (stages, runs planned, runs done); `cnnlab.cli` listens (`listening`) and
renders them, live on a terminal or as a few plain lines. Nobody listening (a library call, a test, a worker
process): every function here is a no-op, so library code calls them freely.

Counting rule: a run counts once, by whoever sees it finish in this process. `map_jobs` counts each of its
calls (a call is one run: a suite's run, a Part 2 seed) and `run_cached` counts a run made outside any such
call; inside `job()` nothing below counts (the search counts its trials as a whole). A cached run is done at
once: it counts as done and as cached.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

__all__ = [
    "Stage",
    "Listener",
    "Progress",
    "listening",
    "stage",
    "plan",
    "advance",
    "job",
    "counted",
    "counting",
    "expect",
]

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Stage:
    """One stage of a command: its runs planned and done (cached ones among them) and its times."""

    name: str
    index: int  # 1-based position among the stages the command expects (or has seen so far)
    started: float = field(default_factory=time.monotonic)
    planned: int = 0
    done: int = 0
    cached: int = 0
    seconds: float | None = None  # set when the stage ends

    @property
    def elapsed(self) -> float:
        return self.seconds if self.seconds is not None else time.monotonic() - self.started

    def remaining(self) -> float | None:
        """Seconds left in this stage at the pace of its trained runs so far (cached ones took no time), or
        None when that says nothing: no run trained yet (no pace to go by), or every planned run done (the
        stage's own work after its runs, an evaluation or a figure, has no count)."""
        left = self.planned - self.done
        trained = self.done - self.cached
        if left <= 0 or trained <= 0:
            return None
        return self.elapsed / trained * left


class Listener:
    """What a renderer implements (every method may be left as this no-op)."""

    def started(self, progress: Progress, stage: Stage) -> None:
        """A stage began."""

    def changed(self, progress: Progress, stage: Stage) -> None:
        """Runs were planned or finished in the current stage."""

    def finished(self, progress: Progress, stage: Stage) -> None:
        """A stage ended well (stage.seconds is set); a stage that raised is not reported."""


class Progress:
    """One command's progress: its stages in order, told to one listener."""

    def __init__(self, listener: Listener | None = None) -> None:
        self.listener = listener or Listener()
        self.started = time.monotonic()
        self.stages: list[Stage] = []
        self.expected: list[str] = []  # the stage names the command announced, to show "3/15"
        self.current: Stage | None = None
        self.job_depth = 0  # inside job(): runs are counted by whoever opened it

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def total_stages(self) -> int:
        return max(len(self.expected), len(self.stages))

    def stage_times(self) -> dict[str, float]:
        """{stage: seconds} of the finished stages, in order (a stage run twice adds up)."""
        out: dict[str, float] = {}
        for s in self.stages:
            if s.seconds is not None:
                out[s.name] = out.get(s.name, 0.0) + s.seconds
        return out


_active: Progress | None = None


@contextlib.contextmanager
def listening(listener: Listener | None = None) -> Iterator[Progress]:
    """Within this context, stages and runs are reported to `listener` (the command line opens it once)."""
    global _active
    outer, _active = _active, Progress(listener)
    try:
        yield _active
    finally:
        _active = outer


def expect(names: Sequence[str]) -> None:
    """Announce the stages to come (their count is shown as "k/N"); stages not announced are still shown."""
    if _active is not None:
        _active.expected = list(names)


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """A stage of the command: shown while it runs, timed when it ends. A stage opened inside another one
    (a suite run by a report step) continues the outer one instead: the outer name and time stand."""
    p = _active
    if p is None or p.current is not None:
        yield
        return
    index = p.expected.index(name) + 1 if name in p.expected else len(p.stages) + 1
    current = Stage(name, index)
    p.stages.append(current)
    p.current = current
    p.listener.started(p, current)
    try:
        yield
    except BaseException:
        p.current = None  # a failed stage is not reported as done: the error says what happened
        raise
    current.seconds = time.monotonic() - current.started
    p.current = None
    p.listener.finished(p, current)


def counting() -> bool:
    """Whether a run finishing here is counted (someone listens, and no enclosing job counts it)."""
    return _active is not None and _active.current is not None and _active.job_depth == 0


def plan(n: int) -> None:
    """`n` more runs planned in the current stage."""
    if counting() and n > 0:
        _active.current.planned += n  # type: ignore[union-attr]
        _active.listener.changed(_active, _active.current)  # type: ignore[union-attr]


def advance(n: int = 1, cached: bool = False) -> None:
    """`n` runs of the current stage finished (`cached`: reused from the runs folder); a run nobody planned
    raises the plan with it."""
    if not counting() or n <= 0:
        return
    s = _active.current  # type: ignore[union-attr]
    s.done += n
    s.cached += n if cached else 0
    s.planned = max(s.planned, s.done)
    _active.listener.changed(_active, s)  # type: ignore[union-attr]


@contextlib.contextmanager
def job() -> Iterator[None]:
    """A unit of work counted as a whole by the caller: runs finished inside it are not counted one by one."""
    p = _active
    if p is None:
        yield
        return
    p.job_depth += 1
    try:
        yield
    finally:
        p.job_depth -= 1


def counted(n: int, fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` as one job of `n` runs: planned when called, counted when it returns (its own runs are not counted
    one by one: the search's trials, which run in sweep workers or here)."""

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        counts = counting()
        plan(n)
        with job():
            out = fn(*args, **kwargs)
        if counts:
            advance(n)
        return out

    return call
