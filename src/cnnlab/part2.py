"""Part 2 experiments (questions 2.1-2.4) on face data, each writing a cached run folder.

This module: shared settings and helpers, and the MLP runs; the AlexNet runs are in
cnnlab.part2_alexnet and re-exported here.

  train_mlp          2.1: MLP on 28x28 faces; learning curves (train/val/test), test accuracy, weight grid
  mlp_weight_study   2.3: the MLP at 300 and 800 hidden units, a grid of chosen units' input weights each
  alexnet_features   2.2: cached AlexNet activations (conv4 by default) + a trained fully connected head
  alexnet_finetune   2.4: AlexNet with one output per actor; frozen features or everything at a smaller LR

Every run folder holds config.json, metrics.csv/jsonl, learning_curves.png, summary.json and model.pt
(a self-describing checkpoint for `cnnlab predict` / `cnnlab explain`). Runs on an untrained
(random-weight) AlexNet say "untrained AlexNet" in the summary, the plot titles and the checkpoint.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from cnnlab.errors import ConfigError, DataError
from cnnlab.runs import create_run, find_cached_run, load_summary
from cnnlab.train import EarlyStoppingConfig, OptimizerConfig, Trainer, TrainConfig, seed_everything

log = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")


@dataclass(frozen=True)
class RunResult:
    path: Path
    summary: dict
    cached: bool


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings shared by the Part 2 runs (weight_decay is the L2 penalty)."""

    epochs: int = 100
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 3e-4
    weight_decay: float = 1e-2
    patience: int | None = None  # early stopping on val loss; None: all epochs, best epoch by val loss
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("epochs and batch size must be >= 1")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r} (choose from: {', '.join(OPTIMIZERS)})")
        if not self.lr > 0 or self.weight_decay < 0:
            raise ConfigError(f"lr must be > 0 and weight decay >= 0 (got {self.lr}, {self.weight_decay})")
        if self.patience is not None and self.patience < 1:
            raise ConfigError("patience must be >= 1")

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            optimizer=OptimizerConfig(name=self.optimizer, lr=self.lr, weight_decay=self.weight_decay),
            early_stopping=EarlyStoppingConfig(patience=self.patience, monitor="val_loss"),
            seed=self.seed,
        )


# ----------------------------------------------------------------------------- data


def load_face_data(source: str = "olivetti", *, image_size: int, channels: int, actors: Sequence[str] | None = None,
                   split: Any = None) -> Any:
    """cnnlab.faces.load_faces, imported here so that `import cnnlab.part2` stays light."""
    from cnnlab.faces import load_faces

    return load_faces(source, image_size=image_size, channels=channels, actors=list(actors) if actors else None, split=split)


def data_info(faces: Any) -> dict[str, Any]:
    """What a run records about its data (the hash makes it part of the run id)."""
    counts = getattr(faces, "counts", None)
    return {
        "name": str(faces.source),
        "hash": str(faces.data_hash),
        "provenance": getattr(faces, "provenance", ""),
        "classes": list(faces.class_names),
        "n_train": int(len(faces.train_y)),
        "n_val": int(len(faces.val_y)),
        "n_test": int(len(faces.test_y)),
        "counts": counts if isinstance(counts, (dict, list)) else None,
        "image_shape": list(faces.train_x.shape[1:]),
    }


def _splits(faces: Any) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    out = {
        "train": (faces.train_x, faces.train_y.long()),
        "val": (faces.val_x, faces.val_y.long()),
        "test": (faces.test_x, faces.test_y.long()),
    }
    for name, (x, y) in out.items():
        if len(y) == 0:
            raise DataError(f"the {name} split of {faces.source} is empty")
    return out


