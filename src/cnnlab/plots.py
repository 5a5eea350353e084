"""Plots shared by every run kind (matplotlib, imported lazily with the Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from cnnlab.io import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_learning_curves(history: Sequence[dict], path: str | Path, title: str = "", sets: Sequence[str] | None = None) -> Path:
    """Loss and accuracy per epoch for each recorded set (train, val, and any monitor sets)."""
    plt = _pyplot()
    if sets is None:
        sets = [k[: -len("_acc")] for k in history[0] if k.endswith("_acc")] if history else []
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4))
    for name in sets:
        ax_loss.plot(epochs, [row[f"{name}_loss"] for row in history], label=name)
        ax_acc.plot(epochs, [row[f"{name}_acc"] for row in history], label=name)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
