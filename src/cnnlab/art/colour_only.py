"""Controls for "what does the network use?" (question 1.7): a classifier that sees colour and nothing else.

`colour_features` turns each painting into per-channel colour histograms plus each channel's mean and
standard deviation, over the painted pixels only: the mid-grey padding (exactly PAD_VALUE in all three
channels, which 8-bit images never are after scaling) is left out, so the features carry no shape or
aspect-ratio cue. `colour_only_run` fits scikit-learn's logistic regression on the training split of
one repeat (a RunConfig: data.fold and train.seed), chooses C on its validation split, evaluates the
test split once, and records it as a run folder of kind `colour-only` (cached by content like every run).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnlab.art.config import RunConfig
from cnnlab.art.data.folder import PAD_VALUE
from cnnlab.core.config import to_dict
from cnnlab.core.runs.cached import RunSpec, run_cached
from cnnlab.core.runs.folders import RunDir, RunResult
from cnnlab.core.runtime import DEFAULT_OUT

__all__ = ["RUN_KIND", "BINS", "C_GRID", "colour_features", "colour_only_run"]

log = logging.getLogger(__name__)

RUN_KIND = "colour-only"
BINS = 16  # histogram bins per channel over [-0.5, 0.5]
C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)  # inverse L2 strengths tried on validation


def colour_features(x: torch.Tensor, bins: int = BINS) -> np.ndarray:
    """(N, 3 * bins + 6): per channel, the share of painted pixels in each of `bins` equal bins over
    [-0.5, 0.5], then each channel's mean and standard deviation; images x (N, 3, H, W) in [-0.5, 0.5]."""
    x = x.detach().float().cpu()
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)  # (N, 3, P)
    painted = (flat != PAD_VALUE).any(1)  # (N, P): padding is PAD_VALUE in every channel
    weight = painted.float()
    count = weight.sum(1).clamp_min(1.0)  # (N,)
    idx = ((flat + 0.5) * bins).long().clamp(0, bins - 1)  # (N, 3, P) bin of each value
    hist = torch.zeros(n, c, bins).scatter_add_(2, idx, weight[:, None, :].expand(-1, c, -1)) / count[:, None, None]
    mean = (flat * weight[:, None]).sum(2) / count[:, None]  # (N, 3)
    std = ((((flat - mean[..., None]) ** 2) * weight[:, None]).sum(2) / count[:, None]).sqrt()
    return torch.cat([hist.reshape(n, -1), mean, std], 1).numpy().astype(np.float64)


def _fit(c: float, xs: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # lbfgs on a convex problem: deterministic, no random state involved.
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000)).fit(xs, y)


def colour_only_run(
    config: RunConfig,
    out_root: str | Path = DEFAULT_OUT,
    *,
    data: Any = None,
    force: bool = False,
    c_grid: Sequence[float] = C_GRID,
    bins: int = BINS,
) -> RunResult:
    """The colour-only classifier on the repeat of `config` (its data split: data.fold; seed: train.seed),
    written to <out>/colour-only-<hash>/ (summary: train/val/test accuracy, the chosen C, the validation
    accuracy of every C, the test confusion matrix); reused when it exists unless `force`."""
    from cnnlab.art.run import prepare_data

    data = data or prepare_data(config)
    info = data.info
    seed = config.train.seed
    identity = {
        "data": to_dict(config.data),
        "features": {"bins": bins, "moments": ["mean", "std"], "padding": "excluded"},
        "classifier": {
            "name": "logistic-regression",
            "scaler": "standard",
            "C_grid": list(c_grid),
            "chosen_on": "val_acc",
        },
    }
    t0 = time.perf_counter()

    def fit() -> dict:
        feats = {k: colour_features(x, bins) for k, (x, _) in data.splits.items()}
        labels = {k: y.numpy() for k, (_, y) in data.splits.items()}
        # C: the highest validation accuracy; ties go to the smaller C (the stronger regularisation).
        val_acc = {}
        for c in c_grid:
            val_acc[c] = float((_fit(c, feats["train"], labels["train"]).predict(feats["val"]) == labels["val"]).mean())
        chosen = max(c_grid, key=lambda c: (val_acc[c], -c))
        model = _fit(chosen, feats["train"], labels["train"])
        acc = {k: float((model.predict(feats[k]) == labels[k]).mean()) for k in feats}
        from sklearn.metrics import confusion_matrix

        k = len(data.dataset.class_names)
        log.info(
            "colour-only repeat (fold %s, seed %d): test accuracy %.3f with C=%g",
            getattr(config.data, "fold", "-"),
            seed,
            acc["test"],
            chosen,
        )
        return {
            "data_name": info["name"],
            "synthetic_data": info["synthetic"],
            "model": "colour histograms + logistic regression",
            "features": int(feats["train"].shape[1]),
            "C": chosen,
            "val_acc_by_C": {f"{c:g}": v for c, v in val_acc.items()},
            **{f"{s}_acc": v for s, v in acc.items()},
            "confusion_test": confusion_matrix(
                labels["test"], model.predict(feats["test"]), labels=np.arange(k)
            ).tolist(),
            "train_seconds": round(time.perf_counter() - t0, 3),
            "epochs_run": 0,
        }

    def write(run: RunDir, summary: dict) -> dict:
        # A finished run like every kind: metrics.jsonl is there (empty: a closed-form fit has no epochs), so
        # the run cache (`run_problem`) reuses it instead of judging it damaged and fitting it again.
        run.write_history([])
        return summary

    return run_cached(RunSpec(out_root, RUN_KIND, identity, info, seed, force=force), fit, write)
