"""The learning-rate range test (Smith 2015, "Cyclical learning rates"; fastai's `lr_find`, Lightning's
`Tuner.lr_find`): train for a few batches while the LR grows exponentially, record the loss, suggest an LR.

The LR schedule is a pure function (`lr_at`). The test is a `RangeTest` callback on the one `Trainer`
(per-batch hook `on_batch_end`): it records each batch's training loss, sets the next LR, and ends the
fit (by raising `RangeTestDone`) after `steps` batches or when the smoothed loss exceeds `diverge` x its
minimum. Suggestions are computed from the smoothed loss, never applied: a spike early in the curve can
fool any rule, which is why the curve (raw and smoothed) is always written beside the numbers.

Rules (`suggest`):
  steepest   the LR where the smoothed loss falls fastest per decade of LR (most negative
             d loss / d log10 lr), before the smoothed loss's minimum, skipping the first points
             (Lightning skips 10 of 100); the one suggested
  minimum/10 the LR of the smoothed loss's minimum divided by 10 (fastai's valley-free rule of thumb)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnlab.core.errors import ConfigError
from cnnlab.core.runtime import DEFAULT_DEVICE
from cnnlab.core.train.callbacks import Callback, FitState
from cnnlab.core.train.config import EarlyStoppingConfig, SchedulerConfig, TrainConfig

__all__ = [
    "RangeTest",
    "RangeTestDone",
    "LRFindResult",
    "lr_at",
    "smooth",
    "suggest",
    "check_range",
    "find_lr",
    "plot_lr_find",
    "write_lr_find",
    "format_lr_find",
    "SMOOTH_BETA",
    "DIVERGE",
]

log = logging.getLogger(__name__)

SMOOTH_BETA = 0.98  # exponential smoothing of the loss (fastai's and Lightning's)
DIVERGE = 4.0  # stop when the smoothed loss exceeds this many times its minimum
STEEPEST_RULE = (
    f"steepest descent of the exponentially smoothed loss (beta {SMOOTH_BETA:g}) per decade of LR, before its minimum"
)
MIN_RULE = "the LR of the smoothed loss's minimum, divided by 10"


def lr_at(step: int, start: float, end: float, steps: int) -> float:
    """The LR of batch `step` (from 0): exponential from `start` (step 0) to `end` (step steps - 1)."""
    return start * (end / start) ** (step / max(steps - 1, 1))


def smooth(losses: Sequence[float], beta: float = SMOOTH_BETA) -> list[float]:
    """Bias-corrected exponential moving average of `losses` (the first value is the first loss)."""
    out, avg = [], 0.0
    for i, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * float(loss)
        out.append(avg / (1 - beta ** (i + 1)))
    return out


class RangeTestDone(Exception):
    """Raised by RangeTest to end the fit (the range is covered or the loss diverged)."""


class RangeTest(Callback):
    """Sets the LR of every batch by `lr_at` (param groups keep their LR ratios) and records the losses."""

    def __init__(
        self, start: float, end: float, steps: int, beta: float = SMOOTH_BETA, diverge: float = DIVERGE
    ) -> None:
        self.start, self.end, self.steps, self.beta, self.diverge = start, end, steps, beta, diverge
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.stop_reason = ""
        self._ratios: list[float] = []

    def _set_lr(self, state: FitState, lr: float) -> None:
        for group, ratio in zip(state.optimizer.param_groups, self._ratios):
            group["lr"] = lr * ratio

    def on_fit_start(self, state: FitState) -> None:
        base = [float(g["lr"]) for g in state.optimizer.param_groups]
        self._ratios = [b / base[0] for b in base]
        self._set_lr(state, lr_at(0, self.start, self.end, self.steps))

    def on_batch_end(self, state: FitState, loss: torch.Tensor) -> None:
        i = len(self.lrs)
        self.lrs.append(lr_at(i, self.start, self.end, self.steps))
        self.losses.append(float(loss))
        self.smoothed = smooth(self.losses, self.beta)
        value = self.smoothed[-1]
        if not math.isfinite(value) or value > self.diverge * min(self.smoothed):
            self.stop_reason = f"stopped after {i + 1} steps: smoothed loss above {self.diverge:g}x its minimum"
            raise RangeTestDone(self.stop_reason)
        if i + 1 >= self.steps:
            self.stop_reason = f"all {self.steps} steps run"
            raise RangeTestDone(self.stop_reason)
        self._set_lr(state, lr_at(i + 1, self.start, self.end, self.steps))


@dataclass
class LRFindResult:
    """The recorded curve and the suggestions (see the module docstring)."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    start: float
    end: float
    steps: int
    stop_reason: str
    suggestion: float  # the suggested LR (never applied)
    rule: str  # the rule that chose it
    min_lr: float  # the LR at the smoothed loss's minimum
    min_tenth: float  # min_lr / 10
    steepest_index: int | None  # index of the suggestion in lrs (None when the steepest rule had too few points)
    meta: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[dict[str, float]]:
        return [
            {"step": i, "lr": lr, "loss": loss, "smoothed_loss": s}
            for i, (lr, loss, s) in enumerate(zip(self.lrs, self.losses, self.smoothed))
        ]


