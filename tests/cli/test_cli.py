"""The command line end to end: a tiny training run, --json, and every bad-input case."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.cli.app import main


def _art_folder(root: Path, classes=("monet", "paul sandby "), per_class=8) -> Path:
    rng = np.random.default_rng(1)
    for c, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, 80, (24, 32, 3), dtype=np.uint8)
            img[..., c % 3] += 170
            Image.fromarray(img).save(folder / f"img{i}.png")
    return root


@pytest.fixture
def art(tmp_path) -> Path:
    return _art_folder(tmp_path / "artists")


def _cnnlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnlab", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_train_end_to_end_writes_a_complete_run(tmp_path, art):
    out = tmp_path / "runs"
    proc = _cnnlab(
        "train",
        "--data",
        str(art),
        "--epochs",
        "3",
        "--seed",
        "5",
        "--out",
        str(out),
        "--json",
        "--set",
        "train.optimizer.lr=1e-3",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    run = out / summary["run_id"]
    assert {
        "summary.json",
        "config.json",
        "config.yaml",
        "metrics.csv",
        "metrics.jsonl",
        "best.pt",
        "learning_curves.png",
    } <= {p.name for p in run.iterdir()}
    assert summary["seed"] == 5 and summary["epochs_run"] == 3
    for key in (
        "final_train_acc",
        "final_val_acc",
        "final_test_acc",
        "best_train_acc",
        "best_val_acc",
        "best_test_acc",
        "wall_seconds",
    ):
        assert 0 <= summary[key]
    assert summary["data"]["hash"] and summary["data"]["synthetic"] is False
    assert summary["version"]
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["train"]["optimizer"]["lr"] == pytest.approx(1e-3)
    state = torch.load(run / "best.pt", weights_only=True)
    assert "classifier.3.weight" in state
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    # the same command again reuses the finished run
    again = _cnnlab(
        "train",
        "--data",
        str(art),
        "--epochs",
        "3",
        "--seed",
        "5",
        "--out",
        str(out),
        "--set",
        "train.optimizer.lr=1e-3",
    )
    assert again.returncode == 0 and "(cached)" in again.stdout


def test_train_in_process_and_synthetic_provenance(tmp_path, capsys):
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "r"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["data_name"] == "synthetic-artists" and summary["synthetic_data"] is True
    assert len(summary["data"]["classes"]) == 11 and summary["data"]["n_images"] == 451


def _bad(tmp_path: Path, art: Path, case: str) -> list[str]:
    if case == "missing data folder":
        return ["--data", str(tmp_path / "nope")]
    if case == "empty class folder":
        (art / "empty artist").mkdir()
        return ["--data", str(art)]
    if case == "one class":
        one = _art_folder(tmp_path / "one", classes=("solo",))
        return ["--data", str(one)]
    if case == "unknown optimizer":
        return ["--data", str(art), "--set", "train.optimizer.name=lbfgs"]
    if case == "unknown scheduler":
        return ["--data", str(art), "--set", "train.scheduler.name=warm"]
    if case == "zero epochs":
        return ["--data", str(art), "--epochs", "0"]
    if case == "negative epochs":
        return ["--data", str(art), "--set", "train.epochs=-1"]
    if case == "malformed yaml":
        (tmp_path / "bad.yaml").write_text("train: {epochs: [\n")
        return ["--data", str(art), "--config", str(tmp_path / "bad.yaml")]
    if case == "malformed override":
        return ["--data", str(art), "--set", "train.epochs"]
    if case == "unknown key":
        return ["--data", str(art), "--set", "train.epocs=3"]
    raise AssertionError(case)


BAD_CASES = [
    "missing data folder",
    "empty class folder",
    "one class",
    "unknown optimizer",
    "unknown scheduler",
    "zero epochs",
    "negative epochs",
    "malformed yaml",
    "malformed override",
    "unknown key",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_one_line_exit_2_no_run_folder(tmp_path, art, case, capsys):
    out = tmp_path / "runs"
    code = main(["train", "--out", str(out), *_bad(tmp_path, art, case)])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnnlab: error: "), err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_bad_input_as_a_process_has_no_traceback(tmp_path):
    proc = _cnnlab("train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "runs"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_describe_and_receptive_field(capsys):
    assert main(["describe"]) == 0
    out = capsys.readouterr().out
    assert "cross-entropy" in out and "Adam" in out and "110,811" in out
    assert main(["receptive-field", "conv5,conv3"]) == 0
    assert "7x7" in capsys.readouterr().out
    assert main(["receptive-field", "conv5,oops"]) == 2
