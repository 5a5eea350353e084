"""Suite figures: accuracy per variant, and mean learning curves over seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from cnnlab.core.plotting import pyplot, save_figure


def plot_variant_bars(rows: list[dict], path: Path, title: str, baseline_label: str | None = None) -> Path:
    """Train and validation accuracy per variant with ±1 std error bars, grouped."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(rows) + 2), 3.4))
    xs = range(len(rows))
    width = 0.38
    ax.bar([x - width / 2 for x in xs], [r["train_acc_mean"] for r in rows], width, yerr=[r["train_acc_std"] for r in rows], label="train", color="#9ecae1", capsize=2)
    ax.bar([x + width / 2 for x in xs], [r["val_acc_mean"] for r in rows], width, yerr=[r["val_acc_std"] for r in rows], label="validation", color="#3182bd", capsize=2)
    if baseline_label:
        base = next((r for r in rows if r["variant"] == baseline_label), None)
        if base:
            ax.axhline(base["val_acc_mean"], color="k", lw=0.8, ls="--", label=f"{baseline_label} val")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([r["variant"] for r in rows], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, frameon=False, ncol=3)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_mean_curves(run_paths: Sequence[str], path: Path, title: str) -> Path:
    """Train and validation accuracy per epoch, mean ± std over seeds (the 1.2 overfitting gap)."""
    import numpy as np

    from cnnlab.core.runs import load_history

    plt = pyplot()
    histories = [load_history(p) for p in run_paths]
    n_epochs = min(len(h) for h in histories)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    epochs = np.arange(1, n_epochs + 1)
    for key, label, color in (("train_acc", "train", "#9ecae1"), ("val_acc", "validation", "#3182bd")):
        values = np.array([[row[key] for row in h[:n_epochs]] for h in histories])
        mean, std = values.mean(0), values.std(0)
        ax.plot(epochs, mean, label=label, color=color)
        ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.25)
    ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02))
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


