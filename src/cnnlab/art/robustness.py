"""Robustness of trained models to the handout's transformations (question 1.7)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Mapping, Sequence

import torch

from cnnlab.art.config import RunConfig

EVAL_SEED = 1234  # fixes the random parts of the transforms (translate directions) for evaluation


def evaluate_robustness(models: Mapping[str, Sequence[str]], config: RunConfig, severities: Mapping[str, Sequence[float]] | None = None) -> list[dict]:
    """Test accuracy of each run's reported model under every transform and severity.

    `models` maps a label to run folders (one per seed). Returns rows: model, transform, severity,
    acc_mean, acc_std, n, accs. Severity 0 of any transform is the clean test split ("original").
    """
    from cnnlab.art.run import load_run_model, prepare_data
    from cnnlab.core.trainer import Trainer
    from cnnlab.art.transforms import SEVERITIES, apply_transform

    severities = severities or SEVERITIES
    x_test, y_test = prepare_data(config).test  # (N, 3, H, W), (N,)
    trainer = Trainer()
    rows = []
    for label, paths in models.items():
        nets = [load_run_model(p) for p in paths]

        def accuracy(x: torch.Tensor) -> list[float]:
            return [trainer.evaluate(net, x, y_test)[1] for net in nets]

        clean = accuracy(x_test)
        rows.append(_row(label, "original", 0.0, clean))
        for name, levels in severities.items():
            for severity in levels:
                if severity == 0:
                    continue
                gen = torch.Generator().manual_seed(EVAL_SEED)
                rows.append(_row(label, name, float(severity), accuracy(apply_transform(name, x_test, float(severity), gen))))
    return rows


def _row(model: str, transform: str, severity: float, accs: list[float]) -> dict:
    return {
        "model": model,
        "transform": transform,
        "severity": severity,
        "acc_mean": statistics.fmean(accs),
        "acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
        "n": len(accs),
        "accs": accs,
    }


def plot_robustness(table: list[dict], folder: Path) -> None:
    """robustness_bars.png (strongest severity, both models) and robustness_curves.png."""
    from cnnlab.core.plotting import pyplot, save_figure

    plt = pyplot()
    models = list(dict.fromkeys(r["model"] for r in table))
    transforms = [t for t in dict.fromkeys(r["transform"] for r in table)]
    strongest = {t: max(r["severity"] for r in table if r["transform"] == t) for t in transforms}
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    width = 0.8 / len(models)
    colors = ["#3182bd", "#e6550d", "#31a354"]
    for i, m in enumerate(models):
        rows = [next(r for r in table if r["model"] == m and r["transform"] == t and r["severity"] == strongest[t]) for t in transforms]
        xs = [j + (i - (len(models) - 1) / 2) * width for j in range(len(transforms))]
        ax.bar(xs, [r["acc_mean"] for r in rows], width, yerr=[r["acc_std"] for r in rows], label=m, color=colors[i % 3], capsize=2)
    ax.set_xticks(range(len(transforms)))
    ax.set_xticklabels([t.replace("_", " ") for t in transforms], rotation=30, ha="right", fontsize=8)
    ax.set(ylabel="test accuracy", ylim=(0, 1.05))
    ax.set_title("Test accuracy under each transformation (strongest severity)", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, folder / "robustness_bars.png")

    graded = [t for t in transforms if t != "original" and len({r["severity"] for r in table if r["transform"] == t}) > 1]
    fig, axes = plt.subplots(1, max(1, len(graded)), figsize=(2.0 * max(1, len(graded)), 2.4), sharey=True, squeeze=False)
    for ax, t in zip(axes[0], graded):
        for i, m in enumerate(models):
            clean = next(r for r in table if r["model"] == m and r["transform"] == "original")
            rows = [clean] + sorted((r for r in table if r["model"] == m and r["transform"] == t), key=lambda r: r["severity"])
            sev = [0.0] + [r["severity"] for r in rows[1:]]
            mean = [r["acc_mean"] for r in rows]
            std = [r["acc_std"] for r in rows]
            ax.errorbar(sev, mean, yerr=std, label=m, color=colors[i % 3], marker="o", ms=3, capsize=2)
        ax.set_title(t.replace("_", " "), fontsize=8)
        ax.set_xlabel("severity", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy")
    axes[0][0].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    save_figure(fig, folder / "robustness_curves.png")
