"""Devices as a first-class option: `--device auto`, the device recorded and part of a run's identity, one-line
errors for devices that are not there, and (marked gpu, skipped without CUDA) every device-sensitive path on CUDA,
with seeded runs repeating bitwise there."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

import cnnlab
from cnnlab.core.device import auto_device, resolve_device
from cnnlab.core.errors import ConfigError
from cnnlab.core.io import short_hash
from cnnlab.core.runs.folders import run_id, run_key
from cnnlab.core.version import __version__

CUDA = torch.cuda.is_available()
gpu = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU (run bench/gpu_check.py on a GPU machine)")


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnlab", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_auto_resolves_to_the_best_device_here():
    expected = "cuda" if CUDA else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert auto_device() == expected
    assert resolve_device("auto").type == expected and resolve_device(" AUTO ").type == expected


@pytest.mark.parametrize("device", ["cuda:7", "tpu", "cuda:x"] + ([] if CUDA else ["cuda"]))
def test_unavailable_devices_are_one_line_errors(device, tmp_path):
    with pytest.raises(ConfigError):
        resolve_device(device)
    proc = _cli("train", "--epochs", "1", "--device", device, "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()  # nothing written


def test_cpu_run_ids_are_unchanged_and_other_devices_are_other_runs():
    config = {"a": 1}
    legacy = {"kind": "cnn", "config": config, "data_hash": "h", "seed": 0, "version": __version__}
    assert run_key("cnn", config, "h", 0) == legacy == run_key("cnn", config, "h", 0, "cpu")
    assert run_id("cnn", config, "h", 0) == f"cnn-{short_hash(legacy)}"
    assert run_id("cnn", config, "h", 0, "cuda") != run_id("cnn", config, "h", 0)
    # the device's type decides, not its index or the GPU's name
    assert run_id("cnn", config, "h", 0, "cuda:1") == run_id("cnn", config, "h", 0, "cuda (NVIDIA H200)")


def test_cpu_feature_cache_keys_are_unchanged_and_cuda_activations_are_cached_apart():
    from cnnlab.core.runtime import identity_device
    from cnnlab.faces.alexnet.features import feature_key
    from cnnlab.faces.alexnet.model import FEATURE_CACHE_FORMAT

    legacy = {"format": FEATURE_CACHE_FORMAT, "weights": "w", "layer": "conv4", "data": "h", "shape": [2, 3, 67, 67]}
    assert feature_key("w", "conv4", "h", (2, 3, 67, 67), None, identity_device("cpu")) == legacy
    cuda = feature_key("w", "conv4", "h", (2, 3, 67, 67), None, identity_device("cuda:0"))
    assert cuda == {**legacy, "device": "cuda"}  # a CUDA run never reads CPU activations, nor the reverse
    assert feature_key("w", "conv4", "h", (2, 3, 67, 67), 6, None) == {**legacy, "grid": 6}


def _tiny_config(epochs: int = 2):
    return cnnlab.resolve_config(overrides=[f"train.epochs={epochs}", "model.dropout=0.3"])


def test_the_device_is_recorded_in_config_and_summary(tmp_path):
    run = cnnlab.train(_tiny_config(1), out=tmp_path / "runs", device="auto")
    meta = json.loads((run.path / "config.json").read_text())
    expected = "cuda" if CUDA else "cpu"
    assert run.summary["device"].startswith(expected) and meta["device"] == run.summary["device"]


@pytest.mark.gpu
@gpu
def test_cuda_training_repeats_bitwise_and_differs_from_the_cpu_run(tmp_path):
    config = cnnlab.resolve_config(
        overrides=["train.epochs=3", "model.dropout=0.3", "augment.probabilities={translate: 0.3, hflip: 0.3}"]
    )
    a = cnnlab.train(config, out=tmp_path / "a", device="cuda")
    b = cnnlab.train(config, out=tmp_path / "b", device="cuda")
    cpu = cnnlab.train(config, out=tmp_path / "a", device="cpu")
    strip = lambda rows: [{k: v for k, v in r.items() if "seconds" not in k} for r in rows]  # noqa: E731
    assert strip(cnnlab.load_run(a.path).history) == strip(cnnlab.load_run(b.path).history)
    assert a.path.name == b.path.name and cpu.path.name != a.path.name  # the device is part of the identity
    assert abs(a.summary["val_acc"] - cpu.summary["val_acc"]) < 0.2  # same recipe: close, not bitwise


@pytest.mark.gpu
@gpu
def test_a_suite_and_the_quick_report_run_on_cuda(tmp_path):
    suite = cnnlab.run_suite("pooling", quick=True, out=tmp_path / "runs", jobs=2, device="cuda")
    assert suite.rows and all(r["n"] == 1 for r in suite.rows)
    report = cnnlab.build_report(
        quick=True, out=tmp_path / "runs", report_dir=tmp_path / "report", device="cuda", compile=False
    )
    assert report.tex.is_file() and "cuda" in report.tex.read_text()


@pytest.mark.gpu
@gpu
def test_part2_predict_and_explain_on_cuda(tmp_path):
    from PIL import Image

    proc = _cli(
        "part2", "mlp", "--epochs", "2", "--device", "cuda", "--out", str(tmp_path / "runs"), "--json", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    ckpt = tmp_path / "runs" / json.loads(proc.stdout)["run_id"] / "model.pt"
    face = tmp_path / "face.png"
    Image.new("L", (28, 28), 100).save(face)
    pred = _cli("predict", str(face), "--checkpoint", str(ckpt), "--device", "cuda", cwd=tmp_path)
    assert pred.returncode == 0 and len(pred.stdout.splitlines()) == 3, pred.stderr
    expl = _cli(
        "explain",
        str(face),
        "--checkpoint",
        str(ckpt),
        "--device",
        "cuda",
        "--out",
        str(tmp_path / "e.png"),
        cwd=tmp_path,
    )
    assert expl.returncode == 0 and (tmp_path / "e.png").is_file(), expl.stderr
