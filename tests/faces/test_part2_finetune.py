"""2.4 fine-tuning that starts from the trained 2.2 network (finetune.freeze = from-features), on tiny faces."""

from __future__ import annotations

import json
import math

import pytest
import torch
from test_part2 import synthetic_faces, untrained_weights

from cnnlab.core.errors import ConfigError
from cnnlab.core.runs.folders import load_history
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.core.train.config import OptimizerConfig, TrainConfig
from cnnlab.faces.alexnet import model as A
from cnnlab.faces.alexnet.features import cached_layers, extract_features
from cnnlab.faces.models.checkpoints import load_checkpoint
from cnnlab.faces.run_configs import FeaturesConfig, FeaturesRunConfig, FinetuneConfig, FinetuneRunConfig, with_seed
from cnnlab.faces.training.alexnet_runs import AlexNetInputs
from cnnlab.faces.training.finetune import alexnet_finetune, start_config
from cnnlab.faces.training.transfer import alexnet_features

SIZE = 67


def features_config(epochs: int, lr: float, seed: int = 0) -> FeaturesRunConfig:
    return FeaturesRunConfig(
        features=FeaturesConfig(layer="conv4", head_hidden=(8,), input_size=SIZE, weights="random"),
        train=TrainConfig(epochs=epochs, batch_size=6, optimizer=OptimizerConfig(lr=lr), seed=seed),
    )


def finetune_config(epochs: int, lr: float, optimizer: str = "adam", **finetune) -> FinetuneRunConfig:
    return FinetuneRunConfig(
        finetune=FinetuneConfig(input_size=SIZE, weights="random", **finetune),
        train=TrainConfig(epochs=epochs, batch_size=6, optimizer=OptimizerConfig(name=optimizer, lr=lr)),
    )


def _runs(root, kind: str) -> list:
    return sorted(p for p in root.iterdir() if p.name.startswith(kind + "-"))


def test_finetuning_starts_at_the_22_model_and_never_ends_below_it_on_validation(tmp_path):
    faces = synthetic_faces(SIZE, 3, per_class=(8, 6, 6), seed=3)
    sd, weights = untrained_weights()
    root = tmp_path / "runs"
    start = features_config(epochs=1, lr=1e-5)  # a barely trained 2.2 head: fine-tuning has room to improve
    f22 = alexnet_features(AlexNetInputs(faces, sd, weights), start, RuntimeOptions(out=root))
    res = alexnet_finetune(
        AlexNetInputs(faces, sd, weights),
        finetune_config(epochs=6, lr=1e-3, lr_scale=0.01),
        RuntimeOptions(out=root),
        start=start,
    )
    s = res.summary
    # The 2.2 run was found in the run cache (not trained again) and is recorded.
    assert s["start_run"] == f22.path.name and _runs(root, "alexnet-features") == [f22.path]
    assert s["start"]["val_acc"] == f22.summary["val_acc"]
    # Epoch 0 is the 2.2 network: the same validation accuracy (conv4 recomputed from the cached conv3).
    curve = load_history(res.path)
    assert curve[0]["epoch"] == 0 and curve[0]["val_acc"] == f22.summary["val_acc"]
    assert curve[0]["val_loss"] == pytest.approx(f22.summary["val_loss"], rel=1e-4)
    assert len(curve) == s["epochs_run"] + 1
    assert s["val_acc"] >= f22.summary["val_acc"] and s["best_epoch"] >= 1 and s["val_acc"] > f22.summary["val_acc"]
    assert s["trained_layers"] == ["conv4"] and s["frozen_layers"] == ["conv1", "conv2", "conv3"]
    # The checkpoint is a 2.2-shaped network: conv1-conv3 as given, conv4 and the head trained.
    before, after = load_checkpoint(f22.path / "model.pt").model, load_checkpoint(res.path / "model.pt").model
    assert res.summary["model"].startswith("untrained AlexNet conv4 + FC head of 2.2, fine-tuned end to end")
    for i in (0, 3, 6):
        assert torch.equal(after.features[i].weight, sd[f"features.{i}.weight"])
    assert not torch.equal(after.features[8].weight, before.features[8].weight)
    assert not torch.equal(after.head.layers[0].weight, before.head.layers[0].weight)
    # Its val accuracy on raw images is the summary's (the cache path and the full network agree).
    with torch.inference_mode():
        acc = (after(faces.val_x).argmax(1) == faces.val_y).float().mean().item()
    assert acc == pytest.approx(s["val_acc"])
    again = alexnet_finetune(
        AlexNetInputs(faces, sd, weights),
        finetune_config(epochs=6, lr=1e-3, lr_scale=0.01),
        RuntimeOptions(out=root),
        start=start,
    )
    assert again.cached and again.path == res.path


def test_finetuning_that_only_hurts_keeps_the_22_network(tmp_path):
    faces = synthetic_faces(SIZE, 3, per_class=(8, 6, 6), seed=3)
    sd, weights = untrained_weights()
    root = tmp_path / "runs"
    f22 = alexnet_features(
        AlexNetInputs(faces, sd, weights), features_config(epochs=8, lr=3e-3), RuntimeOptions(out=root)
    )
    assert f22.summary["val_acc"] == 1.0  # separable faces: a perfect start
    res = alexnet_finetune(
        AlexNetInputs(faces, sd, weights),
        finetune_config(epochs=2, lr=50.0, optimizer="sgd"),
        RuntimeOptions(out=root),
        start=f22.path,
    )
    curve = load_history(res.path)
    assert max(r["val_acc"] for r in curve[1:]) < 1.0  # the huge step ruins it (else the test proves nothing)
    assert res.summary["best_epoch"] == 0 and res.summary["val_acc"] == 1.0
    before, after = load_checkpoint(f22.path / "model.pt").model, load_checkpoint(res.path / "model.pt").model
    assert all(torch.equal(a, b) for a, b in zip(before.state_dict().values(), after.state_dict().values()))