def hflip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image (B, C, H, W) left-right with probability 0.5 (faces are near-symmetric)."""
    mask = (torch.rand(len(x), generator=generator) < 0.5).to(x.device)
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


def _evaluate(trainer: Trainer, model: nn.Module, sets: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    out = {}
    for name, (x, y) in sets.items():
        out[f"{name}_loss"], out[f"{name}_acc"] = trainer.evaluate(model, x, y)
    return out


def _fit_fields(trainer: Trainer, result: Any, final: dict[str, float]) -> dict[str, Any]:
    """Summary fields every Part 2 run shares: final metrics and how the kept epoch was chosen."""
    return {
        **final,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "selected_by": trainer.config.early_stopping.monitor,
        "train_seconds": round(result.seconds, 3),
    }


def _cached(out_root: str | Path, kind: str, config: dict, data: dict, seed: int, force: bool) -> RunResult | None:
    path = None if force else find_cached_run(out_root, kind, config, data["hash"], seed)
    if path is None:
        return None
    log.info("run %s is cached; reusing it", path.name)
    return RunResult(path, load_summary(path), True)


def seed_summary(results: Sequence[RunResult]) -> dict[str, float]:
    """Mean and sample std (0 for one run) of train/val/test accuracy over runs that differ by seed."""
    import statistics

    out: dict[str, float] = {"n": len(results)}
    for key in ("train_acc", "val_acc", "test_acc"):
        vals = [float(r.summary[key]) for r in results]
        out[f"{key}_mean"] = statistics.fmean(vals)
        out[f"{key}_std"] = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return out


# ----------------------------------------------------------------------------- 2.1 / 2.3: MLP


@dataclass(frozen=True)
class MLPSettings:
    """The 2.1 MLP: architecture, input and which hidden units the weight pictures show."""

    hidden: int = 300
    activation: str = "tanh"
    init: str = "normal-0.01"  # small weights: the L2-shaped pictures are not buried in init noise
    image_size: int = 28
    channels: int = 1
    dropout: float = 0.0
    standardize: str = "pixel"  # pixel: subtract the mean face, divide by each pixel's std; or channel, none
    flip: bool = False  # augmentation: random horizontal flips of training batches (p = 0.5)
    unit_rule: str = "most-selective"
    units_per_class: int = 2
    max_tiles: int = 24

    def __post_init__(self) -> None:
        from cnnlab.mlp import UNIT_RULES

        if self.unit_rule not in UNIT_RULES:
            raise ConfigError(f"unknown unit rule {self.unit_rule!r} (choose from: {', '.join(UNIT_RULES)})")
        if self.units_per_class < 1 or self.max_tiles < 1:
            raise ConfigError("units per class and max tiles must be >= 1")


def describe_mlp(cfg: Any, train: TrainSettings) -> str:
    """A sentence describing the system (what 2.1 asks the report to state)."""
    from cnnlab.mlp import INIT_DESCRIPTIONS

    c = "grayscale" if cfg.channels == 1 else "RGB"
    how = {
        "pixel": "standardised per pixel with the training set (mean face subtracted, divided by each pixel's std)",
        "channel": "standardised per channel with the training set's mean and std",
        "none": "not standardised",
    }[cfg.standardize]
    return (
        f"{cfg.image_size}x{cfg.image_size} {c} face crops scaled to [0, 1], {how}, "
        f"flattened to {cfg.input_dim} inputs -> fully connected {cfg.hidden} units, "
        f"{cfg.activation} -> {cfg.num_classes} logits, softmax cross-entropy; weights initialised "
        f"{cfg.init} ({INIT_DESCRIPTIONS[cfg.init]}); {train.optimizer} lr {train.lr:g}, L2 weight decay "
        f"{train.weight_decay:g}, batch {train.batch_size}, {train.epochs} epochs, model kept at the epoch of lowest "
        f"validation loss"
    )


def train_mlp(
    faces: Any,
    settings: MLPSettings = MLPSettings(),
    train: TrainSettings = TrainSettings(),
    out_root: str | Path = "runs",
    *,
    device: str = "cpu",
    force: bool = False,
    progress: bool = False,
) -> RunResult:
    """2.1: train the MLP on `faces` (loaded at settings.image_size/channels); write its run folder.

    Writes learning curves for train/val/test (plot + metrics.csv), model.pt, and weights.png: the input
    weights of the chosen hidden units (settings.unit_rule), each titled with the class it favours.
    """
    from cnnlab.faces_models import save_checkpoint
    from cnnlab.mlp import MLP, MLPConfig, choose_units, input_stats, plot_weight_grid
    from cnnlab.plots import plot_learning_curves

    sets = _splits(faces)
    shape = tuple(faces.train_x.shape[1:])
    if shape != (settings.channels, settings.image_size, settings.image_size):
        raise ConfigError(f"faces are {shape}, the MLP expects {(settings.channels, settings.image_size, settings.image_size)}")
    names = list(faces.class_names)
    info = data_info(faces)
    config = {"mlp": asdict(settings), "train": asdict(train)}
    hit = _cached(out_root, "mlp", config, info, train.seed, force)
    if hit is not None:
        return hit

    seed_everything(train.seed)  # the initialisation is part of the seeded run
    mcfg = MLPConfig(num_classes=len(names), image_size=settings.image_size, channels=settings.channels,
                     hidden=settings.hidden, activation=settings.activation, init=settings.init, dropout=settings.dropout,
                     standardize=settings.standardize)
    mean, std = input_stats(sets["train"][0], settings.standardize)
    model = MLP(mcfg, mean, std)
    trainer = Trainer(train.train_config(), device=device, progress=progress)
    augment = hflip if settings.flip else None
    result = trainer.fit(model, sets["train"], sets["val"], monitor={"test": sets["test"]}, augment=augment)
    final = _evaluate(trainer, model, sets)  # best-by-val-loss weights are loaded
    model.cpu()
    description = describe_mlp(mcfg, train)
    chosen = choose_units(model, settings.unit_rule, settings.units_per_class)
    chosen = sorted(chosen, key=lambda u: -u["score"])[: settings.max_tiles]
    chosen = sorted(chosen, key=lambda u: (u["class_index"], -u["score"]))
    for u in chosen:
        u["class"] = names[u["class_index"]]
        u["favours_class"] = names[u["favours"]]
    summary = {
        "question": "2.1/2.3",
        "model": f"MLP {mcfg.input_dim}-{mcfg.hidden}-{mcfg.num_classes} ({mcfg.activation})",
        "description": description,
        "architecture": mcfg.as_dict(),
        "init": mcfg.init,
        "standardize": settings.standardize,
        **_fit_fields(trainer, result, final),
        "weight_units": chosen,
        "weight_unit_rule": settings.unit_rule,
    }
    with create_run(out_root, "mlp", config, train.seed, info) as run:
        run.write_history(result.history)
        title = f"MLP {mcfg.hidden} hidden ({mcfg.activation}) on {info['name']}: test acc {final['test_acc']:.3f}"
        plot_learning_curves(result.history, run.file("learning_curves.png"), title=title, sets=["train", "val", "test"])
        plot_weight_grid(model, chosen, names, run.file("weights.png"),
                         title=f"MLP {mcfg.hidden} hidden: input weights of the {len(chosen)} most class-selective units "
                               f"({settings.unit_rule}; red +, blue -), each titled with the class it favours"
                         if settings.unit_rule == "most-selective" else
                         f"MLP {mcfg.hidden} hidden: input weights of the units with the largest outgoing weight "
                         f"to each class (red +, blue -)")
        run.write_json("weight_units.json", chosen)
        save_checkpoint(run.file("model.pt"), model, kind="mlp", config=mcfg.as_dict(), class_names=names,
                        image_size=mcfg.image_size, channels=mcfg.channels,
                        meta={"description": f"MLP {mcfg.hidden} hidden ({mcfg.activation})", "data": info["name"]})
        full = run.write_summary(summary)
    return RunResult(run.path, full, False)


def mlp_weight_study(
    faces: Any,
    hidden_sizes: Sequence[int] = (300, 800),
    settings: MLPSettings = MLPSettings(),
    train: TrainSettings = TrainSettings(),
    out_root: str | Path = "runs",
    *,
    device: str = "cpu",
    force: bool = False,
) -> list[RunResult]:
    """2.3: one MLP per hidden size (cached runs reused); each run folder has its weights.png grid."""
    from dataclasses import replace

    return [train_mlp(faces, replace(settings, hidden=int(h)), train, out_root, device=device, force=force) for h in hidden_sizes]


# 2.2 and 2.4 live in cnnlab.part2_alexnet (module size); their names stay importable from here.
_ALEXNET_NAMES = {"FeatureSettings", "FinetuneSettings", "alexnet_features", "alexnet_finetune", "FREEZE_MODES"}


def __getattr__(name: str) -> Any:
    if name in _ALEXNET_NAMES:
        from cnnlab import part2_alexnet

        return getattr(part2_alexnet, name)
    raise AttributeError(f"module 'cnnlab.part2' has no attribute {name!r}")
