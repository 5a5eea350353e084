"""Training configuration shared by Part 1 and Part 2: optimizer, LR schedule, early stopping, budget."""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnlab.core.config import check

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "cosine", "exponential", "plateau", "onecycle")
MONITORS = ("val_loss", "val_acc")


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "adam"
    lr: float = 1e-4
    weight_decay: float = 0.0
    momentum: float = 0.9  # SGD and RMSprop
    nesterov: bool = False  # SGD

    def __post_init__(self) -> None:
        check(self.name in OPTIMIZERS, f"unknown optimizer {self.name!r} (choose from: {', '.join(OPTIMIZERS)})")
        check(self.lr > 0, f"train.optimizer.lr must be positive, got {self.lr}")
        check(self.weight_decay >= 0, "train.optimizer.weight_decay must be >= 0")
        check(0 <= self.momentum < 1, "train.optimizer.momentum must be in [0, 1)")
        check(not self.nesterov or (self.name == "sgd" and self.momentum > 0), "nesterov needs the sgd optimizer with momentum > 0")


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

    def __post_init__(self) -> None:
        check(self.name in SCHEDULERS, f"unknown scheduler {self.name!r} (choose from: {', '.join(SCHEDULERS)})")
        check(self.step_size >= 1, "train.scheduler.step_size must be >= 1")
        check(0 < self.gamma <= 1, "train.scheduler.gamma must be in (0, 1]")
        check(self.t_max is None or self.t_max >= 1, "train.scheduler.t_max must be >= 1")
        check(0 < self.factor < 1, "train.scheduler.factor must be in (0, 1)")
        check(self.patience >= 0, "train.scheduler.patience must be >= 0")
        check(self.max_lr is None or self.max_lr > 0, "train.scheduler.max_lr must be positive")


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
        check(self.patience is None or self.patience >= 1, "train.early_stopping.patience must be >= 1 or null")
        check(self.monitor in MONITORS, f"unknown early-stopping monitor {self.monitor!r} (choose from: {', '.join(MONITORS)})")
        check(self.min_delta >= 0, "train.early_stopping.min_delta must be >= 0")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50
    batch_size: int = 16
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        check(isinstance(self.epochs, int) and self.epochs >= 1, f"epochs must be a positive integer, got {self.epochs}")
        check(isinstance(self.batch_size, int) and self.batch_size >= 1, f"batch size must be a positive integer, got {self.batch_size}")


