"""Part 2 experiments (questions 2.1-2.4) on face data, each writing a cached run folder.

This module: shared settings and helpers, and the MLP runs; the AlexNet runs are in
cnnlab.faces.transfer and re-exported here.

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

from cnnlab.core.errors import ConfigError
from cnnlab.core.runs import RunResult, cached_run, create_run
from cnnlab.core.train_config import EarlyStoppingConfig, OptimizerConfig, TrainConfig
from cnnlab.core.trainer import Trainer, seed_everything

log = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")


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


def hflip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image (B, C, H, W) left-right with probability 0.5 (faces are near-symmetric)."""
    mask = (torch.rand(len(x), generator=generator) < 0.5).to(x.device)
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


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
        from cnnlab.faces.mlp import UNIT_RULES

        if self.unit_rule not in UNIT_RULES:
            raise ConfigError(f"unknown unit rule {self.unit_rule!r} (choose from: {', '.join(UNIT_RULES)})")
        if self.units_per_class < 1 or self.max_tiles < 1:
            raise ConfigError("units per class and max tiles must be >= 1")


def describe_mlp(cfg: Any, train: TrainSettings) -> str:
    """A sentence describing the system (what 2.1 asks the report to state)."""
    from cnnlab.faces.mlp import INIT_DESCRIPTIONS

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
    from cnnlab.faces.checkpoints import save_checkpoint
    from cnnlab.faces.mlp import MLP, MLPConfig, choose_units, input_stats, plot_weight_grid
    from cnnlab.core.plotting import plot_learning_curves

    sets = faces.splits
    shape = tuple(faces.train_x.shape[1:])
    if shape != (settings.channels, settings.image_size, settings.image_size):
        raise ConfigError(f"faces are {shape}, the MLP expects {(settings.channels, settings.image_size, settings.image_size)}")
    names = list(faces.class_names)
    info = faces.info
    config = {"mlp": asdict(settings), "train": asdict(train)}
    hit = cached_run(out_root, "mlp", config, info["hash"], train.seed, force)
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
    final = trainer.evaluate_splits(model, sets)  # best-by-val-loss weights are loaded
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
        **final,
        **result.summary_fields(),
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
