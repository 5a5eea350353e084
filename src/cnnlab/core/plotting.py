"""The one matplotlib set-up: a backend that needs no display, figures saved atomically, learning curves.

matplotlib is imported lazily (inside `pyplot()`), so importing this module costs nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

from cnnlab.core.errors import CnnlabError
from cnnlab.core.io import atomic_path

# Small fonts sized for a 5.5in text block: the report's figures print at their nominal size.
REPORT_STYLE: Mapping[str, Any] = {
    "font.size": 7, "axes.titlesize": 7, "axes.labelsize": 7, "xtick.labelsize": 6, "ytick.labelsize": 6,
    "legend.fontsize": 6, "axes.linewidth": 0.6, "lines.linewidth": 1.0, "pdf.fonttype": 42, "savefig.dpi": 200,
    "axes.spines.top": False, "axes.spines.right": False,
}
FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")


_FILE_BACKENDS = ("agg", "pdf", "ps", "svg", "cairo", "pgf", "template")


def pyplot(style: Mapping[str, Any] | None = None):
    """matplotlib.pyplot on a backend that needs no display; `style` updates rcParams.

    A GUI backend (Tk, Qt, ...) is replaced by Agg; a file backend and a notebook's inline backend
    ("module://...") are kept, so that a notebook still shows its own plots after calling cnnlab
    (cnnlab's figures are closed once saved, so the notebook does not show them).
    """
    import matplotlib

    backend = matplotlib.get_backend()
    if not backend.startswith("module://") and backend.lower() not in _FILE_BACKENDS:
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting logs every table at INFO
    if style:
        plt.rcParams.update(style)
    return plt


def figure_format(path: str | Path) -> str:
    """The image format named by `path`'s suffix; a one-line CnnlabError for anything else."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise CnnlabError(f"{path}: the figure file name must end in one of .{', .'.join(FORMATS)}")
    return fmt


def save_figure(fig: Any, path: str | Path, dpi: int = 130, **savefig_kwargs: Any) -> Path:
    """Save `fig` atomically (the format passed explicitly, from the suffix) and close it."""
    path = Path(path)
    fmt = figure_format(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=fmt, **savefig_kwargs)
    finally:
        pyplot().close(fig)
    return path


def mpl_text(text: object) -> str:
    """Data text safe for matplotlib (a '$' would start mathtext)."""
    return str(text).replace("$", r"\$")


def plot_learning_curves(history: Sequence[dict], path: str | Path, title: str = "", sets: Sequence[str] | None = None) -> Path:
    """Loss and accuracy per epoch for each recorded set (train, val, and any monitor sets)."""
    plt = pyplot()
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
        fig.suptitle(mpl_text(title), fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
