"""core.progress: stages, runs planned and done, reported by map_jobs and run_cached; a no-op when nobody listens."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import pytest

from cnnlab.core import progress
from cnnlab.core.logs import LOG_FILE_ENV, TERMINAL_LEVEL_ENV
from cnnlab.core.pool import map_jobs
from cnnlab.core.runs.cached import RunSpec, run_cached


class Recorder(progress.Listener):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def started(self, p, stage) -> None:
        self.events.append(("started", stage.name, stage.index, p.total_stages))

    def changed(self, p, stage) -> None:
        self.events.append(("changed", stage.planned, stage.done, stage.cached))

    def finished(self, p, stage) -> None:
        self.events.append(("finished", stage.name, stage.planned, stage.done, stage.cached))


def _summary(i: int, cached: bool = False) -> dict:
    return {"i": i, "cached": cached}


def _write(run, trained: dict) -> dict:
    run.write_history([])
    return trained


def _tiny_run(root: Path, seed: int):
    """A run folder made in no time (no model): what run_cached writes and reuses."""
    return run_cached(RunSpec(root, "toy", {"seed": seed}, {"hash": "h"}, seed), lambda: {"x": seed}, _write)


def test_nobody_listening_is_a_no_op():
    with progress.stage("alone"):
        progress.plan(3)
        progress.advance(2)
        assert not progress.counting()
    assert map_jobs(_summary, [(1,), (2,)], 1, 1) == [{"i": 1, "cached": False}, {"i": 2, "cached": False}]


def test_map_jobs_counts_each_call_once_and_run_cached_counts_runs_made_outside(tmp_path):
    rec = Recorder()
    with progress.listening(rec) as p:
        progress.expect(["one", "two", "three"])
        with progress.stage("one"):
            # serial map_jobs: planned at once, each call counted once (cached by its summary), in order
            map_jobs(_summary, [(1, True), (2, False)], 1, 1)
        with progress.stage("two"):
            _tiny_run(tmp_path, 0)  # a run outside map_jobs: counted by run_cached (the plan grows with it)
            _tiny_run(tmp_path, 0)  # reused: counted as cached
            map_jobs(_tiny_run, [(tmp_path, 1)], 1, 1)  # inside a call: counted by map_jobs, not twice
            with progress.stage("inner"):  # a stage inside a stage continues the outer one
                progress.counted(4, lambda: _tiny_run(tmp_path, 2))()  # a job of 4 (the search's trials)
    assert rec.events[:4] == [
        ("started", "one", 1, 3),
        ("changed", 2, 0, 0),
        ("changed", 2, 1, 1),
        ("changed", 2, 2, 1),
    ]
    assert ("finished", "one", 2, 2, 1) in rec.events
    assert rec.events[-1] == ("finished", "two", 1 + 1 + 1 + 4, 7, 1)
    assert list(p.stage_times()) == ["one", "two"] and all(t >= 0 for t in p.stage_times().values())


def test_remaining_time_goes_by_the_pace_of_trained_runs():
    s = progress.Stage("x", 1, started=0.0, planned=10, done=4, cached=2, seconds=8.0)
    assert s.remaining() == pytest.approx(8.0 / 2 * 6)  # 2 trained runs in 8 s, 6 runs left
    assert progress.Stage("y", 1, planned=3, done=3, cached=1).remaining() is None  # runs done, the rest uncounted
    assert progress.Stage("z", 1, planned=3, done=1, cached=1).remaining() is None  # no pace yet


def test_plain_lines_say_each_stage_and_at_most_one_line_a_minute():
    """Not a terminal: a line when a stage ends well, and at most one a minute between."""
    from cnnlab.cli.output import PlainLines

    out = io.StringIO()
    with progress.listening(PlainLines(out, every=3600)):
        progress.expect(["a", "b"])
        with progress.stage("b"):
            progress.plan(5)
            for _ in range(5):
                progress.advance()
        with pytest.raises(KeyError), progress.stage("a"):  # a failed stage is not said to be done
            raise KeyError("x")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1  # five runs, no minute passed: no line between
    assert lines[0].startswith("cnnlab: [2/2] b: done in ") and lines[0].endswith("(5/5 runs)")
    out.seek(0), out.truncate()
    with progress.listening(PlainLines(out, every=0)), progress.stage("c"):
        progress.plan(2)
        progress.advance()
    assert out.getvalue().splitlines()[-2].startswith("cnnlab: [1/1] c: 1/2 runs, ")  # a minute passed (here: 0 s)


def _log_in_worker(n: int) -> int:
    logging.getLogger("cnnlab.test.worker").info("worker line %d", n)
    logging.getLogger("cnnlab.test.worker").warning("worker warning %d", n)
    return os.getpid()


@pytest.mark.slow
def test_a_long_command_logs_into_its_file_workers_too_and_warns_on_the_terminal(tmp_path, capfd):
    """INFO of the command and of its pool workers into runs/logs/<command>-<time>.log; warnings on stderr."""
    import argparse

    from cnnlab.cli.output import command_output

    args = argparse.Namespace(command="experiment", out=str(tmp_path / "runs"), verbose=False)
    with command_output(args):
        logging.getLogger("cnnlab.test").info("main line")
        logging.getLogger("cnnlab.test").warning("main warning")
        pids = map_jobs(_log_in_worker, [(1,), (2,)], 2, 1)
    assert os.environ.get(LOG_FILE_ENV) is None and os.environ.get(TERMINAL_LEVEL_ENV) is None  # restored
    (log_file,) = (tmp_path / "runs" / "logs").glob("experiment-*.log")
    text = log_file.read_text()
    assert "main line" in text and "worker line 1" in text and "worker line 2" in text
    assert any(f" {pid} INFO cnnlab.test.worker" in text for pid in pids)
    out, err = capfd.readouterr()
    assert "main line" not in err and "worker line" not in err  # INFO stays off the terminal
    assert "main warning" in err and "worker warning 1" in err  # warnings reach it, the workers' too
    assert f"log: {log_file}" in out