def test_default_start_is_the_22_run_of_the_same_seed_and_is_trained_once(tmp_path):
    faces = synthetic_faces(SIZE, 3, per_class=(4, 2, 2))
    sd, weights = untrained_weights()
    root = tmp_path / "runs"
    config = with_seed(finetune_config(epochs=1, lr=1e-3), 1)
    derived = start_config(config)
    assert derived.train.seed == 1 and derived.features.input_size == SIZE and derived.features.weights == "random"
    assert derived.features.layer == FeaturesConfig().layer and derived.train.epochs == FeaturesRunConfig().train.epochs
    res = alexnet_finetune(AlexNetInputs(faces, sd, weights), config, RuntimeOptions(out=root))
    (f22,) = _runs(root, "alexnet-features")
    assert res.summary["start_run"] == f22.name and json.loads((f22 / "summary.json").read_text())["seed"] == 1
    # conv3 was cached in the same pass as conv4 (one extraction for 2.2 and 2.4).
    caches = sorted(p.name.split("-")[1] for p in (root / "cache" / "features").glob("*.npy"))
    assert caches == ["conv3"] * 3 + ["conv4"] * 3
    assert res.summary["cache_hits"] == ["train", "val", "test"]
    assert alexnet_finetune(AlexNetInputs(faces, sd, weights), config, RuntimeOptions(out=root)).cached and _runs(
        root, "alexnet-features"
    ) == [f22]


def test_start_run_must_match_faces_weights_and_layer(tmp_path):
    faces = synthetic_faces(SIZE, 3, per_class=(4, 2, 2))
    sd, weights = untrained_weights()
    root = tmp_path / "runs"
    f22 = alexnet_features(
        AlexNetInputs(faces, sd, weights), features_config(epochs=1, lr=1e-3), RuntimeOptions(out=root)
    )
    other = synthetic_faces(SIZE, 3, per_class=(4, 2, 2), seed=5)
    with pytest.raises(ConfigError, match="other faces"):
        alexnet_finetune(
            AlexNetInputs(other, sd, weights),
            finetune_config(epochs=1, lr=1e-3),
            RuntimeOptions(out=root),
            start=f22.path,
        )
    with pytest.raises(ConfigError, match="beyond the 2.2 run's layer conv4"):
        alexnet_finetune(
            AlexNetInputs(faces, sd, weights),
            finetune_config(epochs=1, lr=1e-3, train_from="conv5"),
            RuntimeOptions(out=root),
            start=f22.path,
        )
    with pytest.raises(ConfigError, match="not a finished run folder"):
        alexnet_finetune(
            AlexNetInputs(faces, sd, weights),
            finetune_config(epochs=1, lr=1e-3, features_run=str(tmp_path / "nowhere")),
            RuntimeOptions(out=root),
        )
    with pytest.raises(ConfigError, match="train_from"):
        FinetuneConfig(train_from="fc6")


def test_cached_layers_extracts_several_layers_in_one_pass(tmp_path):
    sd, _ = untrained_weights()
    x = torch.rand(5, 3, SIZE, SIZE)
    both = cached_layers(x, state_dict=sd, weights_sha256="w", layers=["conv3", "conv4"], cache_dir=tmp_path)
    for layer in ("conv3", "conv4"):
        trunk = A.AlexNetTrunk(layer)
        trunk.load_from_alexnet(sd)
        assert not both[layer].hit and torch.allclose(
            both[layer].features, extract_features(trunk, x, batch_size=2), atol=1e-5
        )
    again = cached_layers(x, state_dict=sd, weights_sha256="w", layers=["conv4", "pool2"], cache_dir=tmp_path)
    assert (
        again["conv4"].hit
        and not again["pool2"].hit
        and again["pool2"].features.shape == (5, math.prod(A.feature_shape("pool2", SIZE)))
    )


def test_the_range_test_sweeps_the_layers_fine_tuning_trains(tmp_path):
    from cnnlab.faces.training.finetune import finetune_lr_find

    faces = synthetic_faces(SIZE, 3, per_class=(8, 6, 6), seed=3)
    sd, weights = untrained_weights()
    root = tmp_path / "runs"
    start = features_config(epochs=2, lr=1e-3)
    f22 = alexnet_features(AlexNetInputs(faces, sd, weights), start, RuntimeOptions(out=root))
    config = finetune_config(epochs=1, lr=1e-3, lr_scale=0.1)
    found = finetune_lr_find(
        AlexNetInputs(faces, sd, weights),
        config,
        RuntimeOptions(out=root),
        start=start,
        steps=12,
        lr_start=1e-6,
        lr_end=1e-1,
    )
    assert found.meta["start_run"] == f22.path.name and found.meta["trained_layers"] == "conv4"
    assert 1 <= len(found.lrs) <= 12 and found.lrs[0] == pytest.approx(1e-6)
    assert all(b > a for a, b in zip(found.lrs, found.lrs[1:]))  # the LR grows every step
    for name in ("lr_find.csv", "lr_find.png", "lr_find.json"):
        assert (root / "lr-find-finetune" / name).is_file()
    # The 2.2 run it started from is untouched: its checkpoint still loads with the same weights.
    assert torch.equal(load_checkpoint(f22.path / "model.pt").model.features[8].weight, sd["features.8.weight"])
    with pytest.raises(ConfigError, match="from-features"):
        finetune_lr_find(
            AlexNetInputs(faces, sd, weights),
            finetune_config(epochs=1, lr=1e-3, freeze="features"),
            RuntimeOptions(out=root),
        )
