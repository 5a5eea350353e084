"""Training callbacks: small objects `Trainer.fit` calls at the start, after each epoch and at the end.

In the spirit of Lightning's and fastai's callbacks, but only three training hooks (and a per-batch
`on_batch_end`, called only for callbacks that override it, e.g. the learning-rate range test), plus
`on_run_folder`, which the run writer (`cnnlab.core.runs.folders.create_run`) calls with the finished run folder
just before it is renamed into place, so a callback can add files to the run (TensorBoard's events). Every hook gets the one
`FitState` of the run, which holds the model, the optimizer, the scheduler, the config and the
history so far; `on_epoch_end` also gets the epoch's finished history row. A callback stops training
with `state.request_stop(reason)` (the trainer finishes the epoch's callbacks, then stops and restores
the best weights) or aborts it by raising (a pruned sweep trial). Callbacks must not draw from the
global random generators: runs stay bitwise reproducible whatever is attached.

Three callbacks are built in and always attached by the trainer: `DivergenceGuard` (first: a
non-finite loss ends training with a one-line `TrainingDiverged` error, so no NaN ever reaches a
summary), `EarlyStopping` (tracks the best epoch and its weights by the monitor, and stops after
`patience` epochs without improvement) and, when asked for, `ProgressBar`.
"""

from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.core.errors import CnnlabError
from cnnlab.core.train.config import EarlyStoppingConfig, TrainConfig

__all__ = ["Callback", "FitState", "DivergenceGuard", "EarlyStopping", "ProgressBar", "TrainingDiverged", "state_copy"]

log = logging.getLogger(__name__)


def state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of the model's weights (not references to the live tensors)."""
    # A real copy: the starter kept a reference to the live model as its "best model".
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@dataclass
class FitState:
    """What callbacks see of one `Trainer.fit` call; the trainer updates it in place."""

    config: TrainConfig
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any  # a torch LR scheduler, or None
    epoch: int = 0  # the epoch running or just finished, from 1
    step: int = 0  # optimizer steps taken so far (batches trained), over all epochs
    history: list[dict] = field(default_factory=list)  # one row per finished epoch
    should_stop: bool = False
    stop_reason: str = ""

    def request_stop(self, reason: str) -> None:
        """Stop training after this epoch; the first reason given is kept (and logged)."""
        if not self.should_stop:
            self.should_stop, self.stop_reason = True, reason


class Callback:
    """Base class of training callbacks: override the hooks you need (each does nothing here)."""

    def on_fit_start(self, state: FitState) -> None:
        """Called once the model is on its device and the optimizer exists, before the first epoch."""

    def on_epoch_end(self, state: FitState, row: dict) -> None:
        """Called after each epoch with its history row (already in state.history).

        `row` has epoch, train_loss, train_acc, val_loss, val_acc, lr (the epoch's starting LR),
        <monitor>_loss and <monitor>_acc for each monitor set, and seconds.
        """

    def on_batch_end(self, state: FitState, loss: torch.Tensor) -> None:
        """Called after each optimizer step (state.step counts them) with the batch's training loss, a detached
        0-d tensor computed before the step. Only callbacks that override this hook are called per batch;
        reading the loss (float(loss)) waits for the device."""

    def on_fit_end(self, state: FitState) -> None:
        """Called once when training ends, also when a callback or the training raised (close files here)."""

    def on_run_folder(self, folder: Path) -> None:
        """Called by `cnnlab.core.runs.folders.create_run` with the complete temporary run folder (config.json,
        metrics, figures, summary.json written), just before it is renamed into place: files written
        into `folder` here end up in the run folder. Not called for cached runs (nothing was trained)."""


class TrainingDiverged(CnnlabError):
    """The loss became NaN or infinite: the run is abandoned (no run folder), reported in one line."""


class DivergenceGuard(Callback):
    """Raises `TrainingDiverged` after an epoch whose training or validation loss is not finite.

    Checked once per epoch on the history row (no per-batch host sync). Raising rather than
    requesting a stop: diverged weights are no result, and a stop would still write a run.
    """

    def on_epoch_end(self, state: FitState, row: dict) -> None:
        for key in ("train_loss", "val_loss"):
            if not math.isfinite(row[key]):
                opt = state.config.optimizer
                raise TrainingDiverged(
                    f"training diverged: the {key.replace('_', ' ')} became {row[key]} at epoch {row['epoch']} "
                    f"({opt.name}, lr {opt.lr:g}); lower train.optimizer.lr (or train.scheduler.max_lr)"
                )


class EarlyStopping(Callback):
    """Tracks the best epoch and its weights by `config.monitor`; stops after `patience` epochs without improvement.

    An epoch improves on the best one when its score beats it by more than `min_delta` (val_loss is
    minimised, val_acc maximised). With patience None it never stops but still keeps the best weights.
    """

    def __init__(self, config: EarlyStoppingConfig) -> None:
        self.config = config
        self.sign = 1.0 if config.monitor == "val_loss" else -1.0  # minimise sign * metric
        self.best_score = math.inf
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] = {}
        self.epochs_since_best = 0

    def on_fit_start(self, state: FitState) -> None:
        self.best_score, self.best_epoch, self.best_state = math.inf, 0, state_copy(state.model)
        self.epochs_since_best = 0

    def consider(self, state: FitState, row: dict) -> bool:
        """Make `row` (an epoch's, or the starting point's with epoch 0) and the model's current weights
        the best if its score improves on the best so far; returns whether it did."""
        cfg = self.config
        score = self.sign * row[cfg.monitor]
        if score < self.best_score - cfg.min_delta:
            self.best_score, self.best_epoch, self.best_state = score, row["epoch"], state_copy(state.model)
            self.epochs_since_best = 0
            return True
        self.epochs_since_best += 1
        return False

    def on_epoch_end(self, state: FitState, row: dict) -> None:
        cfg = self.config
        self.consider(state, row)
        if cfg.patience is not None and self.epochs_since_best >= cfg.patience:
            state.request_stop(
                f"early stopping: no {cfg.monitor} improvement for {cfg.patience} epochs "
                f"(best epoch {self.best_epoch} by {cfg.monitor})"
            )


class ProgressBar(Callback):
    """A tqdm bar over epochs with the latest accuracies, on an interactive terminal only."""

    def __init__(self) -> None:
        self.bar: Any = None

    def on_fit_start(self, state: FitState) -> None:
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=state.config.epochs, unit="epoch", leave=False, dynamic_ncols=True)

    def on_epoch_end(self, state: FitState, row: dict) -> None:
        if self.bar is not None:
            self.bar.set_postfix(train_acc=f"{row['train_acc']:.3f}", val_acc=f"{row['val_acc']:.3f}")
            self.bar.update(1)

    def on_fit_end(self, state: FitState) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
