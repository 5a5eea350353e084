"""The 1.7 robustness evaluation's cache (runs/cache/robustness/<key>.json, cnnlab.core.keyed_cache): a rerun
reads it instead of evaluating again and gives the same numbers, bit for bit; a damaged cache file is
evaluated again with one warning; changed inputs (runs, weights, severities) miss it."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import cnnlab.art.robustness as robustness
from art_helpers import count_calls, write_art_folder
from cnnlab.art.config import RunConfig
from cnnlab.art.robustness import evaluate_robustness
from cnnlab.art.run import train_run
from cnnlab.art.suites import SuiteOptions, run_suite
from cnnlab.core.config import resolve_config
from cnnlab.core.runtime import RuntimeOptions

SEVERITIES = {"translate": (0.0, 0.5, 1.0), "invert": (0.0, 1.0)}  # a few graded cells: fast, still every family


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[RunConfig, Path, list[str]]:
    """(config, runs folder, 3 tiny run folders: seeds 0-2, one epoch) on a 3-class art folder."""
    root = tmp_path_factory.mktemp("robust_cache")
    write_art_folder(root / "art")
    config = resolve_config(RunConfig, None, [f"data.name={root / 'art'}", "data.image_size=24", "train.epochs=1"])
    out = root / "runs"
    paths = [
        str(train_run(replace(config, train=replace(config.train, seed=s)), out, write_plot=False).path)
        for s in range(3)
    ]
    return config, out, paths


@pytest.fixture
def counted(monkeypatch) -> list[int]:
    """Counts the real evaluations (`evaluate_accuracies` still runs): one element per call."""
    return count_calls(monkeypatch, robustness, "evaluate_accuracies")


def _models(paths: list[str]) -> dict[str, list[str]]:
    return {"as trained": paths[:2], "augmented": paths[1:3]}


def _evaluate(runs, cache: Path | None, models=None, severities=SEVERITIES) -> list[dict]:
    config, _, paths = runs
    return evaluate_robustness(models or _models(paths), config, severities, cache_dir=cache)


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def _same_bits(a: list[dict], b: list[dict]) -> None:
    """Rows equal, every float compared bit for bit (float.hex)."""
    assert a == b
    for ra, rb in zip(a, b, strict=True):
        assert [x.hex() for x in ra["accs"]] == [x.hex() for x in rb["accs"]]
        assert ra["acc_mean"].hex() == rb["acc_mean"].hex() and ra["acc_std"].hex() == rb["acc_std"].hex()


def test_a_rerun_reads_the_cache_and_gives_the_same_numbers(runs, tmp_path, counted, caplog):
    uncached = _evaluate(runs, None)
    assert len(counted) == 1
    cache = tmp_path / "cache" / "robustness"
    first = _evaluate(runs, cache)
    assert len(counted) == 2 and len(list(cache.glob("*.json"))) == 1
    again = _evaluate(runs, cache)
    assert len(counted) == 2, "the rerun evaluated again instead of reading the cache"
    _same_bits(uncached, first)
    _same_bits(uncached, again)
    assert not _warnings(caplog)
    # one row per model and cell: the clean split, 8 course transforms, 3 graded severities (the zeros are the clean split)
    assert len(again) == 2 * (1 + len(robustness.COURSE_ORDER) + 3)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _edit(change):
    def edit(path: Path) -> None:
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc))  # json.dumps writes NaN as the bare token NaN: not strict JSON

    return edit


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


DAMAGE = {
    "truncated": _truncate,
    "wrong key": _edit(lambda doc: doc["key"].update(eval_seed=doc["key"]["eval_seed"] + 1)),
    "NaN": _edit(lambda doc: doc["value"][0].__setitem__(0, float("nan"))),
    "accuracy out of range": _edit(lambda doc: doc["value"][0].__setitem__(0, 1.5)),
    "a run's accuracy missing": _edit(lambda doc: doc["value"][3].pop()),
    "a cell missing": _edit(lambda doc: doc["value"].pop()),
    "not a record": lambda path: path.write_text("[1, 2, 3]"),
    "a FIFO": _fifo,
    "a folder": lambda path: (path.unlink(), path.mkdir()),
}


def _within(call, seconds: float = 60):
    """`call()` in a daemon thread: a hang (a FIFO opened for a blocking read) fails the test, not the suite."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert out, f"the evaluation did not end within {seconds} s"
    return out[0]


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_cache_is_evaluated_again_with_one_warning(runs, tmp_path, counted, caplog, damage):
    cache = tmp_path / "cache" / "robustness"
    expected = _evaluate(runs, cache)
    (path,) = cache.glob("*.json")
    DAMAGE[damage](path)
    caplog.clear()
    rows = _within(lambda: _evaluate(runs, cache))  # a FIFO must not block: readback opens it non-blocking
    assert len(counted) == 2, "a damaged cache must be evaluated again, never trusted"
    _same_bits(expected, rows)
    (warning,) = _warnings(caplog)
    assert "robustness cache" in warning and "Traceback" not in warning
    if damage == "a folder":  # cannot be replaced by a file: the cache stays unwritten, no second warning
        return
    caplog.clear()
    _same_bits(expected, _evaluate(runs, cache))
    assert len(counted) == 2 and not _warnings(caplog), "the damaged file was not replaced by a good one"


