"""What a trained classifier gets right and wrong on a split: the generic half of `cnnlab inspect`.

In the spirit of fastai's `ClassificationInterpretation`: the model's class probabilities on a split,
the confusion matrix, per-class accuracy, precision, recall and F1 (scikit-learn's metrics), the most
confused pairs (true -> predicted), and the top losses (the most confidently wrong images) next to the
most confident correct ones. Part 1 and Part 2 adapters (cnnlab.art.inspect_run,
cnnlab.faces.inspect.inspect_run) rebuild a run's model and data and call `write_split` for each split into one
`diagnostics/` folder, written atomically (`cnnlab.core.io.atomic_dir`).

Files per split S (test, val): confusion_S.csv/.png, per_class_S.csv, confused_pairs_S.csv,
top_losses_S.csv/.png; plus diagnostics.json, the summary every reader (the report) uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnlab.core.errors import ConfigError, DataError
from cnnlab.core.io import atomic_dir, atomic_write_json, write_csv

__all__ = [
    "DIAGNOSTICS_DIR",
    "SPLITS",
    "SplitDiagnostics",
    "InspectResult",
    "model_probabilities",
    "split_names",
    "write_split",
    "write_diagnostics",
    "write_csv",
    "check_data_hash",
    "refresh_events",
]

log = logging.getLogger(__name__)

DIAGNOSTICS_DIR = "diagnostics"  # inside a run folder
SPLITS = ("test", "val")  # what --split may name ("both" = the two)
TOP_LOSSES = 12  # images in the top-losses gallery
CONFIDENT_CORRECT = 6  # most confident correct images shown beside them


def split_names(split: str) -> tuple[str, ...]:
    """The splits `--split` names: "test", "val" or "both" (test, then val)."""
    if split == "both":
        return SPLITS
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r} (choose from: test, val, both)")
    return (split,)


@torch.inference_mode()
def model_probabilities(model: nn.Module, x: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """Softmax class probabilities (N, K), float32 on the CPU, of `model` in eval mode on images x (N, C, H, W)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = [
        torch.softmax(model(x[i : i + batch_size].to(device)).float(), dim=1).cpu()
        for i in range(0, len(x), batch_size)
    ]
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 0)


