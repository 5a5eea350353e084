"""The Part 2 run kinds, registered with `cnnlab.core.runs.kinds.RUN_KINDS`: the MLP (`mlp`), the small CNN
(`face-cnn`), AlexNet
features + head (`alexnet-features`) and fine-tuning (`alexnet-finetune`). Each saves a
self-describing model.pt, so one loader and one inspector serve all three."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnnlab.core.runs.kinds import RunKind, register_kind


def _load(path: Path) -> Any:
    from cnnlab.faces.models.checkpoints import load_checkpoint

    return load_checkpoint(Path(path) / "model.pt").model.eval()


def _inspect(path: Path, split: str = "test", **options: Any) -> Any:
    from cnnlab.faces.inspect.inspect_run import inspect_run

    return inspect_run(path, split, **options)


KINDS = tuple(
    register_kind(RunKind(name, "Part 2", load_model=_load, inspect=_inspect, files=("model.pt",)))
    for name in ("mlp", "face-cnn", "alexnet-features", "alexnet-finetune")
)