def test_changed_inputs_miss_the_cache(runs, tmp_path, counted, caplog):
    config, out, paths = runs
    cache = tmp_path / "cache" / "robustness"
    _evaluate(runs, cache)
    assert len(counted) == 1
    # another run in a model (another run id), another order of the runs, other severities: each evaluated
    _evaluate(runs, cache, models={"as trained": [paths[0], paths[2]], "augmented": paths[1:3]})
    assert len(counted) == 2
    _evaluate(runs, cache, models={"as trained": paths[1::-1], "augmented": paths[1:3]})
    assert len(counted) == 3
    rows = _evaluate(runs, cache, severities={"translate": (0.0, 0.25, 1.0), "invert": (0.0, 1.0)})
    assert len(counted) == 4 and {r["severity"] for r in rows if r["transform"] == "translate"} == {0.25, 1.0}
    assert len(list(cache.glob("*.json"))) == 4 and not _warnings(caplog)


def test_changed_weights_under_the_same_run_id_miss_the_cache(runs, tmp_path, counted):
    """The key holds the SHA-256 of the weights a run reports, not only its id."""
    import shutil

    _, out, paths = runs
    copies = []
    for p in paths:  # a copy of the runs folder: the module's runs stay as trained
        shutil.copytree(p, tmp_path / "runs" / Path(p).name)
        copies.append(str(tmp_path / "runs" / Path(p).name))
    cache = tmp_path / "cache" / "robustness"
    _evaluate(runs, cache, models=_models(copies))
    reported = json.loads((Path(copies[0]) / "summary.json").read_text()).get("reported_model", "best")
    weights = Path(copies[0]) / f"{reported}.pt"  # the weights the run reports (one epoch: final.pt)
    state = torch.load(weights, weights_only=True)
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name] = state[name] + 1.0
    torch.save(state, weights)
    _evaluate(runs, cache, models=_models(copies))
    assert len(counted) == 2


@pytest.mark.slow
def test_the_robustness_suite_reruns_from_the_cache(tmp_path, runs, counted):
    """The suite caches in its runs folder: its rerun evaluates nothing and writes the same suite.json."""
    config, _, _ = runs
    options = SuiteOptions(runtime=RuntimeOptions(out=tmp_path / "runs", jobs=1), base=config, quick=True)
    first = run_suite("robustness", options)
    before = (first.path / "suite.json").read_bytes()
    assert len(counted) == 1 and len(list((tmp_path / "runs" / "cache" / "robustness").glob("*.json"))) == 1
    again = run_suite("robustness", options)
    assert len(counted) == 1
    assert (again.path / "suite.json").read_bytes() == before