@dataclass(frozen=True, eq=False)
class SplitDiagnostics:
    """A model's probabilities on one split and what follows from them (computed on first use)."""

    split: str  # "test" or "val"
    class_names: tuple[str, ...]
    y_true: np.ndarray  # (N,) int
    probs: np.ndarray  # (N, K) float, rows sum to 1

    def __post_init__(self) -> None:
        if self.probs.shape != (len(self.y_true), len(self.class_names)):
            raise ValueError(
                f"probabilities {self.probs.shape} do not match {len(self.y_true)} labels and {len(self.class_names)} classes"
            )

    @classmethod
    def of(cls, split: str, class_names: Sequence[str], y: torch.Tensor, probs: torch.Tensor) -> SplitDiagnostics:
        return cls(
            split, tuple(class_names), y.detach().cpu().numpy().astype(np.int64), probs.detach().cpu().double().numpy()
        )

    @classmethod
    def pooled(cls, parts: Sequence[SplitDiagnostics]) -> SplitDiagnostics:
        """The predictions of several models (e.g. the repeats of one configuration) on the same classes, pooled:
        counts add up over the models, so "k of n" means k of n predictions."""
        if not parts or any(p.class_names != parts[0].class_names for p in parts):
            raise ValueError("pooling needs at least one SplitDiagnostics, all with the same classes")
        return cls(
            parts[0].split,
            parts[0].class_names,
            np.concatenate([p.y_true for p in parts]),
            np.concatenate([p.probs for p in parts]),
        )

    @property
    def n(self) -> int:
        return int(len(self.y_true))

    @cached_property
    def y_pred(self) -> np.ndarray:
        return self.probs.argmax(1)

    @cached_property
    def confusion(self) -> np.ndarray:
        """(K, K) counts: row = true class, column = predicted class (sklearn.metrics.confusion_matrix)."""
        from sklearn.metrics import confusion_matrix

        return confusion_matrix(self.y_true, self.y_pred, labels=np.arange(len(self.class_names)))

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion)) / max(self.n, 1)

    @cached_property
    def losses(self) -> np.ndarray:
        """(N,) cross-entropy of each image: -log p(true class)."""
        p_true = self.probs[np.arange(self.n), self.y_true]
        return -np.log(np.clip(p_true, 1e-12, 1.0))

    def per_class(self) -> list[dict[str, Any]]:
        """One row per class: support, correct, accuracy (the share of the class's images classified
        correctly, which is its recall), precision, recall, F1 (sklearn; 0 where undefined)."""
        from sklearn.metrics import precision_recall_fscore_support

        labels = np.arange(len(self.class_names))
        precision, recall, f1, support = precision_recall_fscore_support(
            self.y_true, self.y_pred, labels=labels, zero_division=0
        )
        cm = self.confusion
        return [
            {
                "class": name,
                "support": int(support[k]),
                "correct": int(cm[k, k]),
                "accuracy": float(recall[k]) if support[k] else float("nan"),
                "precision": float(precision[k]),
                "recall": float(recall[k]),
                "f1": float(f1[k]),
            }
            for k, name in enumerate(self.class_names)
        ]

    def worst_classes(self, k: int = 3) -> list[dict[str, Any]]:
        """The k classes with the lowest accuracy (ties: lower F1, then more images), classes without images skipped."""
        rows = [r for r in self.per_class() if r["support"]]
        return sorted(rows, key=lambda r: (r["accuracy"], r["f1"], -r["support"]))[:k]

    def confused_pairs(self, k: int | None = None) -> list[dict[str, Any]]:
        """Off-diagonal cells, most frequent first: true, predicted, count, of (the true class's images), share."""
        cm = self.confusion
        rows = [
            {
                "true": self.class_names[i],
                "predicted": self.class_names[j],
                "count": int(cm[i, j]),
                "of": int(cm[i].sum()),
                "share": float(cm[i, j] / cm[i].sum()),
            }
            for i in range(len(cm))
            for j in range(len(cm))
            if i != j and cm[i, j] > 0
        ]
        rows.sort(key=lambda r: (-r["count"], -r["share"], r["true"], r["predicted"]))
        return rows if k is None else rows[:k]

    def _item(self, i: int, kind: str) -> dict[str, Any]:
        t, p = int(self.y_true[i]), int(self.y_pred[i])
        return {
            "kind": kind,
            "index": int(i),
            "true": self.class_names[t],
            "predicted": self.class_names[p],
            "true_index": t,
            "predicted_index": p,
            "p_true": float(self.probs[i, t]),
            "p_predicted": float(self.probs[i, p]),
            "loss": float(self.losses[i]),
            "correct": t == p,
        }

    def top_losses(self, k: int = TOP_LOSSES) -> list[dict[str, Any]]:
        """The k images with the highest loss (-log p(true)), highest first: the most confidently wrong ones."""
        order = np.argsort(-self.losses, kind="stable")[:k]
        return [self._item(int(i), "top_loss") for i in order]

    def confident_correct(self, k: int = CONFIDENT_CORRECT) -> list[dict[str, Any]]:
        """The k correctly classified images with the highest p(true), for contrast."""
        correct = np.flatnonzero(self.y_pred == self.y_true)
        order = correct[np.argsort(-self.probs[correct, self.y_true[correct]], kind="stable")][:k]
        return [self._item(int(i), "confident_correct") for i in order]

    def examples(self, per_class: int = 1, classes: int | None = None) -> list[tuple[str, dict | None, dict | None]]:
        """For classes that have both: (class, most confident correct image, most confidently wrong image).

        Classes with both a correct and a wrong image come first (most images first); at most `classes`.
        """
        out = []
        for c, name in enumerate(self.class_names):
            idx = np.flatnonzero(self.y_true == c)
            right = [i for i in idx if self.y_pred[i] == c]
            wrong = [i for i in idx if self.y_pred[i] != c]
            best = max(right, key=lambda i: self.probs[i, c], default=None)
            worst = max(wrong, key=lambda i: self.probs[i, self.y_pred[i]], default=None)
            if best is None and worst is None:
                continue
            out.append(
                (
                    len(idx) * (best is not None and worst is not None),
                    name,
                    None if best is None else self._item(int(best), "correct"),
                    None if worst is None else self._item(int(worst), "wrong"),
                )
            )
        out.sort(key=lambda t: -t[0])
        return [(name, right, wrong) for _, name, right, wrong in out][:classes]

    def summary(self, k: int = 3) -> dict[str, Any]:
        """What diagnostics.json records of this split."""
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "correct": int(np.trace(self.confusion)),
            "confused_pairs": self.confused_pairs(k),
            "worst_classes": self.worst_classes(k),
            "top_losses": self.top_losses(k),
            "confusion": self.confusion.tolist(),
        }


ToImage = Callable[[torch.Tensor], np.ndarray]  # (C, H, W) tensor -> (H, W, 3) or (H, W) array in [0, 1]


