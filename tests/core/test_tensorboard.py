"""TensorBoard: live logging as a callback, event files after the fact, read back with TensorBoard's own reader."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlab.art.config import DataConfig, RunConfig
from cnnlab.art.run import train_run
from cnnlab.cli.app import main
from cnnlab.core.runs.folders import load_history, load_summary
from cnnlab.core.train.callbacks import Callback
from cnnlab.core.train.config import TrainConfig

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import metadata as hp_metadata  # noqa: E402

from cnnlab.core.train.tensorboard import EVENTS_DIR, TensorBoardLogger, write_run_events  # noqa: E402

EPOCHS = 3


@pytest.fixture
def config(tmp_path) -> RunConfig:
    """3 artists x 8 images of 16x16, each in its own colour."""
    rng = np.random.default_rng(0)
    root = tmp_path / "art"
    for k, colour in enumerate([(200, 40, 40), (40, 200, 40), (40, 40, 200)]):
        (root / f"artist_{k}").mkdir(parents=True)
        for i in range(8):
            pixels = np.clip(np.array(colour) + rng.normal(0, 30, (16, 16, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / f"artist_{k}" / f"{i}.png")
    return RunConfig(
        data=DataConfig(name=str(root), image_size=16, folds=4, test_fraction=0.25), train=TrainConfig(epochs=EPOCHS)
    )


def _events(run: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run / EVENTS_DIR), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return acc


def _hparams(acc: EventAccumulator) -> dict:
    content = acc.PluginTagToContent(hp_metadata.PLUGIN_NAME)[hp_metadata.SESSION_START_INFO_TAG]
    info = hp_metadata.parse_session_start_info_plugin_data(content)
    out = {}
    for key, value in info.hparams.items():
        kind = value.WhichOneof("kind")
        out[key] = getattr(value, kind)
    return out


def _check_run_events(run: Path) -> EventAccumulator:
    """Scalars per epoch equal metrics.jsonl; hparams hold the resolved config and final metrics."""
    acc = _events(run)
    history, summary = load_history(run), load_summary(run)
    for split in ("train", "val"):
        for key, tag in ((f"{split}_acc", f"accuracy/{split}"), (f"{split}_loss", f"loss/{split}")):
            events = acc.Scalars(tag)
            assert [e.step for e in events] == [row["epoch"] for row in history]
            assert [e.value for e in events] == pytest.approx([row[key] for row in history], rel=1e-6)
    assert [e.value for e in acc.Scalars("lr")] == pytest.approx([row["lr"] for row in history])
    assert acc.Scalars("final/test_acc")[-1].value == pytest.approx(summary["test_acc"], rel=1e-6)
    assert acc.Scalars("final/val_acc")[-1].value == pytest.approx(summary["val_acc"], rel=1e-6)
    hp = _hparams(acc)
    meta = json.loads((run / "config.json").read_text())
    assert hp["kind"] == meta["kind"] and hp["run_id"] == run.name and hp["seed"] == meta["seed"]
    assert hp["train.epochs"] == meta["config"]["train"]["epochs"]
    assert hp["train.optimizer.name"] == meta["config"]["train"]["optimizer"]["name"]
    assert hp["train.optimizer.lr"] == pytest.approx(meta["config"]["train"]["optimizer"]["lr"])
    return acc


def test_live_logging_ends_up_in_the_run_folder_and_changes_no_number(config, tmp_path):
    out = tmp_path / "runs"
    logged = train_run(config, out, callbacks=[TensorBoardLogger(out)])
    assert (logged.path / EVENTS_DIR).is_dir()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no staging or temporary folder left
    acc = _check_run_events(logged.path)
    assert acc.Tags()["images"] == ["figures/learning_curves"]
    hp = _hparams(acc)
    assert hp["model.pool"] is False and hp["model.filters"] == "[16, 16]"  # bools stay bools, lists as text
    # Attaching the logger changes nothing else: the same run without it has the same metrics.
    plain = train_run(config, tmp_path / "plain")
    assert plain.path.name == logged.path.name and not (plain.path / EVENTS_DIR).exists()
    strip = lambda history: [{k: v for k, v in row.items() if k != "seconds"} for row in history]  # noqa: E731
    assert strip(load_history(plain.path)) == strip(load_history(logged.path))


def test_a_failed_run_leaves_no_events_and_the_logger_serves_the_next_run(config, tmp_path):
    class Boom(Callback):
        def on_epoch_end(self, state, row):
            raise RuntimeError("boom")

    out = tmp_path / "runs"
    logger = TensorBoardLogger(out)
    with pytest.raises(RuntimeError, match="boom"):
        train_run(config, out, callbacks=[logger, Boom()])
    assert not [p for p in out.glob("*") if not p.name.startswith(".tmp-tensorboard-")]  # no run folder
    result = train_run(config, out, callbacks=[logger])
    assert sorted(p.name for p in out.iterdir()) == [result.path.name]  # the failed run's staged events are gone
    _check_run_events(result.path)


def test_runs_tensorboard_writes_events_after_the_fact(config, tmp_path, capsys):
    out = tmp_path / "runs"
    run = train_run(config, out).path
    assert not (run / EVENTS_DIR).exists()
    assert main(["runs", "tensorboard", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "1 runs written" in printed and f"tensorboard --logdir {out}" in printed
    acc = _check_run_events(run)
    assert "figures/learning_curves" in acc.Tags()["images"]
    assert write_run_events(run) is None  # already there: skipped
    assert main(["runs", "--out", str(out), "tensorboard"]) == 0
    assert "0 runs written, 1 already had event files" in capsys.readouterr().out


def test_train_flag_logs_live_and_gives_cached_runs_their_events(config, tmp_path, capsys):
    import yaml

    out = tmp_path / "runs"
    cfg = tmp_path / "run.yaml"
    from cnnlab.core.config import to_dict

    cfg.write_text(yaml.safe_dump(to_dict(config)))
    cached = train_run(config, out).path  # trained earlier, without TensorBoard
    assert main(["train", "--config", str(cfg), "--out", str(out), "--tensorboard"]) == 0
    printed = capsys.readouterr().out
    assert "(cached)" in printed and f"TensorBoard: tensorboard --logdir {out}" in printed
    _check_run_events(cached)
    assert main(["train", "--config", str(cfg), "--out", str(out), "--seed", "1", "--tensorboard", "--json"]) == 0
    run = out / json.loads(capsys.readouterr().out)["run_id"]
    assert _hparams(_check_run_events(run))["seed"] == 1


def test_part2_runs_log_their_test_curve(tmp_path, capsys):
    out = tmp_path / "runs"
    rc = main(
        [
            "part2",
            "mlp",
            "--actors",
            "s1,s2,s3",
            "--train-per-actor",
            "4",
            "--min-eval-per-actor",
            "2",
            "--hidden",
            "5",
            "--image-size",
            "10",
            "--epochs",
            "2",
            "--out",
            str(out),
            "--tensorboard",
            "--json",
        ]
    )
    assert rc == 0
    run = out / json.loads(capsys.readouterr().out)["run_id"]
    acc = _check_run_events(run)
    assert [e.step for e in acc.Scalars("accuracy/test")] == [1, 2]  # the monitored test split
    assert {"figures/learning_curves", "figures/weights"} <= set(acc.Tags()["images"])
    assert _hparams(acc)["mlp.hidden"] == 5


def test_missing_tensorboard_is_one_line_saying_what_to_install(config, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard now raises ImportError
    out = tmp_path / "runs"
    assert main(["train", "--data", config.data.name, "--out", str(out), "--tensorboard"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install -e ".[tensorboard]"' in err
    assert not out.exists()  # failed before training
    train_run(config, out)
    assert main(["runs", "tensorboard", str(out)]) == 2
    assert 'pip install -e ".[tensorboard]"' in capsys.readouterr().err


def test_tensorboard_hparams_view_compares_live_and_after_the_fact_runs(config, tmp_path):
    """TensorBoard itself, on a loopback port, lists both runs as HParams sessions with their config."""
    import dataclasses
    import time
    import urllib.request

    from tensorboard import program

    out = tmp_path / "runs"
    live = train_run(config, out, callbacks=[TensorBoardLogger(out)]).path
    later = train_run(dataclasses.replace(config, train=dataclasses.replace(config.train, seed=1)), out).path
    write_run_events(later)
    board = program.TensorBoard()
    board.configure(
        argv=[
            None,
            "--logdir",
            str(out),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--load_fast",
            "false",
            "--reload_interval",
            "1",
        ]
    )
    url = board.launch()

    def post(path: str, body: dict) -> dict:
        request = urllib.request.Request(
            url.rstrip("/") + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    query = {
        "experimentName": "",
        "startIndex": 0,
        "sliceSize": 10,
        "colParams": [],
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
    }
    deadline = time.monotonic() + 120
    groups: list = []
    try:
        while time.monotonic() < deadline and len(groups) < 2:
            time.sleep(1)
            groups = post("/data/plugin/hparams/session_groups", query).get("sessionGroups", [])
        experiment = post("/data/plugin/hparams/experiment", {"experimentName": ""})
    finally:
        server = getattr(board, "_server", None)  # TensorBoard has no public stop; its werkzeug server does
        if server is not None:
            server.shutdown()
    assert sorted(g["name"] for g in groups) == sorted([live.name, later.name])
    seeds = sorted(g["hparams"]["seed"] for g in groups)
    assert seeds == [0, 1]
    assert {"train.optimizer.lr", "model.filters", "kind"} <= {h["name"] for h in experiment["hparamInfos"]}
    assert {"final/test_acc", "accuracy/val"} <= {m["name"]["tag"] for m in experiment["metricInfos"]}
