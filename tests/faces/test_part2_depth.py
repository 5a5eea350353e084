"""The layer sweep (cnnlab.faces.training.layer_sweep): every layer read in one AlexNet pass, the same head per layer."""

from __future__ import annotations

import math

import pytest
import torch
from test_part2 import synthetic_faces, untrained_weights

from cnnlab.core.errors import ConfigError
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.core.train.config import OptimizerConfig, TrainConfig
from cnnlab.faces.alexnet import model as A
from cnnlab.faces.models.checkpoints import load_checkpoint
from cnnlab.faces.run_configs import FeaturesConfig, FeaturesRunConfig
from cnnlab.faces.training.alexnet_runs import AlexNetInputs
from cnnlab.faces.training.layer_sweep import SWEEP_LAYERS, format_sweep, layer_sweep

SIZE = 67
BATCH = 8


def base_config() -> FeaturesRunConfig:
    return FeaturesRunConfig(
        features=FeaturesConfig(head_hidden=(8,), input_size=SIZE, weights="random"),
        train=TrainConfig(epochs=2, batch_size=6, optimizer=OptimizerConfig(lr=1e-3)),
    )


def test_the_sweep_reads_every_layer_in_one_forward_pass(tmp_path, monkeypatch):
    faces = synthetic_faces(SIZE, 3, per_class=(8, 6, 6), seed=3)
    sd, weights = untrained_weights()
    calls: list[int] = []
    forward = A.AlexNetTrunk.forward

    def counted(self, x):
        if x.device.type != "meta":  # a pass of shapes alone (features.layer_width) computes nothing
            calls.append(len(x))
        return forward(self, x)

    monkeypatch.setattr(A.AlexNetTrunk, "forward", counted)
    root = tmp_path / "runs"
    sweep = layer_sweep(
        AlexNetInputs(faces, sd, weights, extract_batch_size=BATCH), base_config(), (0, 1), RuntimeOptions(out=root)
    )
    # One pass: each split's images go through AlexNet once, in batches; no run reads AlexNet again.
    batches = sum(math.ceil(len(y) / BATCH) for _, y in faces.splits.values())
    assert len(calls) == batches and sum(calls) == sum(len(y) for _, y in faces.splits.values())
    assert [r["layer"] for r in sweep.rows] == list(SWEEP_LAYERS)
    # Every layer pooled to 6x6: 36 x its channels.
    assert [r["feature_dim"] for r in sweep.rows] == [c * 36 for c in (64, 192, 384, 256, 256, 256)]
    for r in sweep.rows:
        assert r["n"] == 2 and len(r["run_ids"]) == 2 and 0.0 <= r["test_acc_mean"] <= 1.0
    assert "conv3" in format_sweep(sweep)
    # Again: every run and every activation comes from the caches, so AlexNet is not run at all.
    calls.clear()
    again = layer_sweep(
        AlexNetInputs(faces, sd, weights, extract_batch_size=BATCH), base_config(), (0, 1), RuntimeOptions(out=root)
    )
    assert calls == [] and again.rows == sweep.rows


def test_a_sweep_checkpoint_pools_as_its_features_did(tmp_path):
    faces = synthetic_faces(SIZE, 3, per_class=(8, 6, 6), seed=3)
    sd, weights = untrained_weights()
    sweep = layer_sweep(
        AlexNetInputs(faces, sd, weights), base_config(), (0,), RuntimeOptions(out=tmp_path / "runs"), layers=("conv2",)
    )
    run = tmp_path / "runs" / sweep.rows[0]["run_ids"][0]
    clf = load_checkpoint(run / "model.pt")
    assert clf.model.grid == 6
    with torch.inference_mode():
        acc = (clf.model(faces.test_x).argmax(1) == faces.test_y).float().mean().item()
    # The network on raw images gives the accuracy the run measured on cached, pooled activations.
    assert acc == pytest.approx(sweep.rows[0]["test_acc_mean"])


def test_pooling_a_layer_without_a_grid_is_refused():
    with pytest.raises(ConfigError, match="no spatial grid"):
        A.AlexNetTrunk("fc6", grid=6)
    with pytest.raises(Exception, match="pool_grid"):
        FeaturesConfig(layer="fc7", pool_grid=6)