def write_split(
    folder: Path, diag: SplitDiagnostics, images: torch.Tensor, to_image: ToImage, title: str = ""
) -> list[str]:
    """Write the split's confusion, per-class, confused-pairs and top-losses files into `folder`; returns their names.

    `images` (N, C, H, W) are the split's images in the order of diag.y_true, shown through `to_image`.
    """
    from cnnlab.core.diagnostics.plots import plot_confusion, plot_gallery

    s = diag.split
    names = diag.class_names
    cm = diag.confusion
    write_csv(
        folder / f"confusion_{s}.csv",
        [{"true \\ predicted": names[i], **{n: int(v) for n, v in zip(names, cm[i])}} for i in range(len(names))],
    )
    write_csv(folder / f"per_class_{s}.csv", diag.per_class())
    write_csv(folder / f"confused_pairs_{s}.csv", diag.confused_pairs(), ["true", "predicted", "count", "of", "share"])
    top = diag.top_losses()
    shown = {it["index"] for it in top}
    items = top + [it for it in diag.confident_correct() if it["index"] not in shown]  # small splits: no image twice
    write_csv(
        folder / f"top_losses_{s}.csv",
        items,
        ["kind", "index", "true", "predicted", "p_true", "p_predicted", "loss", "correct"],
    )
    plot_confusion(
        cm,
        names,
        folder / f"confusion_{s}.png",
        title=f"{title}{': ' if title else ''}{s} split, accuracy {diag.accuracy:.3f} ({int(np.trace(cm))}/{diag.n})",
    )
    pictures = [to_image(images[it["index"]]) for it in items]
    plot_gallery(
        pictures,
        items,
        folder / f"top_losses_{s}.png",
        title=f"{title}{': ' if title else ''}top losses on the {s} split (red: wrong), then the most confident correct (green)",
    )
    return [
        f"confusion_{s}.csv",
        f"confusion_{s}.png",
        f"per_class_{s}.csv",
        f"confused_pairs_{s}.csv",
        f"top_losses_{s}.csv",
        f"top_losses_{s}.png",
    ]


@dataclass
class InspectResult:
    """What `cnnlab inspect` wrote for one run: the diagnostics folder and the per-split summaries."""

    run_path: Path
    path: Path  # <run>/diagnostics
    kind: str
    splits: dict[str, SplitDiagnostics]
    files: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """diagnostics.json: the run, each split's summary, the files written and the part-specific facts."""
        from cnnlab.core.version import __version__

        return {
            "run_id": self.run_path.name,
            "kind": self.kind,
            "version": __version__,
            "class_names": list(next(iter(self.splits.values())).class_names) if self.splits else [],
            "splits": {name: d.summary() for name, d in self.splits.items()},
            "files": sorted(self.files),
            **self.extra,
        }


def check_data_hash(recorded: str, rebuilt: str, run_path: Path) -> None:
    """DataError unless the data rebuilt from a run's config is the data the run was trained on."""
    if recorded != rebuilt:
        raise DataError(
            f"the data rebuilt from {run_path.name}'s config has hash {rebuilt[:12]}, but the run was trained "
            f"on {recorded[:12]}: the data changed since, so its diagnostics would describe other images"
        )


def write_diagnostics(
    run_path: Path,
    kind: str,
    splits: Mapping[str, tuple[SplitDiagnostics, torch.Tensor]],
    to_image: ToImage,
    title: str = "",
    extras: Callable[[Path], dict[str, Any]] | None = None,
) -> InspectResult:
    """Build <run>/diagnostics/ in a temporary folder beside it and rename it into place (an older one is replaced).

    `splits` maps a split name to its diagnostics and images; `extras(folder)` may add part-specific
    figures to the folder and returns {"files": [names], ...facts for diagnostics.json}. Afterwards the
    run's TensorBoard events, if it has some, are rewritten so they include the new figures.
    """
    run_path = Path(run_path)
    result = InspectResult(run_path, run_path / DIAGNOSTICS_DIR, kind, {k: d for k, (d, _) in splits.items()})
    with atomic_dir(result.path) as tmp:
        for d, images in splits.values():
            result.files += write_split(tmp, d, images, to_image, title)
        if extras is not None:
            extra = dict(extras(tmp))
            result.files += list(extra.pop("files", []))
            result.extra.update(extra)
        result.files.append("diagnostics.json")
        atomic_write_json(tmp / "diagnostics.json", result.to_json())
    refresh_events(run_path)
    log.info("wrote %s", result.path)
    return result


def refresh_events(run_path: Path) -> None:
    """Rewrite the run's TensorBoard events (when it has some and tensorboard is installed), so the new figures show."""
    from cnnlab.core.train.tensorboard import EVENTS_DIR, write_run_events

    if not (run_path / EVENTS_DIR).is_dir():
        return
    try:
        write_run_events(run_path, overwrite=True)
    except Exception as exc:  # noqa: BLE001 - a viewer's files must never fail an inspection
        log.warning(
            "TensorBoard events of %s not refreshed (%s); run `cnnlab runs tensorboard --force` later",
            run_path.name,
            exc,
        )