def suggest(lrs: Sequence[float], smoothed: Sequence[float], skip_begin: int | None = None) -> tuple[int | None, int]:
    """(index of the steepest descent before the minimum, or None if fewer than 2 points are left; index of the minimum).

    The slope is np.gradient of the smoothed loss against log10(lr); the first `skip_begin` points
    (default: min(10, n // 10)) are skipped, as Lightning does, because the smoothing has not settled there.
    """
    loss = np.asarray(smoothed, float)
    n = len(loss)
    if n == 0:
        raise ValueError("no recorded steps")
    i_min = int(np.nanargmin(loss))
    skip = min(10, n // 10) if skip_begin is None else skip_begin
    if i_min - skip < 2:
        return None, i_min
    slope = np.gradient(loss, np.log10(np.asarray(lrs, float)))  # (n,) d loss / d log10 lr
    return skip + int(np.argmin(slope[skip:i_min])), i_min


def check_range(start: float, end: float, steps: int) -> None:
    """ConfigError unless 0 < start < end (finite) and steps >= 5."""
    if not (math.isfinite(start) and math.isfinite(end) and 0 < start < end):
        raise ConfigError(f"lr-find needs 0 < --start < --end, got {start:g} and {end:g}")
    if steps < 5:
        raise ConfigError(f"lr-find needs at least 5 steps, got {steps}")


def find_lr(
    config: TrainConfig,
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    *,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
    augment: Callable | None = None,
    device: str | torch.device = DEFAULT_DEVICE,
    callbacks: Sequence[Callback] = (),
    param_groups: list[dict] | None = None,
) -> LRFindResult:
    """Run the range test on `model` (changed in place: pass a fresh one) through the one Trainer.

    The training settings are `config`'s (optimizer, batch size, seed, augmentation) except: the LR
    follows `lr_at`, no LR scheduler, no early stopping, and as many epochs as `steps` batches need.
    `param_groups` (as for Trainer.fit): the LR swept is the first group's, the others keep their ratio to it.
    """
    check_range(start, end, steps)
    from cnnlab.core.train.trainer import Trainer

    per_epoch = math.ceil(len(train[1]) / config.batch_size)
    run_config = replace(
        config,
        epochs=math.ceil(steps / max(per_epoch, 1)),
        scheduler=SchedulerConfig(),
        optimizer=replace(config.optimizer, lr=start),
        early_stopping=EarlyStoppingConfig(patience=None, monitor=config.early_stopping.monitor),
    )
    test = RangeTest(start, end, steps)
    try:
        Trainer(run_config, device=device).fit(
            model, train, val, augment=augment, callbacks=[test, *callbacks], param_groups=param_groups
        )
    except RangeTestDone:
        pass
    if not test.lrs:
        raise ConfigError("lr-find recorded no training step")
    i_steep, i_min = suggest(test.lrs, test.smoothed)
    min_lr = test.lrs[i_min]
    if i_steep is not None:
        suggestion, rule = test.lrs[i_steep], STEEPEST_RULE
    else:  # the loss never fell for long enough: fall back to the minimum rule, kept inside the range
        suggestion, rule = (
            max(min_lr / 10, start),
            MIN_RULE + " (too few points before the minimum for the steepest rule)",
        )
    return LRFindResult(
        test.lrs,
        test.losses,
        test.smoothed,
        start,
        end,
        steps,
        test.stop_reason,
        suggestion,
        rule,
        min_lr,
        min_lr / 10,
        i_steep,
    )


def plot_lr_find(result: LRFindResult, path: str | Path, title: str = "") -> Path:
    """Loss against LR on a log axis: raw (thin) and smoothed (thick), the suggestion and minimum/10 marked."""
    from cnnlab.core.plotting import mpl_text, pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(result.lrs, result.losses, color="0.6", lw=0.8, label="training loss (per batch)")
    ax.plot(result.lrs, result.smoothed, color="C0", lw=1.8, label=f"smoothed (beta {SMOOTH_BETA:g})")
    y = np.interp(np.log10(result.suggestion), np.log10(result.lrs), result.smoothed)
    ax.plot(
        [result.suggestion],
        [y],
        "o",
        color="C3",
        ms=7,
        label=f"suggested {result.suggestion:.2g} (steepest)"
        if result.steepest_index is not None
        else f"suggested {result.suggestion:.2g} (minimum/10)",
    )
    ax.axvline(result.min_tenth, color="C2", ls="--", lw=1, label=f"minimum/10 = {result.min_tenth:.2g}")
    ax.set_xscale("log")
    finite = [v for v in result.smoothed + result.losses if math.isfinite(v)]
    if finite:  # keep the spikes and the diverged tail from flattening the interesting part
        lo, top = (
            min(finite),
            max(result.smoothed[0], min(result.smoothed)) if math.isfinite(result.smoothed[0]) else max(finite),
        )
        top = max(top, lo + 1e-3)
        ax.set_ylim(lo - 0.05 * (top - lo), top + 0.5 * (top - lo))
    ax.set(xlabel="learning rate (log scale)", ylabel="training loss (cross-entropy)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(mpl_text(title or f"LR range test: {len(result.lrs)} steps, {result.stop_reason}"), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def write_lr_find(result: LRFindResult, folder: str | Path, title: str = "") -> list[Path]:
    """lr_find.csv (step, lr, loss, smoothed loss), lr_find.png and lr_find.json (suggestions, settings, meta)."""
    from cnnlab.core.io import atomic_write_json, write_csv

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(folder / "lr_find.csv", result.rows(), ["step", "lr", "loss", "smoothed_loss"])
    png = plot_lr_find(result, folder / "lr_find.png", title)
    info = {k: v for k, v in asdict(result).items() if k not in ("lrs", "losses", "smoothed")}
    atomic_write_json(
        folder / "lr_find.json", {**info, "recorded_steps": len(result.lrs), "beta": SMOOTH_BETA, "diverge": DIVERGE}
    )
    return [csv_path, png, folder / "lr_find.json"]


def format_lr_find(result: LRFindResult, configured_lr: float | None = None) -> str:
    """The lines `cnnlab lr-find` prints."""
    lines = [
        f"LR range test: {len(result.lrs)} steps from {result.start:g} to {result.end:g} ({result.stop_reason})",
        f"suggested lr: {result.suggestion:.3g}  ({result.rule})",
        f"minimum/10:   {result.min_tenth:.3g}  (smoothed loss lowest at lr {result.min_lr:.3g})",
    ]
    if configured_lr is not None:
        lines.append(
            f"configured lr: {configured_lr:g} (train.optimizer.lr; not changed: use --set train.optimizer.lr=... to try one)"
        )
    return "\n".join(lines)
