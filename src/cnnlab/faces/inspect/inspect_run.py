"""`cnnlab inspect` for Part 2 runs (MLP, AlexNet features, fine-tuned AlexNet): which faces a model confuses.

`inspect_run(run)` rebuilds the model from the run's self-describing checkpoint (model.pt) and the face
split from the recorded run config (the data hash must match the run's), then writes <run>/diagnostics/
(cnnlab.core.diagnostics.metrics: confusion, per-class metrics, confused pairs, top losses) and saliency.png:
the attribution (`cnnlab explain`'s registry, guided backprop by default, as in 2.5) of the predicted
class for one correctly and one wrongly classified face of a few people. Nothing is retrained.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnlab.core.diagnostics.metrics import (
    SPLITS,
    InspectResult,
    SplitDiagnostics,
    check_data_hash,
    model_probabilities,
    split_names,
    write_diagnostics,
)
from cnnlab.core.errors import CnnlabError, ConfigError
from cnnlab.core.runs.folders import read_run
from cnnlab.core.runtime import DEFAULT_DEVICE
from cnnlab.faces.kinds import FACE_KINDS, face_kind
from cnnlab.faces.run_configs import FaceRunConfig

__all__ = ["inspect_run", "load_run_model_and_faces", "run_config", "run_split", "to_display"]

log = logging.getLogger(__name__)

SALIENCY_METHOD = "guided-backprop"  # the method of 2.5
SALIENCY_CLASSES = 4


def to_display(x: torch.Tensor) -> np.ndarray:
    """A face tensor (C, H, W) in [0, 1] as (H, W) (grayscale) or (H, W, 3) in [0, 1]."""
    x = x.detach().float().cpu().clamp(0, 1)
    return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy()


def run_config(kind: str, recorded: dict[str, Any]) -> FaceRunConfig:
    """The run config of a Part 2 run of `kind` from config.json's "config" (its record's config class,
    cnnlab.faces.kinds; extra keys such as the AlexNet weights' hash, recorded beside it, are left out)."""
    if kind not in FACE_KINDS:
        raise CnnlabError(f"not a Part 2 run kind: {kind!r} (one of: {', '.join(FACE_KINDS.names())})")
    return face_kind(kind).read_config(recorded)


def load_run_model_and_faces(run_path: str | Path, device: str = DEFAULT_DEVICE) -> tuple[Any, Any]:
    """(FaceClassifier of model.pt, FaceData rebuilt from the recorded config) of a finished Part 2 run; a DataError
    if the data changed since the run."""
    from cnnlab.faces.data.run_faces import load_run_faces
    from cnnlab.faces.models.checkpoints import load_checkpoint

    run_path = Path(run_path)
    record = read_run(run_path)
    config = run_config(record.kind, record.config)
    if not (run_path / "model.pt").is_file():
        raise CnnlabError(f"{run_path} has no model.pt checkpoint to inspect")
    faces = load_run_faces(config)
    check_data_hash(str(record.meta.get("data", {}).get("hash", "")), faces.data_hash, run_path)
    clf = load_checkpoint(run_path / "model.pt", device=device)
    if list(clf.class_names) != list(faces.class_names):
        raise CnnlabError(f"{run_path.name}: the checkpoint's classes differ from the rebuilt data's")
    return clf, faces


def run_split(
    run_path: str | Path, split: str = "test", device: str = DEFAULT_DEVICE, faces: Any = None
) -> SplitDiagnostics:
    """The SplitDiagnostics of a finished Part 2 run's model on one split (test or val), writing nothing.
    `faces`: the run's FaceData when the caller has it (skips rebuilding it; its hash must match the run's)."""
    from cnnlab.faces.models.checkpoints import load_checkpoint

    if split not in SPLITS:
        raise ConfigError(f"one split: test or val, got {split!r}")
    run_path = Path(run_path)
    if faces is None:
        clf, faces = load_run_model_and_faces(run_path, device)
    else:
        check_data_hash(str(read_run(run_path).meta.get("data", {}).get("hash", "")), faces.data_hash, run_path)
        clf = load_checkpoint(run_path / "model.pt", device=device)
    x, y = faces.splits[split]
    return SplitDiagnostics.of(split, faces.class_names, y, model_probabilities(clf.model, x, batch_size=32))


def inspect_run(
    run_path: str | Path,
    split: str = "test",
    *,
    device: str = DEFAULT_DEVICE,
    method: str = SALIENCY_METHOD,
    saliency_classes: int = SALIENCY_CLASSES,
) -> InspectResult:
    """Write <run>/diagnostics/ for a finished Part 2 run (see the module docstring); `split`: test, val or both."""
    from cnnlab.core.diagnostics.attribution import EXPLAINERS

    EXPLAINERS.get(method)
    run_path = Path(run_path)
    names = split_names(split)
    record = read_run(run_path)
    clf, faces = load_run_model_and_faces(run_path, device)
    splits = {}
    for name in names:
        x, y = faces.splits[name]  # (N, C, S, S) in [0, 1], (N,)
        splits[name] = (
            SplitDiagnostics.of(name, faces.class_names, y, model_probabilities(clf.model, x, batch_size=32)),
            x,
        )
    first, images = splits[names[0]]

    def extras(folder: Path) -> dict[str, Any]:
        from cnnlab.core.diagnostics.attribution import plot_examples

        rows = plot_examples(
            clf.model,
            first.examples(classes=saliency_classes),
            images,
            to_display,
            folder / "saliency.png",
            method=method,
            title=f"{method} of the predicted class: the most confident correct and the most "
            f"confidently wrong {first.split} face per person ({clf.description})",
        )
        return {
            "files": ["saliency.png"],
            "model": clf.description,
            "data": faces.source,
            "saliency": {"split": first.split, "method": method, "rows": rows},
        }

    return write_diagnostics(run_path, record.kind, splits, to_display, title=run_path.name, extras=extras)
