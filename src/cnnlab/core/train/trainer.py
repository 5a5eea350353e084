"""The one Trainer: every experiment (Part 1 suites, sweeps, MLP, AlexNet heads) trains through it.

Data are preloaded tensors: with a few hundred 50x50 images a DataLoader with worker processes costs
more than the training itself, so batches are index slices of one tensor, shuffled by an explicit
`torch.Generator`. Loss is cross-entropy on logits; evaluation runs under `torch.inference_mode`.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from cnnlab.core.device import configure_determinism, resolve_device
from cnnlab.core.errors import DataError
from cnnlab.core.runtime import DEFAULT_DEVICE
from cnnlab.core.train.callbacks import Callback, DivergenceGuard, EarlyStopping, FitState, ProgressBar, state_copy
from cnnlab.core.train.config import WARMUP_START, EarlyStoppingConfig, OptimizerConfig, SchedulerConfig, TrainConfig

__all__ = [
    "Trainer",
    "TrainConfig",
    "OptimizerConfig",
    "SchedulerConfig",
    "EarlyStoppingConfig",
    "FitResult",
    "seed_everything",
    "create_optimizer",
    "create_scheduler",
]

log = logging.getLogger(__name__)

Tensors = tuple[torch.Tensor, torch.Tensor]  # (x (N, ...), y (N,) int64)
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch global generators (model init, dropout)."""
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover
        pass


def create_optimizer(params: Iterable, config: OptimizerConfig) -> torch.optim.Optimizer:
    """SGD (momentum, nesterov), Adam, AdamW or RMSprop, each with weight decay."""
    if config.name == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov, weight_decay=config.weight_decay
        )
    if config.name == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.name == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    raise AssertionError(config.name)  # validated in OptimizerConfig


def create_scheduler(optimizer: torch.optim.Optimizer, config: SchedulerConfig, epochs: int, steps_per_epoch: int):
    """The configured LR scheduler, or None. `onecycle` steps per batch; the others per epoch. With
    warmup_epochs the LR first rises linearly from WARMUP_START x its value, then follows the schedule."""
    if config.warmup_epochs == 0:
        return _schedule(optimizer, config, epochs, steps_per_epoch)
    lr = torch.optim.lr_scheduler
    warmup = lr.LinearLR(optimizer, start_factor=WARMUP_START, end_factor=1.0, total_iters=config.warmup_epochs)
    after = _schedule(optimizer, config, max(epochs - config.warmup_epochs, 1), steps_per_epoch)
    if after is None:
        return warmup  # LinearLR holds the LR at its end value after total_iters
    return lr.SequentialLR(optimizer, [warmup, after], milestones=[config.warmup_epochs])


def _schedule(optimizer: torch.optim.Optimizer, config: SchedulerConfig, epochs: int, steps_per_epoch: int):
    if config.name == "none":
        return None
    if config.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    if config.name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=config.t_max or epochs, eta_min=config.eta_min
        )
    if config.name == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.gamma)
    if config.name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=config.factor, patience=config.patience
        )
    if config.name == "onecycle":
        max_lrs = [config.max_lr or 10 * g["lr"] for g in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=max_lrs, epochs=epochs, steps_per_epoch=steps_per_epoch
        )
    raise AssertionError(config.name)


@dataclass
class FitResult:
    """What `Trainer.fit` returns. The model holds `best_state` when fit returns."""

    history: list[dict]  # one row per epoch run (see Callback.on_epoch_end for the keys)
    best_epoch: int  # from 1, by the early-stopping monitor
    best_state: dict[str, torch.Tensor]
    final_state: dict[str, torch.Tensor]  # after the last epoch run
    stopped_early: bool  # a callback (early stopping or another) stopped training
    seconds: float
    selected_by: str = "val_acc"  # the early-stopping monitor that chose best_epoch
    extra: dict = field(default_factory=dict)
    torch_threads: int = 0  # intra-op threads it trained with: results are bitwise reproducible for a fixed count
    start: dict | None = None  # the row of the untrained starting point ("epoch 0"), when fit evaluated it

    @property
    def best(self) -> dict:
        return self.start if self.best_epoch == 0 and self.start is not None else self.history[self.best_epoch - 1]

    @property
    def curve(self) -> list[dict]:
        """The learning curve: the starting point's row (epoch 0), when evaluated, then one row per epoch."""
        return ([self.start] if self.start is not None else []) + self.history

    @property
    def final(self) -> dict:
        return self.history[-1]

    def summary_fields(self) -> dict:
        """What every run summary records about its training: epochs, the kept epoch and how it was chosen."""
        return {
            "best_epoch": self.best_epoch,
            "epochs_run": len(self.history),
            "stopped_early": self.stopped_early,
            "selected_by": self.selected_by,
            "train_seconds": round(self.seconds, 3),
            "torch_threads": self.torch_threads,
        }


