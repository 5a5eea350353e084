"""Bad values: hostile numbers, strict JSON, file modes, one-line errors that never fail.

Each test reproduces one probe of the issue; the numbered comments name the item.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import pytest
import torch

from cli_helpers import one_line_error
from cnnlab.cli.app import main
from cnnlab.core import errors, io
from cnnlab.core.config import resolve_config
from cnnlab.core.errors import ConfigError
from cnnlab.core.io import atomic_write_json, atomic_write_text
from cnnlab.core.train.config import TrainConfig


# ----------------------------------------------------------------------------- 10: non-finite hyperparameters
@pytest.mark.parametrize(
    "override",
    [
        "train.optimizer.lr=.inf",
        "train.optimizer.lr=.nan",
        "train.optimizer.weight_decay=.inf",
        "train.scheduler.max_lr=.inf",
        "train.scheduler.eta_min=-1",
        "train.scheduler.eta_min=.inf",
        "train.early_stopping.min_delta=.inf",
        "train.optimizer.momentum=.nan",
        "train.scheduler.gamma=.nan",
    ],
)
def test_non_finite_or_negative_train_numbers_are_rejected(override):
    with pytest.raises(ConfigError, match=override.split("=")[0].split(".")[-1]):
        resolve_config(TrainConfig, None, [override.removeprefix("train.")])


@pytest.mark.parametrize(
    "cls_path, override",
    [
        ("cnnlab.art.config:RunConfig", "model.dropout=.nan"),
        ("cnnlab.art.config:RunConfig", "data.split_seed=-1"),
        ("cnnlab.art.config:RunConfig", "data.image_size=100000"),
        ("cnnlab.faces.run_configs:MLPRunConfig", "mlp.dropout=.nan"),
        ("cnnlab.faces.run_configs:FinetuneRunConfig", "finetune.lr_scale=.inf"),
        ("cnnlab.faces.run_configs:FeaturesRunConfig", "features.dropout=.nan"),
        ("cnnlab.faces.run_configs:MLPRunConfig", "data.split.seed=18446744073709551616"),
    ],
)
def test_part_configs_reject_nonsense_numbers(cls_path, override):
    import importlib

    module, name = cls_path.split(":")
    with pytest.raises(ConfigError):
        resolve_config(getattr(importlib.import_module(module), name), None, [override])


def test_train_with_infinite_lr_is_aone_line_error(tmp_path, capsys):
    out = tmp_path / "runs"
    code = main(["train", "--epochs", "1", "--out", str(out), "--set", "train.optimizer.lr=.inf"])
    assert "train.optimizer.lr" in one_line_error(capsys, code)
    assert not out.exists() or not any(out.iterdir())


def test_a_diverging_run_stops_with_one_line_and_writes_no_run(tmp_path, capsys):
    # lr 1e30 is finite (valid) but blows the weights up: the loss becomes inf/nan in the first epoch.
    out = tmp_path / "runs"
    code = main(
        [
            "train",
            "--epochs",
            "3",
            "--out",
            str(out),
            "--set",
            "train.optimizer.lr=1e30",
            "--set",
            "train.optimizer.name=sgd",
        ]
    )
    line = one_line_error(capsys, code)
    assert "diverged" in line and "epoch 1" in line
    assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".")]


def test_diverging_loss_stops_the_trainer(toy_images):
    from cnnlab.core.train.callbacks import TrainingDiverged
    from cnnlab.core.train.trainer import OptimizerConfig, Trainer

    x, y = toy_images
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 3))
    trainer = Trainer(TrainConfig(epochs=5, optimizer=OptimizerConfig(name="sgd", lr=1e38, momentum=0.0)))
    with pytest.raises(TrainingDiverged, match="epoch 1"):
        trainer.fit(model, (x, y), (x, y))


# ----------------------------------------------------------------------------- 10: strict JSON
def test_written_json_is_strict_and_maps_non_finite_numbers_to_null(tmp_path):
    obj = {"a": math.nan, "b": [1.0, math.inf, -math.inf], "c": {"d": torch.tensor(float("nan"))}, "e": 0.5}
    atomic_write_json(tmp_path / "x.json", obj)
    text = (tmp_path / "x.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    back = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict constant {c}"))
    assert back == {"a": None, "b": [1.0, None, None], "c": {"d": None}, "e": 0.5}
    assert json.loads(io.json_text(obj)) == back


def test_run_history_is_strict_json(tmp_path):
    from cnnlab.core.runs.folders import create_run

    with create_run(tmp_path, "x", {"a": 1}, 0, {"hash": "h"}) as run:
        run.write_history([{"epoch": 1, "val_loss": math.nan}])
        run.write_summary({"score": math.inf})
    line = (run.path / "metrics.jsonl").read_text().strip()
    assert json.loads(line) == {"epoch": 1, "val_loss": None} and "NaN" not in line
    assert json.loads((run.path / "summary.json").read_text())["score"] is None


# ----------------------------------------------------------------------------- 11: seeds
@pytest.mark.parametrize("seed", [2**70, 2**32, -1])
def test_out_of_range_seed_is_aone_line_error(tmp_path, capsys, seed):
    code = main(["train", "--epochs", "1", "--out", str(tmp_path / "runs"), "--seed", str(seed)])
    assert "seed" in one_line_error(capsys, code)


def test_part2_seed_out_of_range_is_a_config_error():
    from cnnlab.faces.run_configs import MLPRunConfig

    with pytest.raises(ConfigError, match="seed"):
        resolve_config(MLPRunConfig, None, [f"train.seed={2**70}"])
    assert resolve_config(MLPRunConfig, None, [f"train.seed={2**32 - 1}"]).train.seed == 2**32 - 1


# ----------------------------------------------------------------------------- 12: first_line never fails
@pytest.mark.parametrize(
    "exc, expected",
    [
        (RuntimeError(""), "RuntimeError"),
        (OSError(), "OSError"),
        (ValueError("\n\nsecond"), "second"),
        (KeyError("k"), "'k'"),
        (RuntimeError("a\nb"), "a"),
        (RuntimeError("x" * 500), "x" * 160),
    ],
)
def test_first_line_of_any_exception(exc, expected):
    assert errors.first_line(exc, 160) == expected


def test_empty_weights_file_is_aone_line_error(tmp_path, capsys):
    empty = tmp_path / "alexnet-owt-7be5be79.pth"
    empty.write_bytes(b"")
    code = main(["part2", "features", "--weights", str(empty), "--epochs", "1", "--out", str(tmp_path / "runs")])
    assert "cannot read AlexNet weights" in one_line_error(capsys, code)


# ----------------------------------------------------------------------------- 13: file modes follow the umask
def test_atomic_writes_keep_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_run_folder_files_are_group_and_other_readable(tmp_path):
    old = os.umask(0o022)
    try:
        assert main(["train", "--epochs", "1", "--out", str(tmp_path / "runs")]) == 0
    finally:
        os.umask(old)
    (run,) = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    assert stat.S_IMODE(run.stat().st_mode) == 0o755
    for f in run.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f.name


# ----------------------------------------------------------------------------- 2 and 4: run folders
def _fake_run(root: Path, score: int = 1, replace: bool = False) -> Path:
    from cnnlab.core.runs.folders import create_run

    with create_run(root, "x", {"a": 1}, 0, {"hash": "h"}, replace=replace) as run:
        run.write_history([{"epoch": 1, "val_acc": 0.5}])
        run.write_summary({"score": score})
    return run.path


CORRUPTIONS = {
    "summary garbage": lambda p: (p / "summary.json").write_text("{garbage"),
    "summary empty object": lambda p: (p / "summary.json").write_text("{}"),
    "summary a list": lambda p: (p / "summary.json").write_text("[1, 2]"),
    "metrics missing": lambda p: (p / "metrics.jsonl").unlink(),
    "metrics garbage": lambda p: (p / "metrics.jsonl").write_text('{"epoch": 1}\nnot json\n'),
    "config missing": lambda p: (p / "config.json").unlink(),
    "config garbage": lambda p: (p / "config.json").write_text("\xff{"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupt_cached_run_is_ignored_with_a_warning_and_replaced(tmp_path, caplog, corruption):
    from cnnlab.core.runs.folders import cached_run, run_problem

    path = _fake_run(tmp_path)
    assert run_problem(path) is None and cached_run(tmp_path, "x", {"a": 1}, "h", 0) is not None
    CORRUPTIONS[corruption](path)
    (path / "junk.txt").write_text("left by the bad run")
    assert run_problem(path)
    with caplog.at_level("WARNING"):
        assert cached_run(tmp_path, "x", {"a": 1}, "h", 0) is None
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and path.name in warnings[0].getMessage() and "\n" not in warnings[0].getMessage()
    assert _fake_run(tmp_path, score=2) == path
    assert run_problem(path) is None and not (path / "junk.txt").exists()
    assert json.loads((path / "summary.json").read_text())["score"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "nothing left aside"


def test_a_valid_run_finished_meanwhile_is_kept_unless_replace(tmp_path):
    from cnnlab.core.runs.folders import create_run

    with create_run(tmp_path, "x", {"a": 1}, 0, {"hash": "h"}) as run:
        other = _fake_run(tmp_path, score=7)  # another process finishes the same run first
        run.write_history([])
        run.write_summary({"score": 8})
    assert run.path == other and json.loads((other / "summary.json").read_text())["score"] == 7
    _fake_run(tmp_path, score=9, replace=True)  # --force: the new run replaces the old one
    assert json.loads((other / "summary.json").read_text())["score"] == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name]


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_create_run_removes_stale_temporary_folders_of_dead_processes(tmp_path):
    stale = tmp_path / f".tmp-x-0123456789ab-{_dead_pid()}"
    (stale / "sub").mkdir(parents=True)
    live = tmp_path / f".tmp-x-0123456789ab-{os.getppid()}"  # a living process's folder is kept
    live.mkdir()
    _fake_run(tmp_path)
    assert not stale.exists() and live.is_dir()


def test_train_cli_repairs_a_corrupt_cached_run_and_force_replaces(tmp_path, capsys):
    out = tmp_path / "runs"
    args = ["train", "--epochs", "1", "--out", str(out), "--json"]
    assert main(args) == 0
    run = out / json.loads(capsys.readouterr().out)["run_id"]
    stale = out / f".tmp-{run.name}-{_dead_pid()}"
    stale.mkdir()
    (run / "summary.json").write_text("{garbage")
    assert main(args) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["run_id"] == run.name and "Traceback" not in captured.err
    assert json.loads((run / "summary.json").read_text())["run_id"] == run.name
    assert not stale.exists(), "train cleans stale temporary run folders too"
    (run / "old-marker").write_text("x")
    assert main([*args, "--force"]) == 0
    assert not (run / "old-marker").exists() and (run / "summary.json").is_file()


# ----------------------------------------------------------------------------- threads under load
TRAINING_COMMANDS = [
    ["train"],
    ["experiment", "pooling"],
    ["sweep"],
    ["part2", "mlp"],
    ["part2", "weights"],
    ["part2", "features"],
    ["part2", "finetune"],
    ["report"],
]


@pytest.mark.parametrize("command", TRAINING_COMMANDS, ids=" ".join)
def test_every_training_command_takes_threads(command, capsys):
    from cnnlab.cli.app import build_parser

    args = build_parser().parse_args([*command, "--threads", "3"])
    assert args.threads == 3
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*command, "--threads", "0"])
    assert exc.value.code == 2 and "--threads" in capsys.readouterr().err


def test_default_thread_rule_and_summary_record(tmp_path, capsys, monkeypatch):
    from cnnlab.core.threads import DEFAULT_THREADS, resolve_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert resolve_threads(None) == DEFAULT_THREADS == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert resolve_threads(None) == 3 and resolve_threads(2) == 2
    with pytest.raises(ConfigError):
        resolve_threads(0)
    monkeypatch.delenv("OMP_NUM_THREADS")
    torch.set_num_threads(2)
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "a"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["torch_threads"] == 1 and torch.get_num_threads() == 1
    assert main(["part2", "mlp", "--epochs", "1", "--threads", "2", "--out", str(tmp_path / "b"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["torch_threads"] == 2


# ----------------------------------------------------------------------------- 11: download numbers
@pytest.mark.parametrize(
    "field, value",
    [
        ("timeout", math.inf),
        ("timeout", math.nan),
        ("timeout", 1e9),
        ("backoff", math.inf),
        ("backoff_max", math.nan),
        ("max_bytes", 2**80),
        ("max_pixels", 2**80),
    ],
)
def test_download_config_numbers_are_finite_and_sane(field, value):
    from cnnlab.faces import DownloadConfig

    with pytest.raises(ConfigError, match=field):
        DownloadConfig(**{field: value})


def test_download_timeout_inf_is_aone_line_error(tmp_path, capsys):
    lst = tmp_path / "list.txt"
    lst.write_text(
        f"name\timage_id\tface_id\turl\tbbox\tsha256\nAnn Lee\t1\t1\thttp://127.0.0.1:9/a.jpg\t0,0,10,10\t{'0' * 64}\n"
    )
    code = main(
        ["faces", "download", "--list", str(lst), "--out", str(tmp_path / "out"), "--timeout", "inf", "--no-progress"]
    )
    assert one_line_error(capsys, code).startswith("cnnlab: error: download timeout=inf")
    assert not (tmp_path / "out").exists()


def test_downloader_and_user_images_share_one_pixel_limit():
    from cnnlab.core.images import MAX_IMAGE_PIXELS
    from cnnlab.faces import DownloadConfig

    assert DownloadConfig().max_pixels == MAX_IMAGE_PIXELS
