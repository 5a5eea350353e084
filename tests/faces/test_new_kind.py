"""A newcomer's Part 2 model, declared in one place: a toy kind registered through the public registration
(`cnnlab.faces.kinds.register_face_kind`, in this file only) shows up in `cnnlab runs`, `cnnlab.load_model`
and `cnnlab.inspect` with no other file changed.

The kind is registered in a fresh Python process (the registries are global: the test session's stay
untouched), which imports this file, trains one tiny run of it through the real run recipe
(core.runs.cached.run_cached, the real Trainer and save_checkpoint) and reports what the three entry points
gave back; the assertions are made here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cnnlab.core.config import to_dict
from cnnlab.core.runs.cached import RunSpec, run_cached
from cnnlab.core.runs.folders import RunDir, RunResult
from cnnlab.core.train.config import TrainConfig
from cnnlab.core.train.trainer import Trainer
from cnnlab.faces.kinds import FaceKind, register_face_kind
from cnnlab.faces.models.checkpoints import save_checkpoint
from cnnlab.faces.run_configs import FaceDataConfig


# ----------------------------------------------------------------------------- the toy kind, all of it
@dataclass(frozen=True)
class ToyConfig:
    """The toy network's section: a linear map from tiny grey faces to one logit per person."""

    image_size: int = 8
    channels: int = 1


@dataclass(frozen=True)
class ToyRunConfig:
    data: FaceDataConfig = field(default_factory=FaceDataConfig)  # the embedded Olivetti faces
    toy: ToyConfig = field(default_factory=ToyConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=2, batch_size=64))

    @property
    def image_size(self) -> int:
        return self.toy.image_size

    @property
    def channels(self) -> int:
        return self.toy.channels


def build_toy(config: dict[str, Any], num_classes: int, image_size: int | None = None, init: bool = True) -> nn.Module:
    size, channels = int(image_size or config.get("image_size", 8)), int(config.get("channels", 1))
    model = nn.Sequential(nn.Flatten(), nn.Linear(channels * size * size, num_classes))  # (B, C, S, S) -> (B, K)
    model.input_shape = (channels, size, size)
    return model


def train_toy(faces: Any, config: ToyRunConfig, out_root: str | Path, *, device: str = "cpu") -> RunResult:
    spec = RunSpec(out_root, TOY_NAME, to_dict(config), faces.info, config.train.seed)
    names = list(faces.class_names)

    def fit() -> tuple[nn.Module, Any, dict]:
        model = build_toy(to_dict(config.toy), len(names))
        trainer = Trainer(config.train, device=device)
        result = trainer.fit(model, faces.splits["train"], faces.splits["val"])
        return model, result, trainer.evaluate_splits(model, faces.splits)

    def write(run: RunDir, trained: tuple[nn.Module, Any, dict]) -> dict:
        model, result, final = trained
        run.write_history(result.history)
        save_checkpoint(
            run.file("model.pt"),
            model,
            kind=TOY_NAME,
            config=to_dict(config.toy),
            class_names=names,
            image_size=config.image_size,
            channels=config.channels,
            meta={"description": "toy linear model", "data": faces.info["name"]},
        )
        return {**final, **result.summary_fields()}

    return run_cached(spec, fit, write)


TOY_NAME = "toy-linear"


def register_toy() -> FaceKind:
    return register_face_kind(FaceKind(TOY_NAME, "toy linear model", ToyRunConfig, build=build_toy, train=train_toy))


# ----------------------------------------------------------------------------- what the fresh process does
def scenario(out: str) -> None:
    """Register the toy kind, train one run of it, and print what `cnnlab runs`, load_model and inspect give."""
    import contextlib
    import io

    import cnnlab
    from cnnlab.cli.app import main
    from cnnlab.faces.data.run_faces import load_run_faces

    toy = register_toy()
    config = ToyRunConfig()
    run = toy.train(load_run_faces(config), config, out)
    table, unknown = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(table):
        rc = main(["runs", "--out", out, "--kind", TOY_NAME, "--json"])
    with contextlib.redirect_stderr(unknown):
        rc_unknown = main(["runs", "--out", out, "--kind", "no-such-kind"])
    model = cnnlab.load_model(run.path)
    with torch.no_grad():
        logits = model(torch.rand(2, *model.input_shape))
    inspected = cnnlab.inspect(run.path.name, out=out, split="val")
    print(
        json.dumps(
            {
                "run": run.path.name,
                "summary": run.summary,
                "runs_rc": rc,
                "rows": json.loads(table.getvalue()),
                "unknown_rc": rc_unknown,
                "unknown_error": unknown.getvalue(),
                "model": type(model).__name__,
                "training": model.training,
                "logits": list(logits.shape),
                "inspect_kind": inspected.kind,
                "inspect_acc": inspected.splits["val"].accuracy,
                "inspect_files": sorted(inspected.files),
            }
        )
    )


def test_a_toy_part2_kind_registered_here_shows_up_in_runs_load_model_and_inspect(tmp_path):
    out = tmp_path / "runs"
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_new_kind as t; t.scenario({str(out)!r})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["run"].startswith(TOY_NAME + "-") and got["summary"]["kind"] == TOY_NAME
    assert got["runs_rc"] == 0 and [r["run_id"] for r in got["rows"]] == [got["run"]]
    assert got["rows"][0]["kind"] == TOY_NAME and got["rows"][0]["status"] == "ok"
    assert got["unknown_rc"] == 2 and TOY_NAME in got["unknown_error"]  # the registered kinds are the choices
    assert got["model"] == "Sequential" and not got["training"] and got["logits"][0] == 2
    assert got["inspect_kind"] == TOY_NAME and "saliency.png" in got["inspect_files"]
    assert got["inspect_acc"] == pytest.approx(
        got["summary"]["val_acc"]
    )  # the rebuilt model scores what the run recorded
    assert (out / got["run"] / "model.pt").is_file() and (out / got["run"] / "diagnostics").is_dir()
