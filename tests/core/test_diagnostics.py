"""`cnnlab inspect` and the diagnostics library: files, confusion sums, top-loss order, atomic folder, Part 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import cnnlab
from art_helpers import write_art_folder
from cnnlab.art.config import RunConfig
from cnnlab.art.run import train_run
from cnnlab.cli.app import main
from cnnlab.core.config import resolve_config
from cnnlab.core.diagnostics.metrics import SplitDiagnostics
from cnnlab.core.diagnostics.summary import load_diagnostics
from cnnlab.core.io import atomic_dir
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.faces.training.alexnet_runs import AlexNetInputs

COMMON = [
    "confusion_test.csv",
    "confusion_test.png",
    "per_class_test.csv",
    "confused_pairs_test.csv",
    "top_losses_test.csv",
    "top_losses_test.png",
    "saliency.png",
    "diagnostics.json",
]
PART1 = COMMON + ["first_layer_filters.png", "feature_maps.png"]


@pytest.fixture(scope="module")
def art_run(tmp_path_factory) -> Path:
    """A 3-epoch starter-network run on 3 'artists' x 10 small images (a colour cast per class, one striped)."""
    root = tmp_path_factory.mktemp("diag")
    write_art_folder(
        root / "art", ["anna a", "bert b", "carl c"], per_class=10, size=(30, 30), noise=90, cast=120, striped=1
    )
    config = resolve_config(RunConfig, None, [f"data.name={root / 'art'}", "data.image_size=24", "train.epochs=3"])
    return train_run(config, root / "runs").path


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_inspect_cli_writes_every_file_and_the_numbers_agree_with_the_run(art_run, capsys):
    assert main(["inspect", art_run.name, "--out", str(art_run.parent), "--split", "both"]) == 0
    out = capsys.readouterr().out
    assert "test: accuracy" in out and "val: accuracy" in out and "most confused" in out and "worst classes" in out
    folder = art_run / "diagnostics"
    names = {p.name for p in folder.iterdir()}
    assert set(PART1) | {n.replace("_test", "_val") for n in COMMON if "_test" in n} <= names
    summary = json.loads((art_run / "summary.json").read_text())
    meta = json.loads((art_run / "config.json").read_text())
    # The confusion matrix sums to the test-set size; its diagonal is the run's test accuracy.
    rows = _csv(folder / "confusion_test.csv")
    classes = meta["data"]["classes"]
    cm = np.array([[int(r[c]) for c in classes] for r in rows])
    assert [r["true \\ predicted"] for r in rows] == classes
    assert cm.sum() == meta["data"]["n_test"]
    assert np.trace(cm) / cm.sum() == pytest.approx(summary["test_acc"], abs=1e-9)
    per_class = _csv(folder / "per_class_test.csv")
    assert [int(r["support"]) for r in per_class] == cm.sum(1).tolist()
    assert [int(r["correct"]) for r in per_class] == np.diag(cm).tolist()
    # Top losses: highest loss first, each loss = -log p(true).
    top = [r for r in _csv(folder / "top_losses_test.csv") if r["kind"] == "top_loss"]
    losses = [float(r["loss"]) for r in top]
    assert top and losses == sorted(losses, reverse=True)
    assert all(float(r["loss"]) == pytest.approx(-np.log(float(r["p_true"])), rel=1e-4) for r in top)
    pairs = _csv(folder / "confused_pairs_test.csv")
    assert sum(int(p["count"]) for p in pairs) == cm.sum() - np.trace(cm)
    diag = load_diagnostics(art_run)
    assert (
        diag["splits"]["test"]["accuracy"] == pytest.approx(summary["test_acc"])
        and diag["saliency"]["method"] == "saliency"
    )
    assert set(diag["files"]) == names
    with Image.open(folder / "confusion_test.png") as im:
        assert min(im.size) > 300


def test_inspect_replaces_the_folder_atomically_and_bad_input_is_one_line(art_run, capsys, tmp_path):
    stale = art_run / "diagnostics" / "stale.txt"
    stale.parent.mkdir(exist_ok=True)
    stale.write_text("from an older inspection")
    result = cnnlab.inspect(art_run, split="val")  # the public API, by folder
    assert not stale.exists() and set(result.splits) == {"val"} and (result.path / "confusion_val.csv").is_file()
    assert not (result.path / "confusion_test.csv").exists()
    assert not [p for p in art_run.iterdir() if p.name.startswith(".diagnostics")]  # no temporary folders left
    assert main(["inspect", "no-such-run", "--out", str(art_run.parent)]) == 2
    assert main(["inspect", str(art_run), "--method", "lime"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("cnnlab: error:") for line in err) and "attribution method" in err[1]
    # A run whose data changed since it trained: one line, and the old diagnostics stay.
    copy = tmp_path / art_run.name
    copy.mkdir()
    for f in art_run.iterdir():
        if f.is_file():
            (copy / f.name).write_bytes(f.read_bytes())
    meta = json.loads((copy / "config.json").read_text())
    meta["data"]["hash"] = "0" * 64
    (copy / "config.json").write_text(json.dumps(meta))
    assert main(["inspect", str(copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert "data changed" in err and "\n" not in err and not (copy / "diagnostics").exists()


def test_atomic_dir_keeps_the_old_folder_when_writing_fails(tmp_path):
    target = tmp_path / "diagnostics"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("one")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "b.txt").write_text("half")
            raise RuntimeError("killed")
    assert [p.name for p in tmp_path.iterdir()] == ["diagnostics"] and [p.name for p in target.iterdir()] == ["a.txt"]


def test_split_diagnostics_against_hand_counts():
    names = ("Turner", "Cozens", "Monet")
    y = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    pred = [1, 1, 0, 0, 1, 0, 2, 2]
    probs = torch.full((8, 3), 0.1)
    probs[torch.arange(8), torch.tensor(pred)] = 0.8
    probs[1] = torch.tensor([0.05, 0.9, 0.05])  # the most confidently wrong image
    d = SplitDiagnostics.of("test", names, y, probs)
    assert d.confusion.tolist() == [[2, 2, 0], [1, 1, 0], [0, 0, 2]] and d.accuracy == pytest.approx(5 / 8)
    assert d.confused_pairs()[0] == {"true": "Turner", "predicted": "Cozens", "count": 2, "of": 4, "share": 0.5}
    per = {r["class"]: r for r in d.per_class()}
    assert (
        per["Turner"]["recall"] == 0.5
        and per["Cozens"]["precision"] == pytest.approx(1 / 3)
        and per["Monet"]["f1"] == 1.0
    )
    assert [r["class"] for r in d.worst_classes(2)] == ["Cozens", "Turner"]
    top = d.top_losses(3)
    assert top[0]["index"] == 1 and [t["loss"] for t in top] == sorted((t["loss"] for t in top), reverse=True)
    assert all(c["correct"] for c in d.confident_correct())
    ex = {name: (right, wrong) for name, right, wrong in d.examples()}
    assert ex["Turner"][1]["index"] == 1 and ex["Monet"][1] is None
    pooled = SplitDiagnostics.pooled([d, d])  # two models' predictions on the same split: counts add up
    assert pooled.confusion.tolist() == (2 * d.confusion).tolist() and pooled.confused_pairs(1)[0]["of"] == 8


def test_inspect_part2_mlp_run(tmp_path, capsys):
    from cnnlab.core.train.config import TrainConfig
    from cnnlab.faces.data.run_faces import load_run_faces
    from cnnlab.faces.run_configs import MLPConfig, MLPRunConfig
    from cnnlab.faces.training.small import train_mlp

    config = MLPRunConfig(
        mlp=MLPConfig(hidden=16, activation="relu", image_size=16), train=TrainConfig(epochs=2, batch_size=32)
    )
    run = train_mlp(load_run_faces(config), config, tmp_path / "runs").path
    assert main(["inspect", run.name[:10], "--out", str(tmp_path / "runs")]) == 0
    assert "accuracy" in capsys.readouterr().out
    names = {p.name for p in (run / "diagnostics").iterdir()}
    assert set(COMMON) <= names and "first_layer_filters.png" not in names
    diag = load_diagnostics(run)
    summary = json.loads((run / "summary.json").read_text())
    test = diag["splits"]["test"]
    assert np.sum(test["confusion"]) == summary["data"]["n_test"] == test["n"]
    assert test["accuracy"] == pytest.approx(summary["test_acc"]) and diag["saliency"]["method"] == "guided-backprop"


def test_inspected_figures_reach_tensorboard(art_run):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from cnnlab.core.train.tensorboard import EVENTS_DIR, write_run_events

    write_run_events(art_run, overwrite=True)
    cnnlab.inspect(art_run)  # a run with events: they are rewritten with the new figures
    acc = EventAccumulator(str(art_run / EVENTS_DIR), size_guidance={"images": 0})
    acc.Reload()
    tags = set(acc.Tags()["images"])
    assert {
        "figures/diagnostics/confusion_test",
        "figures/diagnostics/saliency",
        "figures/diagnostics/first_layer_filters",
    } <= tags


def test_inspect_part2_alexnet_features_run_rebuilds_the_whole_network(tmp_path):
    """The checkpoint holds trunk + head: inspecting it end to end gives the accuracy the head had on cached features."""
    from cnnlab.core.train.config import TrainConfig
    from cnnlab.faces.alexnet.weights import resolve_weights
    from cnnlab.faces.data.run_faces import load_run_faces
    from cnnlab.faces.run_configs import FeaturesConfig, FeaturesRunConfig
    from cnnlab.faces.training.transfer import alexnet_features

    config = FeaturesRunConfig(
        features=FeaturesConfig(layer="conv4", head_hidden=(16,), input_size=67, weights="random"),
        train=TrainConfig(epochs=3, batch_size=32),
    )
    state_dict, weights = resolve_weights("random")
    run = alexnet_features(
        AlexNetInputs(load_run_faces(config), state_dict, weights), config, RuntimeOptions(out=tmp_path / "runs")
    ).path
    result = cnnlab.inspect(run.name, out=tmp_path / "runs")
    summary = json.loads((run / "summary.json").read_text())
    assert result.kind == "alexnet-features" and "untrained AlexNet" in result.extra["model"]
    assert (
        result.splits["test"].accuracy == pytest.approx(summary["test_acc"])
        and (result.path / "saliency.png").is_file()
    )