class Trainer:
    """Trains a classifier with cross-entropy on logits, per `TrainConfig`.

    Example:
        result = Trainer(TrainConfig(epochs=10)).fit(model, train=(x, y), val=(xv, yv))
    """

    def __init__(
        self, config: TrainConfig | None = None, device: str | torch.device = DEFAULT_DEVICE, progress: bool = False
    ) -> None:
        self.config = config or TrainConfig()
        self.device = resolve_device(device)
        configure_determinism(self.device)  # CUDA: seeded runs repeat bitwise (no-op on the CPU)
        self.progress = progress

    # ------------------------------------------------------------------ evaluation
    @torch.inference_mode()
    def evaluate(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512
    ) -> tuple[float, float]:
        """Mean cross-entropy and accuracy of `model` on (x, y), in eval mode."""
        was_training = model.training
        model.eval()
        total_loss = torch.zeros((), dtype=torch.float64, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size].to(self.device, non_blocking=True)
            yb = y[i : i + batch_size].to(self.device, non_blocking=True)
            logits = model(xb)
            total_loss += F.cross_entropy(logits, yb, reduction="sum").double()
            correct += (logits.argmax(1) == yb).sum()
        model.train(was_training)
        n = max(len(x), 1)
        return float(total_loss) / n, int(correct) / n

    def _on_device(self, xy: Tensors) -> Tensors:
        return xy[0].to(self.device, non_blocking=True), xy[1].to(self.device, non_blocking=True)

    def evaluate_splits(self, model: nn.Module, splits: Mapping[str, Tensors]) -> dict[str, float]:
        """{"<split>_loss", "<split>_acc"} for every named split, e.g. {"train": (x, y), "val": ..., "test": ...}."""
        out: dict[str, float] = {}
        for name, (x, y) in splits.items():
            out[f"{name}_loss"], out[f"{name}_acc"] = self.evaluate(model, x, y)
        return out

    # ------------------------------------------------------------------ training
    def fit(
        self,
        model: nn.Module,
        train: Tensors,
        val: Tensors,
        monitor: Mapping[str, Tensors] | None = None,
        augment: Augment | None = None,
        param_groups: list[dict] | None = None,
        callbacks: Sequence[Callback] = (),
        evaluate_start: bool = False,
    ) -> FitResult:
        """Train `model`; returns per-epoch history and restores the best weights (by the monitor).

        `evaluate_start`: evaluate the model as given, before any training, as "epoch 0" (FitResult.start;
        its train metrics are in eval mode) and let it compete for the best epoch: a model that starts
        from a trained one (fine-tuning) then never ends worse on validation than it started. It draws
        no random numbers, so the epochs that follow are the same as without it.

        `monitor` sets (e.g. {"test": ...}) are evaluated and recorded each epoch, never used for
        any decision. `augment(x, generator)` transforms each training batch. `callbacks` run after
        the built-in early stopping (and progress bar) at every hook: they may read the model,
        optimizer and each epoch's row, call `state.request_stop(reason)`, or raise to abort (a pruned
        sweep trial). Parameters with requires_grad=False are not optimised.
        """
        cfg = self.config
        # RNG order: global seeds (dropout), then one generator for shuffling and one for augmentation.
        seed_everything(cfg.seed)
        shuffle_gen = torch.Generator().manual_seed(cfg.seed)
        augment_gen = torch.Generator().manual_seed(cfg.seed + 1)
        model.to(self.device)
        x_train, y_train = train
        if len(x_train) == 0 or len(val[0]) == 0:
            raise DataError("training and validation sets must not be empty")
        params = param_groups if param_groups is not None else [p for p in model.parameters() if p.requires_grad]
        optimizer = create_optimizer(params, cfg.optimizer)
        scheduler = create_scheduler(optimizer, cfg.scheduler, cfg.epochs, math.ceil(len(x_train) / cfg.batch_size))
        state = FitState(cfg, model, optimizer, scheduler)
        stopper = EarlyStopping(cfg.early_stopping)
        hooks: list[Callback] = [DivergenceGuard(), stopper, *([ProgressBar()] if self.progress else []), *callbacks]
        # Per-batch hooks only for callbacks that define one: nothing extra runs per batch otherwise.
        batch_hooks = [cb for cb in hooks if type(cb).on_batch_end is not Callback.on_batch_end]
        batches = _Batches(
            x_train.to(self.device), y_train.to(self.device), shuffle_gen, augment, augment_gen, batch_hooks
        )
        # Every set moves to the device once per fit, not once per batch and epoch.
        val = self._on_device(val)
        monitor = {name: self._on_device(xy) for name, xy in (monitor or {}).items()}
        t_start = time.perf_counter()
        for cb in hooks:
            cb.on_fit_start(state)
        start = None
        try:
            if evaluate_start:
                start = self._start_row(state, batches, val, monitor or {})
                stopper.consider(state, start)
            for epoch in range(1, cfg.epochs + 1):
                state.epoch = epoch
                row = self._epoch(state, batches, val, monitor or {})
                log.debug("epoch %d: %s", epoch, row)
                for cb in hooks:
                    cb.on_epoch_end(state, row)
                if state.should_stop:
                    log.info("stopping at epoch %d: %s", epoch, state.stop_reason)
                    break
        finally:
            for cb in hooks:
                cb.on_fit_end(state)
        final_state = state_copy(model)
        model.load_state_dict(stopper.best_state)
        return FitResult(
            state.history,
            stopper.best_epoch,
            stopper.best_state,
            final_state,
            state.should_stop,
            time.perf_counter() - t_start,
            selected_by=cfg.early_stopping.monitor,
            torch_threads=torch.get_num_threads(),
            start=start,
        )

    def _start_row(self, state: FitState, batches: _Batches, val: Tensors, monitor: Mapping[str, Tensors]) -> dict:
        """The history row of the model before training ("epoch 0"), every set evaluated in eval mode."""
        t0 = time.perf_counter()
        row: dict = {"epoch": 0}
        row["train_loss"], row["train_acc"] = self.evaluate(state.model, batches.x, batches.y)
        row["val_loss"], row["val_acc"] = self.evaluate(state.model, *val)
        row["lr"] = state.optimizer.param_groups[0]["lr"]
        for name, (xm, ym) in monitor.items():
            row[f"{name}_loss"], row[f"{name}_acc"] = self.evaluate(state.model, xm, ym)
        row["seconds"] = time.perf_counter() - t0
        log.debug("epoch 0 (start): %s", row)
        return row

    def _epoch(self, state: FitState, batches: _Batches, val: Tensors, monitor: Mapping[str, Tensors]) -> dict:
        """Train one epoch, evaluate, step an epoch-based LR schedule; returns the history row (also appended)."""
        t0 = time.perf_counter()
        lr = state.optimizer.param_groups[0]["lr"]  # the LR this epoch starts with
        train_loss, train_acc = self._train_epoch(state, batches)
        val_loss, val_acc = self.evaluate(state.model, *val)
        row = {
            "epoch": state.epoch,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": lr,
        }
        for name, (xm, ym) in monitor.items():
            row[f"{name}_loss"], row[f"{name}_acc"] = self.evaluate(state.model, xm, ym)
        scheduler = state.scheduler
        if scheduler is not None and not _per_batch(self.config):
            scheduler.step(val_loss) if self.config.scheduler.name == "plateau" else scheduler.step()
        row["seconds"] = time.perf_counter() - t0
        state.history.append(row)
        return row

    def _train_epoch(self, state: FitState, batches: _Batches) -> tuple[float, float]:
        """One pass over the training set in a fresh shuffled order; returns its mean loss and accuracy."""
        model, optimizer, batch_size = state.model, state.optimizer, self.config.batch_size
        batch_scheduler = state.scheduler if _per_batch(self.config) else None
        model.train()
        n = len(batches.x)
        order = torch.randperm(n, generator=batches.shuffle_gen).to(self.device)
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            xb, yb = batches.x[idx], batches.y[idx]  # (B, C, H, W), (B,)
            if batches.augment is not None:
                xb = batches.augment(xb, batches.augment_gen)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if batch_scheduler is not None:
                batch_scheduler.step()
            state.step += 1
            for cb in batches.hooks:
                cb.on_batch_end(state, loss.detach())
            # Running sums without .item() per batch: no host sync inside the loop.
            loss_sum += loss.detach().double() * len(idx)
            correct += (logits.detach().argmax(1) == yb).sum()
        return float(loss_sum) / n, int(correct) / n


@dataclass(frozen=True)
class _Batches:
    """The training set on the device, and the generators that shuffle and augment it."""

    x: torch.Tensor  # (N, C, H, W)
    y: torch.Tensor  # (N,) int64
    shuffle_gen: torch.Generator
    augment: Augment | None
    augment_gen: torch.Generator
    hooks: Sequence[Callback] = ()  # callbacks with an on_batch_end hook


def _per_batch(config: TrainConfig) -> bool:
    """Whether the LR schedule steps after every batch (onecycle) rather than every epoch."""
    return config.scheduler.name == "onecycle"
