"""bench/simulate_cluster.py: the report's schedule replayed through N workers, stage after stage (local) or
with the stages cnnlab.core.ahead starts early (cluster)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "simulate_cluster.py"


@pytest.fixture(scope="module")
def sim():
    spec = importlib.util.spec_from_file_location("simulate_cluster", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


PLAN = [
    ("baseline", [1.0, 1.0]),
    ("pooling", [2.0, 2.0]),
    ("regularization", [3.0] * 8),
    ("architecture", [4.0] * 4),
    ("search trials 1-4", [5.0, 1.0]),
    ("search", [2.0, 2.0]),
    ("controls", [1.0]),
    ("robustness", [6.0]),
    ("other: mlp", [1.0] * 6),
]


def test_the_local_schedule_is_stage_after_stage(sim):
    # one worker: every run in turn; many: every stage's longest run, one stage after another
    total = sum(sum(s) for _, s in PLAN)
    assert sim.simulate(sim.plan_streams(PLAN, ahead=False), 1, 0.0, 0.0) == pytest.approx(total)
    longest = sum(max(s) for _, s in PLAN)
    assert sim.simulate(sim.plan_streams(PLAN, ahead=False), 1000, 0.0, 0.0) == pytest.approx(longest)


def test_stages_started_ahead_overlap_and_keep_the_dependencies(sim):
    local = sim.simulate(sim.plan_streams(PLAN, ahead=False), 1000, 0.0, 0.0)
    ahead = sim.simulate(sim.plan_streams(PLAN, ahead=True), 1000, 0.0, 0.0)
    # the search waits for 1.2-1.5 (max(1+2, 3+4) = 7), then its batches (5 + 2), then robustness (6) beside
    # controls (1); Part 2 (1) runs beside it all
    assert ahead == pytest.approx(7 + 5 + 2 + 6) and ahead < local
    # an early client that takes 3 s to start delays its stages by that much
    assert sim.simulate(sim.plan_streams(PLAN, ahead=True), 1000, 0.0, 3.0) == pytest.approx(3 + 7 + 5 + 2 + 3 + 6)
    # on one worker, both do all the work, one run after another
    total = sum(sum(s) for _, s in PLAN)
    assert sim.simulate(sim.plan_streams(PLAN, ahead=True), 1, 0.0, 0.0) == pytest.approx(total)


def test_the_serial_client_time_is_read_from_the_newest_log(sim, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    times = {"pooling": 60.0, "Part 1 figures": 7.5, "Part 2 figures": 2.0, "LaTeX": 4.25}
    (logs / "report-20261206-100000.log").write_text('x INFO cnnlab: stage seconds: {"LaTeX": 99}\n')
    (logs / "report-20261206-110000.log").write_text(f"x INFO cnnlab.cli.output: stage seconds: {json.dumps(times)}\n")
    assert sim.serial_from_log(tmp_path) == pytest.approx(13.75)
    assert sim.serial_from_log(tmp_path / "nothing") is None
