"""`inspect_run(..., reuse=True)` (the report's key runs): a diagnostics folder written for the same run, data
and options is kept, not redrawn, and the splits' numbers are the same; a damaged or other folder is inspected
again (a damaged diagnostics.json with one warning)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from art_helpers import count_calls, write_art_folder
from cnnlab.art.config import RunConfig
from cnnlab.art.inspect_run import inspect_run
from cnnlab.art.run import train_run
from cnnlab.core.config import resolve_config


@pytest.fixture(scope="module")
def art_run(tmp_path_factory) -> Path:
    """A 2-epoch run on 3 'artists' x 8 small images (a colour cast per class)."""
    root = tmp_path_factory.mktemp("inspect_reuse")
    write_art_folder(root / "art", noise=90, cast=120, seed=1)
    config = resolve_config(RunConfig, None, [f"data.name={root / 'art'}", "data.image_size=24", "train.epochs=2"])
    return train_run(config, root / "runs", write_plot=False).path


@pytest.fixture
def drawn(monkeypatch) -> list[int]:
    """Counts the real drawings of the saliency figure (one per folder written)."""
    from cnnlab.core.diagnostics import attribution

    return count_calls(monkeypatch, attribution, "plot_examples")


def _stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_reuse_keeps_a_current_folder_and_gives_the_same_numbers(art_run, drawn, caplog):
    first = inspect_run(art_run, reuse=True)  # the first time: written (with the inputs it was made from)
    assert len(drawn) == 1 and json.loads((first.path / "diagnostics.json").read_text())["inputs"]["run"]["run"] == (
        art_run.name
    )
    stamps = _stamps(first.path)
    again = inspect_run(art_run, reuse=True)
    assert len(drawn) == 1, "a current diagnostics folder was drawn again"
    assert _stamps(again.path) == stamps
    a, b = first.splits["test"], again.splits["test"]
    assert np.array_equal(a.probs, b.probs) and np.array_equal(a.y_true, b.y_true) and a.accuracy == b.accuracy
    assert sorted(again.files) == sorted(first.files) and again.extra == json.loads(json.dumps(first.extra))
    assert not _warnings(caplog)
    inspect_run(art_run)  # `cnnlab inspect` (no reuse) always writes the folder again
    assert len(drawn) == 2


def _break_record(path: Path) -> None:
    path.write_text(path.read_text()[:40])


def _fifo_record(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _drop_a_file(path: Path) -> None:
    (path.parent / "saliency.png").unlink()


def _file_outside(path: Path) -> None:
    doc = json.loads(path.read_text())
    doc["files"].append("../summary.json")
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "damage",
    [_break_record, _fifo_record, _drop_a_file, _file_outside],
    ids=["truncated", "FIFO", "file gone", "outside"],
)
def test_a_damaged_folder_is_inspected_again_with_one_warning(art_run, drawn, caplog, damage):
    expected = inspect_run(art_run, reuse=True).splits["test"]
    before = len(drawn)
    damage(art_run / "diagnostics" / "diagnostics.json")
    caplog.clear()
    result = inspect_run(art_run, reuse=True)
    assert len(drawn) == before + 1 and np.array_equal(result.splits["test"].probs, expected.probs)
    (warning,) = _warnings(caplog)
    assert art_run.name in warning and "damaged" in warning
    caplog.clear()
    inspect_run(art_run, reuse=True)
    assert len(drawn) == before + 1 and not _warnings(caplog), "the folder written again is not reused"


def test_other_inputs_are_inspected_again_silently(art_run, drawn, caplog):
    inspect_run(art_run, reuse=True)
    before = len(drawn)
    inspect_run(art_run, reuse=True, saliency_classes=2)  # other options
    assert len(drawn) == before + 1
    record = art_run / "diagnostics" / "diagnostics.json"
    doc = json.loads(record.read_text())
    doc.pop("inputs")  # a folder written by an older cnnlab: no inputs recorded
    record.write_text(json.dumps(doc))
    inspect_run(art_run, reuse=True, saliency_classes=2)
    assert len(drawn) == before + 2
    # other weights under the same run id: the reported checkpoint's hash is part of the inputs
    reported = json.loads((art_run / "summary.json").read_text()).get("reported_model", "best")
    weights = art_run / f"{reported}.pt"
    original = weights.read_bytes()
    state = torch.load(weights, weights_only=True)
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name] = state[name] + 1.0
    torch.save(state, weights)
    try:
        inspect_run(art_run, reuse=True, saliency_classes=2)
        assert len(drawn) == before + 3
    finally:
        weights.write_bytes(original)
    assert not _warnings(caplog)
