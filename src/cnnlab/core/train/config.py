"""Training configuration shared by Part 1 and Part 2: optimizer, LR schedule, early stopping, budget."""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnlab.core.config import check, check_number, check_seed
from cnnlab.core.errors import shorten

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}  # as text names them
WARMUP_START = 0.1  # a warm-up starts at this fraction of the configured LR
SCHEDULERS = ("none", "step", "cosine", "exponential", "plateau", "onecycle")
MONITORS = ("val_loss", "val_acc")
# How text names each monitor, and the epoch it keeps: one wording for the CLI, run summaries and the report.
MONITOR_NAMES = {"val_loss": "validation loss", "val_acc": "validation accuracy"}
MONITOR_BEST = {"val_loss": "lowest validation loss", "val_acc": "highest validation accuracy"}


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "adam"
    lr: float = 1e-4
    weight_decay: float = 0.0
    momentum: float = 0.9  # SGD and RMSprop
    nesterov: bool = False  # SGD

    def __post_init__(self) -> None:
        check(self.name in OPTIMIZERS, f"unknown optimizer {shorten(self.name)} (choose from: {', '.join(OPTIMIZERS)})")
        check_number(self.lr, "train.optimizer.lr", 0, low_open=True)
        check_number(self.weight_decay, "train.optimizer.weight_decay", 0)
        check_number(self.momentum, "train.optimizer.momentum", 0, 1, high_open=True)
        check(
            not self.nesterov or (self.name == "sgd" and self.momentum > 0),
            "nesterov needs the sgd optimizer with momentum > 0",
        )


@dataclass(frozen=True)
class SchedulerConfig:
    """LR schedule. Epoch-based except onecycle, which steps per batch."""

    name: str = "none"
    step_size: int = 15  # step
    gamma: float = 0.5  # step, exponential
    t_max: int | None = None  # cosine; None = number of epochs
    eta_min: float = 0.0  # cosine
    factor: float = 0.5  # plateau
    patience: int = 5  # plateau
    max_lr: float | None = None  # onecycle; None = 10 x optimizer lr
    warmup_epochs: int = 0  # linear warm-up from WARMUP_START x the LR over this many epochs, then the schedule

    def __post_init__(self) -> None:
        check(self.name in SCHEDULERS, f"unknown scheduler {shorten(self.name)} (choose from: {', '.join(SCHEDULERS)})")
        check_number(self.step_size, "train.scheduler.step_size", 1, integer=True)
        check_number(self.gamma, "train.scheduler.gamma", 0, 1, low_open=True)
        if self.t_max is not None:
            check_number(self.t_max, "train.scheduler.t_max", 1, integer=True)
        check_number(self.eta_min, "train.scheduler.eta_min", 0)  # a negative floor drove the LR below zero
        check_number(self.factor, "train.scheduler.factor", 0, 1, low_open=True, high_open=True)
        check_number(self.patience, "train.scheduler.patience", 0, integer=True)
        if self.max_lr is not None:
            check_number(self.max_lr, "train.scheduler.max_lr", 0, low_open=True)
        check_number(self.warmup_epochs, "train.scheduler.warmup_epochs", 0, integer=True)
        check(
            self.warmup_epochs == 0 or self.name not in ("plateau", "onecycle"),
            f"train.scheduler.warmup_epochs needs an epoch schedule; {self.name} has its own warm-up or none",
        )


@dataclass(frozen=True)
class EarlyStoppingConfig:
    """Stop after `patience` epochs without improvement of `monitor`; None disables stopping.

    The best weights (by `monitor`) are always tracked and restored at the end. The default monitor
    is validation accuracy, as the handout says ("stop after your validation accuracy starts to
    plateau or decrease"); val_loss stays an option. With val_acc, ties keep the earliest epoch.
    """

    patience: int | None = None
    monitor: str = "val_acc"
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        check(
            self.patience is None or (isinstance(self.patience, int) and self.patience >= 1),
            "train.early_stopping.patience must be >= 1 or null",
        )
        check(
            self.monitor in MONITORS,
            f"unknown early-stopping monitor {shorten(self.monitor)} (choose from: {', '.join(MONITORS)})",
        )
        check_number(self.min_delta, "train.early_stopping.min_delta", 0)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50
    batch_size: int = 16
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        check(
            isinstance(self.epochs, int) and self.epochs >= 1, f"epochs must be a positive integer, got {self.epochs}"
        )
        check(
            isinstance(self.batch_size, int) and self.batch_size >= 1,
            f"batch size must be a positive integer, got {self.batch_size}",
        )
        check_seed(self.seed, "train.seed")
