"""Stages started ahead on a cluster (cnnlab.core.ahead): the suites run through a LocalCluster with their
later stages started in a second client give the local results, the stages started ahead are found cached
by the command, a failed early process leaves the stage to run itself, and none outlives the command."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest

from cnnlab.core import ahead, progress

pytest.importorskip("distributed")  # the [cluster] extra; the [test] extra installs it, so CI runs these


def test_min_workers_reads_the_environment(monkeypatch, caplog):
    monkeypatch.delenv(ahead.MIN_WORKERS_ENV, raising=False)
    assert ahead.min_workers() == ahead.DEFAULT_MIN_WORKERS
    monkeypatch.setenv(ahead.MIN_WORKERS_ENV, "0")
    assert ahead.min_workers() == 0 and not ahead.Ahead().enabled  # 0 turns it off
    monkeypatch.setenv(ahead.MIN_WORKERS_ENV, "many")
    with caplog.at_level(logging.WARNING):
        assert ahead.min_workers() == ahead.DEFAULT_MIN_WORKERS
    assert "not a number of workers" in caplog.text


def test_without_a_cluster_nothing_starts_ahead(monkeypatch):
    monkeypatch.setenv(ahead.MIN_WORKERS_ENV, "1")
    with ahead.Ahead() as early:
        assert not early.enabled and early.address is None
        early.wait("pooling")  # nothing was started: returns at once


def test_a_failed_early_process_leaves_the_stage_to_run_itself(tmp_path):
    with ahead.Ahead() as early:
        early.start(["x", "y"], os.stat, str(tmp_path / "missing"))  # raises FileNotFoundError there
        t0 = time.monotonic()
        early.wait("x")  # returns: the stage then runs itself and says what is wrong
        early.wait("y")
        assert time.monotonic() - t0 < 60


def test_an_early_process_says_nothing_on_the_terminal(tmp_path, monkeypatch, capfd):
    from cnnlab.core.logs import LOG_FILE_ENV

    log_file = tmp_path / "command.log"
    monkeypatch.setenv(LOG_FILE_ENV, str(log_file))
    with ahead.Ahead() as early:
        early.start(["x"], logging.warning, "damaged cache, rebuilt")  # the stage itself will say it, once
        early.wait("x")
    assert "damaged cache" not in capfd.readouterr().err
    assert "damaged cache, rebuilt" in log_file.read_text()  # the command's log file keeps it


def _chatty(n: int) -> None:
    """An early stage of `n` runs that reports each one (far more than a pipe's buffer of messages)."""
    with progress.stage("chatty"):
        progress.plan(n)
        for _ in range(n):
            progress.advance()


def test_a_stage_started_ahead_shows_its_runs_as_the_commands_progress():
    stages = _Stages()
    t0 = time.monotonic()
    with progress.listening(stages), ahead.Ahead() as early:
        early.start(["chatty"], _chatty, 5000)
        with ahead.stage("chatty", early):
            assert early.covered("chatty")
            progress.advance(7, cached=True)  # the command's own pass over them: not counted again
    shown = stages.done["chatty"]
    assert (shown.planned, shown.done, shown.cached) == (5000, 5000, 0)
    assert time.monotonic() - t0 < 60


def test_an_early_process_ends_with_the_command():
    with ahead.Ahead() as early:
        early.start(["slow"], time.sleep, 300)
        (process,) = early._processes.values()
        assert process.is_alive()
        t0 = time.monotonic()
    process.join(1)
    assert not process.is_alive() and time.monotonic() - t0 < ahead.STOP_WAIT + 5


class _Stages(progress.Listener):
    def __init__(self) -> None:
        self.done: dict[str, progress.Stage] = {}

    def finished(self, p: progress.Progress, stage: progress.Stage) -> None:
        self.done[stage.name] = stage


def _suites(tiny_art: Path, out: Path, cluster: str | None) -> tuple[dict[str, dict], _Stages]:
    from cnnlab.art.config import RunConfig
    from cnnlab.art.suites import SuiteOptions, run_all
    from cnnlab.core.config import resolve_config
    from cnnlab.core.runtime import RuntimeOptions

    base = resolve_config(RunConfig, None, [f"data.name={tiny_art}"])
    options = SuiteOptions(runtime=RuntimeOptions(out=out, jobs=1, cluster=cluster), base=base, quick=True)
    stages = _Stages()
    with progress.listening(stages):
        results = run_all(options)
    found = {}
    for r in results:
        meta = json.loads((out / "suites" / r.name / "suite.json").read_text())
        found[r.name] = {"run_ids": [row.get("run_ids") for row in meta["rows"]], "findings": meta["findings"]}
    return found, stages


@pytest.mark.slow
def test_suites_started_ahead_on_a_cluster_give_the_local_results(tmp_path, tiny_art, monkeypatch):
    local, local_stages = _suites(tiny_art, tmp_path / "local", None)
    monkeypatch.setenv(ahead.MIN_WORKERS_ENV, "2")
    on_cluster, stages = _suites(tiny_art, tmp_path / "cluster", "local:2")
    assert on_cluster == local
    assert sorted(p.name for p in (tmp_path / "cluster").glob("cnn-*")) == sorted(
        p.name for p in (tmp_path / "local").glob("cnn-*")
    )
    # the progress is the local one: every stage plans and finishes as many runs, each counted once; the
    # stages started ahead show the early client's runs as they train (not as cached: it trained them)
    assert list(stages.done) == list(local_stages.done)
    for name, stage in stages.done.items():
        assert (stage.planned, stage.done) == (local_stages.done[name].planned, local_stages.done[name].done), name
    for name in ("regularization", "architecture", "robustness"):
        assert stages.done[name].cached < stages.done[name].planned, (name, stages.done[name])
    assert not list((tmp_path / "cluster").glob(".tmp-*"))
