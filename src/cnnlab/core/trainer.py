"""The one Trainer: every experiment (Part 1 suites, sweeps, MLP, AlexNet heads) trains through it.

Data are preloaded tensors: with a few hundred 50x50 images a DataLoader with worker processes costs
more than the training itself, so batches are index slices of one tensor, shuffled by an explicit
`torch.Generator`. Loss is cross-entropy on logits; evaluation runs under `torch.inference_mode`.
"""

from __future__ import annotations

import logging
import math
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import torch
from torch import nn
from torch.nn import functional as F

from cnnlab.core.device import resolve_device
from cnnlab.core.train_config import EarlyStoppingConfig, OptimizerConfig, SchedulerConfig, TrainConfig

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
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov, weight_decay=config.weight_decay)
    if config.name == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.name == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    raise AssertionError(config.name)  # validated in OptimizerConfig


def create_scheduler(optimizer: torch.optim.Optimizer, config: SchedulerConfig, epochs: int, steps_per_epoch: int):
    """The configured LR scheduler, or None. `onecycle` steps per batch; the others per epoch."""
    if config.name == "none":
        return None
    if config.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    if config.name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.t_max or epochs, eta_min=config.eta_min)
    if config.name == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.gamma)
    if config.name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=config.factor, patience=config.patience)
    if config.name == "onecycle":
        max_lrs = [config.max_lr or 10 * g["lr"] for g in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lrs, epochs=epochs, steps_per_epoch=steps_per_epoch)
    raise AssertionError(config.name)


@dataclass
class FitResult:
    """What `Trainer.fit` returns. The model holds `best_state` when fit returns."""

    history: list[dict]
    best_epoch: int
    best_state: dict[str, torch.Tensor]
    final_state: dict[str, torch.Tensor]
    stopped_early: bool
    seconds: float
    selected_by: str = "val_loss"  # the early-stopping monitor that chose best_epoch
    extra: dict = field(default_factory=dict)

    @property
    def best(self) -> dict:
        return self.history[self.best_epoch - 1]

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
        }


def _state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    # A real copy: the starter kept a reference to the live model as its "best model".
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class Trainer:
    """Trains a classifier with cross-entropy on logits, per `TrainConfig`.

    Example:
        result = Trainer(TrainConfig(epochs=10)).fit(model, train=(x, y), val=(xv, yv))
    """

    def __init__(self, config: TrainConfig | None = None, device: str | torch.device = "cpu", progress: bool = False) -> None:
        self.config = config or TrainConfig()
        self.device = resolve_device(device)
        self.progress = progress

    # ------------------------------------------------------------------ evaluation
    @torch.inference_mode()
    def evaluate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> tuple[float, float]:
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
        on_epoch: Callable[[dict], None] | None = None,
    ) -> FitResult:
        """Train `model`; returns per-epoch history and restores the best weights (by the monitor).

        `monitor` sets (e.g. {"test": ...}) are evaluated and recorded each epoch, never used for
        any decision. `augment(x, generator)` transforms each training batch. `on_epoch(row)` is
        called after each epoch (pruning hooks may raise to stop). Parameters with
        requires_grad=False are not optimised.
        """
        cfg = self.config
        seed_everything(cfg.seed)
        shuffle_gen = torch.Generator().manual_seed(cfg.seed)
        augment_gen = torch.Generator().manual_seed(cfg.seed + 1)
        model.to(self.device)
        x_train, y_train = train
        x_val, y_val = val
        n = len(x_train)
        if n == 0 or len(x_val) == 0:
            from cnnlab.core.errors import DataError

            raise DataError("training and validation sets must not be empty")
        steps_per_epoch = math.ceil(n / cfg.batch_size)
        params = param_groups if param_groups is not None else [p for p in model.parameters() if p.requires_grad]
        optimizer = create_optimizer(params, cfg.optimizer)
        scheduler = create_scheduler(optimizer, cfg.scheduler, cfg.epochs, steps_per_epoch)
        per_batch_schedule = cfg.scheduler.name == "onecycle"
        stop_cfg = cfg.early_stopping
        sign = 1.0 if stop_cfg.monitor == "val_loss" else -1.0  # minimise sign * metric
        best_score, best_epoch, best_state = math.inf, 0, _state_copy(model)
        epochs_since_best, stopped_early = 0, False
        history: list[dict] = []
        x_train_dev, y_train_dev = x_train.to(self.device), y_train.to(self.device)
        bar = _progress_bar(cfg.epochs, enabled=self.progress)
        t_start = time.perf_counter()
        for epoch in range(1, cfg.epochs + 1):
            t0 = time.perf_counter()
            model.train()
            lr = optimizer.param_groups[0]["lr"]
            order = torch.randperm(n, generator=shuffle_gen).to(self.device)
            loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
            correct = torch.zeros((), dtype=torch.int64, device=self.device)
            for start in range(0, n, cfg.batch_size):
                idx = order[start : start + cfg.batch_size]
                xb, yb = x_train_dev[idx], y_train_dev[idx]  # (B, C, H, W), (B,)
                if augment is not None:
                    xb = augment(xb, augment_gen)
                logits = model(xb)
                loss = F.cross_entropy(logits, yb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if per_batch_schedule:
                    scheduler.step()
                # Running sums without .item() per batch: no host sync inside the loop.
                loss_sum += loss.detach().double() * len(idx)
                correct += (logits.detach().argmax(1) == yb).sum()
            val_loss, val_acc = self.evaluate(model, x_val, y_val)
            row = {
                "epoch": epoch,
                "train_loss": float(loss_sum) / n,
                "train_acc": int(correct) / n,
                "val_loss": val_loss,
                "val_acc": val_acc,
                "lr": lr,
            }
            for name, (xm, ym) in (monitor or {}).items():
                row[f"{name}_loss"], row[f"{name}_acc"] = self.evaluate(model, xm, ym)
            if scheduler is not None and not per_batch_schedule:
                scheduler.step(val_loss) if cfg.scheduler.name == "plateau" else scheduler.step()
            score = sign * row[stop_cfg.monitor]
            if score < best_score - stop_cfg.min_delta:
                best_score, best_epoch, best_state = score, epoch, _state_copy(model)
                epochs_since_best = 0
            else:
                epochs_since_best += 1
            row["seconds"] = time.perf_counter() - t0
            history.append(row)
            if bar is not None:
                bar.set_postfix(train_acc=f"{row['train_acc']:.3f}", val_acc=f"{val_acc:.3f}")
                bar.update(1)
            log.debug("epoch %d: %s", epoch, row)
            if on_epoch is not None:
                on_epoch(row)
            if stop_cfg.patience is not None and epochs_since_best >= stop_cfg.patience:
                stopped_early = True
                log.info("early stopping at epoch %d (best epoch %d by %s)", epoch, best_epoch, stop_cfg.monitor)
                break
        if bar is not None:
            bar.close()
        final_state = _state_copy(model)
        model.load_state_dict(best_state)
        return FitResult(history, best_epoch, best_state, final_state, stopped_early, time.perf_counter() - t_start,
                         selected_by=stop_cfg.monitor)


def _progress_bar(total: int, enabled: bool):
    """A tqdm bar on an interactive terminal only."""
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="epoch", leave=False, dynamic_ncols=True)
