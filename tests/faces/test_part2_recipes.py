"""2.1's recipe chosen on validation only (cnnlab.faces.training.mlp_recipes) and the small CNN beside the MLP."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import pytest
import torch
from test_part2 import QUICK, synthetic_faces

from cnnlab.cli.app import main
from cnnlab.faces.models.checkpoints import load_checkpoint
from cnnlab.faces.models.cnn import FaceCNN
from cnnlab.faces.run_configs import (
    CNNRunConfig,
    FaceCNNConfig,
    FaceDataConfig,
    MLPConfig,
    MLPRunConfig,
    cnn_like_mlp,
    with_seed,
)
from cnnlab.faces.training.mlp_recipes import CHOICE_RULE, MLP_RECIPES, MLPRecipe, choose_recipe, select_mlp_recipe
from cnnlab.faces.training.small import train_face_cnn


def _runs(val_acc, val_loss, test_acc):
    return [{"val_acc": a, "val_loss": loss, "test_acc": t} for a, loss, t in zip(val_acc, val_loss, test_acc)]


def test_validation_decides_never_test():
    # "b" is best on test by far, "a" on validation: validation decides.
    runs = {
        "a": _runs([0.90, 0.92], [0.3, 0.3], [0.60, 0.61]),
        "b": _runs([0.88, 0.89], [0.2, 0.2], [0.99, 0.99]),
    }
    assert choose_recipe(runs) == "a"
    # Without any test accuracy at all the choice is the same (test is not read).
    assert (
        choose_recipe({k: [{"val_acc": r["val_acc"], "val_loss": r["val_loss"]} for r in v] for k, v in runs.items()})
        == "a"
    )
    # Ties in mean validation accuracy: the lower validation loss, then grid order.
    tie = {"x": _runs([0.9, 0.9], [0.5, 0.5], [1, 1]), "y": _runs([0.9, 0.9], [0.4, 0.4], [0, 0])}
    assert choose_recipe(tie) == "y"
    same = {"x": _runs([0.9], [0.4], [0]), "y": _runs([0.9], [0.4], [1])}
    assert choose_recipe(same) == "x"
    assert "validation" in CHOICE_RULE and "never" in CHOICE_RULE


def test_grid_is_declared_with_the_default_first():
    default = MLPRunConfig()
    assert len(MLP_RECIPES) == 16 and len({r.label for r in MLP_RECIPES}) == 16
    assert MLP_RECIPES[0].apply(default) == default  # the run config's defaults are the first recipe
    tuned = MLPRecipe(True, True, 1e-3, 1e-3).apply(default)
    assert tuned.mlp.per_image and tuned.mlp.flip and tuned.mlp.shift == 2 and tuned.mlp.hidden == 300
    assert tuned.train.optimizer.lr == 1e-3 and tuned.train.optimizer.weight_decay == 1e-3


def test_select_never_evaluates_test(tmp_path):
    data = FaceDataConfig(actors=("s1", "s2", "s3"))
    base = MLPRunConfig(data=data, mlp=MLPConfig(hidden=16), train=replace(QUICK, epochs=3))
    recipes = (MLPRecipe(False, False, 1e-2, 1e-2), MLPRecipe(True, False, 1e-2, 1e-3))
    choice = select_mlp_recipe(base, (0, 1), tmp_path, recipes=recipes)
    assert [r["recipe"] for r in choice.rows] == [r.label for r in recipes]
    assert sum(r["chosen"] for r in choice.rows) == 1 and choice.chosen in {r.label for r in recipes}
    # Each row says what its recipe is (the report's grid table is built from these fields).
    assert [(r["per_image"], r["augment"], r["weight_decay"], r["lr"]) for r in choice.rows] == [
        (r.per_image, r.augment, r.weight_decay, r.lr) for r in recipes
    ]
    best = max(choice.rows, key=lambda r: (r["val_acc_mean"], -r["val_loss_mean"]))
    assert best["recipe"] == choice.chosen
    folders = [p for p in tmp_path.iterdir() if p.name.startswith("mlp-")]
    assert len(folders) == 4
    for folder in folders:
        summary = json.loads((folder / "summary.json").read_text())
        assert "test_acc" not in summary and "test_loss" not in summary
        assert "test" not in (folder / "metrics.csv").read_text()  # not even recorded per epoch
        assert "not evaluated" in (folder / "config.json").read_text()
        assert not (folder / "learning_curves.png").exists()


def test_cnn_overfits_one_batch():
    torch.manual_seed(0)
    x, y = torch.rand(8, 1, 28, 28), torch.arange(8) % 4
    model = FaceCNN(FaceCNNConfig(), 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 and torch.equal(model(x).argmax(1), y)


def test_cnn_run_is_deterministic_per_seed_and_paired_with_the_mlp(tmp_path):
    faces = synthetic_faces(28, 1)
    mlp = MLPRunConfig(train=QUICK, mlp=MLPConfig(per_image=True, flip=True, shift=1))
    config = cnn_like_mlp(mlp)
    assert config.train == mlp.train and config.data == mlp.data and config.cnn.per_image and config.cnn.shift == 1
    first = train_face_cnn(faces, config, tmp_path / "a")
    again = train_face_cnn(faces, config, tmp_path / "b")  # another folder: trained again
    assert not again.cached and first.path.name == again.path.name
    assert _numbers(first.path) == _numbers(again.path)  # bitwise the same history
    assert first.summary["test_acc"] >= 0.9 and first.summary["params"] < 30_000
    other = train_face_cnn(faces, with_seed(config, 1), tmp_path / "a")
    assert other.path != first.path
    loaded = load_checkpoint(first.path / "model.pt")
    assert loaded.kind == "face-cnn" and loaded.model(faces.test_x).shape == (len(faces.test_y), 3)


def _numbers(run) -> list[dict]:
    """metrics.csv without its wall-clock column."""
    with open(run / "metrics.csv") as f:
        return [{k: v for k, v in row.items() if "second" not in k} for row in csv.DictReader(f)]


@pytest.mark.parametrize("bad", ["cnn.widths=[]", "cnn.kernel_size=4", "cnn.image_size=2"])
def test_cnn_bad_config_is_one_line(tmp_path, capsys, bad):
    assert main(["part2", "cnn", "--out", str(tmp_path), "--set", bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cnn." in err[0]


def test_cli_cnn_and_recipes(tmp_path, capsys):
    common = ["--actors", "s1,s2,s3", "--epochs", "2", "--out", str(tmp_path)]
    assert main(["part2", "cnn", *common, "--widths", "4,8", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "face-cnn" and summary["params"] > 0 and "test_acc" in summary
    assert CNNRunConfig().train == MLPRunConfig().train  # the CNN's default training is the MLP's
    assert main(["part2", "recipes", *common, "--hidden", "8", "--repeats", "1", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("<- chosen") == 1 and "test accuracy, evaluated once" in out and len(out.splitlines()) >= 18
