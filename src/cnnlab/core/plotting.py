"""The one matplotlib set-up: a backend that needs no display, figures saved atomically, learning curves.

matplotlib is imported lazily (inside `pyplot()`), so importing this module costs nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cnnlab.core.errors import CnnlabError, first_line
from cnnlab.core.io import atomic_path

log = logging.getLogger(__name__)

# Small fonts sized for a 5.5in text block: the report's figures print at their nominal size.
REPORT_STYLE: Mapping[str, Any] = {
    "font.size": 7,
    "axes.titlesize": 7,
    "axes.labelsize": 7,
    "xtick.labelsize": 6,
    "ytick.labelsize": 6,
    "legend.fontsize": 6,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.0,
    "pdf.fonttype": 42,
    "savefig.dpi": 200,
    "axes.spines.top": False,
    "axes.spines.right": False,
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


def check_figure_path(path: str | Path) -> Path:
    """`path` as a Path, after checking it can take a figure: one-line CnnlabErrors for a name
    without an image suffix, an existing directory, and a folder that is not one or is not writable.
    Call it before expensive work whose result is a figure."""
    path = Path(path)
    figure_format(path)
    if path.is_dir():
        raise CnnlabError(
            f"{path} is a directory: give a file name for the figure, e.g. {path / ('figure' + path.suffix)}"
        )
    folder = path.parent
    while not folder.exists() and folder != folder.parent:  # the folder that would be created in
        folder = folder.parent
    if not folder.is_dir():
        raise CnnlabError(f"cannot write {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CnnlabError(f"cannot write {path}: the folder {folder} is not writable")
    return path


def save_figure(fig: Any, path: str | Path, dpi: int = 130, **savefig_kwargs: Any) -> Path:
    """Save `fig` atomically (the format passed explicitly, from the suffix) and close it.

    A path that cannot be written is a one-line CnnlabError (see `check_figure_path`)."""
    try:
        path = check_figure_path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=figure_format(path), **savefig_kwargs)
    except OSError as exc:
        raise CnnlabError(f"cannot write {path}: {exc.strerror or first_line(exc)}") from None
    finally:
        pyplot().close(fig)
    return path


def draw_safely(draw: Callable[[], Any], what: str) -> bool:
    """Run `draw()`; a failure is one warning line, never an exception: a run folder must never be
    lost over a figure. Returns whether the figure was drawn."""
    try:
        draw()
    except Exception as exc:  # noqa: BLE001 - any plotting failure (fonts, odd text, a full disk)
        log.warning("could not draw %s: %s", what, first_line(exc, 160, with_type=True))
        return False
    return True


def safe_text(text: object) -> str:
    """`text` as printable Unicode: bytes a file name could not decode (surrogate escapes, as
    os.fsdecode makes them from a non-UTF-8 path) become U+FFFD instead of breaking encoders."""
    s = str(text)
    try:
        raw = s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that are no escaped bytes
        raw = s.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def mpl_text(text: object) -> str:
    """Data text safe for matplotlib: a '$' would start mathtext, and undecodable bytes of a file name
    (surrogates) would make its font code raise."""
    return safe_text(text).replace("$", r"\$")


def plot_learning_curves(
    history: Sequence[dict], path: str | Path, title: str = "", sets: Sequence[str] | None = None
) -> Path:
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
