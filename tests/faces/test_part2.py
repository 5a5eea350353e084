"""Part 2 runs end to end on tiny synthetic faces: MLP, AlexNet features and fine-tuning, predict, CLI."""

from __future__ import annotations

import csv
import json
import socket

import pytest
import torch
from PIL import Image

from cnnlab.cli.app import main
from cnnlab.core.errors import ConfigError
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.core.train.config import EarlyStoppingConfig, OptimizerConfig, TrainConfig
from cnnlab.faces import FaceData
from cnnlab.faces.alexnet import model as A
from cnnlab.faces.alexnet import weights as W
from cnnlab.faces.models.checkpoints import load_checkpoint, predict
from cnnlab.faces.run_configs import (
    FeaturesConfig,
    FeaturesRunConfig,
    FinetuneConfig,
    FinetuneRunConfig,
    MLPConfig,
    MLPRunConfig,
    with_seed,
)
from cnnlab.faces.training.alexnet_runs import AlexNetInputs
from cnnlab.faces.training.finetune import alexnet_finetune
from cnnlab.faces.training.small import seed_summary, train_mlp
from cnnlab.faces.training.transfer import alexnet_features

NAMES = ("Alec Baldwin", "Bill Hader", "Peri Gilpin")


def synthetic_faces(size: int, channels: int, per_class=(12, 4, 4), seed: int = 0, names=NAMES) -> FaceData:
    """Three (or len(names)) 'people', each a fixed random pattern plus noise: separable, like very easy faces."""
    g = torch.Generator().manual_seed(seed)
    protos = torch.rand(len(names), channels, size, size, generator=g)
    parts = []
    for n in per_class:
        y = torch.arange(len(names)).repeat_interleave(n)
        x = (0.7 * protos[y] + 0.3 * torch.rand(len(y), channels, size, size, generator=g)).clamp(0, 1)
        parts += [x, y]
    tag = "" if tuple(names) == NAMES else f"-{len(names)}"
    return FaceData(
        "synthetic",
        "synthetic test faces",
        tuple(names),
        *parts,
        data_hash=f"syn{size}-{channels}-{seed}{tag}",
        counts={n: per_class for n in names},
    )


def save_face(x: torch.Tensor, path) -> None:
    arr = (x.permute(1, 2, 0) * 255).round().byte().numpy()
    Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr).save(path)


QUICK = TrainConfig(
    epochs=8,
    batch_size=8,
    optimizer=OptimizerConfig(lr=1e-2, weight_decay=1e-4),
    early_stopping=EarlyStoppingConfig(monitor="val_loss"),
)


def mlp_run(hidden: int = 16, **mlp) -> MLPRunConfig:
    return MLPRunConfig(mlp=MLPConfig(hidden=hidden, **mlp), train=QUICK)


