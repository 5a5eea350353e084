"""The learning-rate range test: the schedule, the smoothing and the rules, through the one Trainer and the CLI."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cnnlab.cli.app import main
from cnnlab.core.errors import ConfigError
from cnnlab.core.train.callbacks import Callback, FitState
from cnnlab.core.train.config import OptimizerConfig, TrainConfig
from cnnlab.core.train.lr_finder import RangeTest, RangeTestDone, find_lr, lr_at, smooth, suggest, write_lr_find
from cnnlab.core.train.trainer import Trainer


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 16), nn.ReLU(), nn.Linear(16, 3))


def test_schedule_is_exponential_from_start_to_end():
    lrs = [lr_at(i, 1e-6, 1.0, 61) for i in range(61)]
    assert lrs[0] == pytest.approx(1e-6) and lrs[-1] == pytest.approx(1.0) and lrs[30] == pytest.approx(1e-3)
    assert all(b > a for a, b in zip(lrs, lrs[1:]))
    ratios = np.diff(np.log(lrs))
    assert np.allclose(ratios, ratios[0])


def test_smoothing_is_bias_corrected_and_the_rules_pick_the_steepest_fall():
    assert smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])  # no pull towards 0 at the start
    lrs = [lr_at(i, 1e-5, 1.0, 101) for i in range(101)]
    x = np.log10(lrs)
    # Flat, then falling fastest at lr 1e-3, minimum at 1e-1, then rising.
    loss = 2 - np.tanh(2 * (x + 3)) * 0.5 + np.where(x > -1, 5 * (x + 1) ** 2, 0)
    i_steep, i_min = suggest(lrs, loss.tolist(), skip_begin=0)
    assert lrs[i_steep] == pytest.approx(1e-3, rel=0.13) and i_steep < i_min
    assert lrs[i_min] == pytest.approx(0.1, rel=0.15)
    assert (
        suggest(lrs[:5], [1.0, 2, 3, 4, 5])[0] is None
    )  # rising from the start: no steepest descent before the minimum


def test_range_test_on_the_trainer(toy_images, tmp_path):
    x, y = toy_images
    config = TrainConfig(batch_size=8, optimizer=OptimizerConfig(name="sgd", lr=0.05, momentum=0.0))
    result = find_lr(config, _net(), (x[:45], y[:45]), (x[45:], y[45:]), start=1e-4, end=1e3, steps=40)
    n = len(result.lrs)
    assert 5 <= n <= 40 and len(result.losses) == len(result.smoothed) == n
    assert all(b > a for a, b in zip(result.lrs, result.lrs[1:]))  # the curve is monotone in LR
    assert result.start <= result.suggestion <= result.end
    assert result.suggestion in result.lrs or result.steepest_index is None
    assert result.lrs[0] == pytest.approx(1e-4)
    files = write_lr_find(result, tmp_path / "lrf")
    with open(files[0], newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["lr"]) for r in rows] == pytest.approx(result.lrs, rel=1e-5)
    info = json.loads((tmp_path / "lrf" / "lr_find.json").read_text())
    assert info["suggestion"] == pytest.approx(result.suggestion) and (
        "steepest" in info["rule"] or "minimum" in info["rule"]
    )
    with pytest.raises(ConfigError):
        find_lr(config, _net(), (x, y), (x, y), start=1.0, end=0.1)


def test_range_test_stops_when_the_smoothed_loss_diverges_and_keeps_group_ratios():
    net = _net()
    opt = torch.optim.SGD([{"params": net[1].parameters(), "lr": 0.1}, {"params": net[3].parameters(), "lr": 1.0}])
    state = FitState(TrainConfig(), net, opt, None)
    test = RangeTest(1e-3, 1.0, steps=50)
    test.on_fit_start(state)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-3, 1e-2])  # the first group's LR; ratio 1:10 kept
    with pytest.raises(RangeTestDone, match="4x its minimum"):
        for loss in [1.0] * 10 + [1000.0] * 10:
            test.on_batch_end(state, torch.tensor(loss))
    assert len(test.lrs) < 20 and test.smoothed[-1] > 4 * min(test.smoothed)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx(
        [lr_at(len(test.lrs) - 1, 1e-3, 1.0, 50) * r for r in (1, 10)]
    )


class _Count(Callback):
    def __init__(self) -> None:
        self.steps: list[int] = []

    def on_batch_end(self, state, loss) -> None:
        assert loss.ndim == 0 and not loss.requires_grad and math.isfinite(float(loss))
        self.steps.append(state.step)


def test_batch_hook_sees_every_step_and_changes_nothing(toy_images):
    x, y = toy_images
    config = TrainConfig(epochs=3, batch_size=16)
    plain = Trainer(config).fit(_net(), (x[:40], y[:40]), (x[40:], y[40:]))
    counter = _Count()
    hooked = Trainer(config).fit(_net(), (x[:40], y[:40]), (x[40:], y[40:]), callbacks=[counter])
    assert counter.steps == list(range(1, 3 * math.ceil(40 / 16) + 1))
    assert plain.history == [dict(r, seconds=p["seconds"]) for r, p in zip(hooked.history, plain.history)]
    assert all(torch.equal(plain.best_state[k], hooked.best_state[k]) for k in plain.best_state)


def test_cli_lr_find_on_a_tiny_art_folder(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for c in range(2):
        (tmp_path / "art" / f"artist {c}").mkdir(parents=True)
        for i in range(8):
            img = rng.integers(0, 80, (20, 20, 3), dtype=np.uint8)
            img[..., c] += 150
            Image.fromarray(img).save(tmp_path / "art" / f"artist {c}" / f"{i}.png")
    out = tmp_path / "lrf"
    code = main(
        [
            "lr-find",
            "--data",
            str(tmp_path / "art"),
            "--set",
            "data.image_size=16",
            "--set",
            "train.batch_size=4",
            "--steps",
            "12",
            "--end",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "suggested lr:" in text and "minimum/10:" in text and "not changed" in text
    assert {p.name for p in out.iterdir()} == {"lr_find.csv", "lr_find.png", "lr_find.json"}
    info = json.loads((out / "lr_find.json").read_text())
    assert 1e-7 <= info["suggestion"] <= 1 and info["meta"]["configured_lr"] == 1e-4
    assert main(["lr-find", "--start", "1", "--end", "0.5", "--out", str(out)]) == 2