def test_train_mlp_writes_curves_weights_checkpoint_and_is_cached(tmp_path):
    faces = synthetic_faces(28, 1)
    res = train_mlp(faces, mlp_run(units_per_class=1), tmp_path / "runs")
    s = res.summary
    assert not res.cached and s["test_acc"] >= 0.9 and s["init"] == "normal-0.01"
    for name in ("learning_curves.png", "weights.png", "metrics.csv", "model.pt", "model.json", "weight_units.json"):
        assert (res.path / name).is_file(), name
    with open(res.path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and {"train_acc", "val_acc", "test_acc", "train_loss", "val_loss", "test_loss"} <= set(
        rows[0]
    )
    assert {u["class"] for u in s["weight_units"]} == set(NAMES)
    assert "standardised" in s["description"] and "normal-0.01" in s["description"]
    assert "lowest validation loss" in s["description"] and "8 epochs" in s["description"]
    assert s["architecture"]["num_classes"] == 3 and s["architecture"]["hidden"] == 16
    saved = json.loads((res.path / "config.json").read_text())["config"]  # the resolved run config
    assert (
        saved["mlp"]["hidden"] == 16
        and saved["train"]["optimizer"]["lr"] == 1e-2
        and saved["data"]["source"] == "olivetti"
    )
    again = train_mlp(faces, mlp_run(units_per_class=1), tmp_path / "runs")
    assert again.cached and again.path == res.path
    other = train_mlp(faces, with_seed(mlp_run(units_per_class=1), 1), tmp_path / "runs")
    assert other.summary["seed"] == 1 and other.path != res.path
    agg = seed_summary([res, other])
    assert agg["n"] == 2 and 0.9 <= agg["test_acc_mean"] <= 1.0 and agg["test_acc_std"] >= 0.0


def test_predict_top_k_from_any_image(tmp_path, capsys):
    faces = synthetic_faces(28, 1)
    res = train_mlp(faces, mlp_run(), tmp_path / "runs")
    img = tmp_path / "face.png"
    save_face(faces.test_x[-1], img)  # a Peri Gilpin face
    top = predict(img, res.path / "model.pt", top_k=2)
    assert [n for n, _ in top][0] == "Peri Gilpin" and top[0][1] >= top[1][1] and len(top) == 2
    # RGB input and another size are converted like the training faces.
    big = tmp_path / "big.jpg"
    Image.open(img).convert("RGB").resize((90, 90)).save(big)
    assert len(predict(big, res.path / "model.pt", top_k=10)) == 3
    assert main(["predict", str(img), "--checkpoint", str(res.path / "model.pt"), "--top-k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].split("\t")[0] == "Peri Gilpin"
    probs = [float(line.split("\t")[1]) for line in lines]
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-3
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnope")
    assert main(["predict", str(tmp_path / "broken.png"), "--checkpoint", str(res.path / "model.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cnnlab: error: cannot read image") and "\n" not in err


def untrained_weights() -> tuple[dict, dict]:
    """conv layers only (all conv4 features need), labelled as an untrained AlexNet."""
    torch.manual_seed(0)
    sd = A.AlexNetTrunk("conv5").state_dict()
    return sd, {
        "pretrained": False,
        "source": "random (test)",
        "sha256": W.state_dict_hash(sd),
        "label": A.UNTRAINED_LABEL,
    }


def test_alexnet_features_untrained_is_labelled_and_cache_reused(tmp_path, caplog, capsys):
    faces = synthetic_faces(67, 3, per_class=(4, 2, 2))
    sd, weights = untrained_weights()
    settings = FeaturesConfig(layer="conv4", head_hidden=(8,), input_size=67, weights="random")
    train = TrainConfig(epochs=3, batch_size=4, optimizer=OptimizerConfig(lr=1e-3, weight_decay=1e-2))
    config = FeaturesRunConfig(features=settings, train=train)
    res = alexnet_features(AlexNetInputs(faces, sd, weights), config, RuntimeOptions(out=tmp_path / "runs"))
    s = res.summary
    assert s["alexnet"] == "untrained AlexNet" and s["model"].startswith("untrained AlexNet conv4")
    assert "untrained AlexNet" in s["warning"] and s["feature_dim"] == 256 * 3 * 3 and s["cache_hits"] == []
    meta = json.loads((res.path / "model.json").read_text())
    assert meta["kind"] == "alexnet-features" and "untrained AlexNet" in meta["meta"]["description"]
    # Another head on the same features: extraction is skipped.
    train2 = TrainConfig(epochs=2, batch_size=4, optimizer=OptimizerConfig(lr=3e-4, weight_decay=1e-2), seed=1)
    res2 = alexnet_features(
        AlexNetInputs(faces, sd, weights),
        FeaturesRunConfig(features=settings, train=train2),
        RuntimeOptions(out=tmp_path / "runs"),
    )
    assert res2.summary["cache_hits"] == ["train", "val", "test"] and res2.summary["seed"] == 1
    saved = json.loads((res.path / "config.json").read_text())["config"]
    assert saved["features"]["head_hidden"] == [8] and saved["weights_sha256"] == weights["sha256"]
    # The config's weights spec must match the weights given: default (ImageNet) vs untrained ones.
    with pytest.raises(ConfigError, match="ImageNet AlexNet"):
        alexnet_features(
            AlexNetInputs(faces, sd, weights),
            FeaturesRunConfig(features=FeaturesConfig(input_size=67), train=train),
            RuntimeOptions(out=tmp_path / "runs"),
        )
    clf = load_checkpoint(res.path / "model.pt")
    assert clf.kind == "alexnet-features" and clf.image_size == 67 and clf.class_names == list(NAMES)
    img = tmp_path / "face.png"
    save_face(faces.test_x[0], img)
    assert len(predict(img, clf, top_k=3)) == 3
    assert main(["predict", str(img), "--checkpoint", str(res.path / "model.pt"), "--top-k", "1"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 and "untrained AlexNet" in caplog.text


@pytest.mark.slow
@pytest.mark.parametrize("freeze", ["all-but-last", "none"])
def test_alexnet_finetune_replaces_last_layer(tmp_path, freeze):
    faces = synthetic_faces(67, 3, per_class=(3, 1, 1))
    torch.manual_seed(0)
    sd = A.AlexNet().state_dict()
    weights = {"pretrained": False, "source": "random (test)", "sha256": "t" * 64, "label": A.UNTRAINED_LABEL}
    train = TrainConfig(epochs=1, batch_size=3, optimizer=OptimizerConfig(name="sgd", lr=1e-4, weight_decay=1e-2))
    config = FinetuneRunConfig(finetune=FinetuneConfig(freeze=freeze, input_size=67, weights="random"), train=train)
    res = alexnet_finetune(AlexNetInputs(faces, sd, weights), config, RuntimeOptions(out=tmp_path / "runs"))
    s = res.summary
    assert s["alexnet"] == "untrained AlexNet" and s["freeze"] == freeze and 0 <= s["test_acc"] <= 1
    clf = load_checkpoint(res.path / "model.pt")
    assert clf.kind == "alexnet-finetune" == s["kind"] and clf.model.classifier[6].out_features == 3
    # Frozen layers really are the given weights; torchvision key names are kept.
    assert torch.equal(clf.model.features[0].weight, sd["features.0.weight"]) == (freeze != "none")
    assert set(clf.model.state_dict()) == set(sd)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_offline_error_is_one_line(tmp_path, capsys):
    url = f"http://127.0.0.1:{_closed_port()}/{A.WEIGHTS_FILENAME}"
    rc = main(["part2", "features", "--hub-dir", str(tmp_path / "hub"), "--weights-url", url, "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0].startswith("cnnlab: error: AlexNet ImageNet weights not found: pass --weights PATH")
    assert "--weights random" in err[0]


def test_cli_mlp_on_embedded_faces(tmp_path, capsys):
    rc = main(["part2", "mlp", "--hidden", "8", "--epochs", "2", "--out", str(tmp_path), "--json"])
    s = json.loads(capsys.readouterr().out)
    assert rc == 0 and s["kind"] == "mlp" and s["data"]["name"] == "olivetti" and len(s["data"]["classes"]) == 40
    assert (tmp_path / s["run_id"] / "learning_curves.png").is_file()
    assert main(["part2", "mlp", "--init", "zeros", "--out", str(tmp_path)]) == 2
