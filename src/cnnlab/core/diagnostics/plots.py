"""The figures of `cnnlab inspect` (and of the report that uses them): a confusion matrix readable with 11
or 40 classes, an image gallery with true/predicted labels, and tile grids (filters, feature maps)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab.core.plotting import mpl_text, pyplot, save_figure

__all__ = ["plot_confusion", "plot_gallery", "plot_tiles", "mosaic", "item_title", "short_name"]

WRONG, RIGHT = "#c62828", "#2e7d32"  # frame colours of wrong and correct predictions


def annotate_counts(ax: Any, counts: np.ndarray, share: np.ndarray, fontsize: float) -> None:
    """Write each non-zero count of a (K, K) confusion matrix drawn with imshow into its cell, white on dark
    cells (share of the true class above 0.55), black elsewhere."""
    for i, j in zip(*np.nonzero(counts)):
        colour = "white" if share[i, j] > 0.55 else "black"
        ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=fontsize, color=colour)


def plot_confusion(
    cm: np.ndarray,
    class_names: Sequence[str],
    path: str | Path,
    title: str = "",
    style: Mapping[str, Any] | None = None,
    size: float | None = None,
) -> Path:
    """Confusion matrix (rows: true class, columns: predicted): colour = share of the true class (each row
    normalised), text = the count (zeros left blank). Font and figure sizes follow the number of classes;
    `size` (inches) draws a square figure of that side without a colour bar (the report's print size)."""
    plt = pyplot(style)
    k = len(class_names)
    counts = np.asarray(cm)
    rows = counts.sum(1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape, float), where=rows > 0)  # (K, K)
    side = size or float(np.clip(2.4 + 0.3 * k, 4.0, 13.0))
    fig, ax = plt.subplots(figsize=(side + 0.9, side) if size is None else (side, side))
    im = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    # Fonts follow the space per class: about 0.28 in per class at the default size (11 classes: 8 pt).
    font = float(np.clip(0.7 * 72 * side / (k + 6), 2.5, 8.0)) if size else (8 if k <= 12 else 6 if k <= 25 else 4.5)
    annotate_counts(ax, counts, share, font)
    labels = [
        mpl_text(short_name(n, 18) if size else n) for n in class_names
    ]  # the print size has no room for long names
    ax.set_xticks(range(k), labels, rotation=90 if k > 6 else 45, ha="center" if k > 6 else "right", fontsize=font + 1)
    ax.set_yticks(range(k), labels, fontsize=font + 1)
    ax.set_xlabel("predicted class", fontsize=font + 1)
    ax.set_ylabel("true class", fontsize=font + 1)
    if size is None:  # the report's small version leaves the colour bar out (the caption explains the colours)
        cbar = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
        cbar.set_label("share of the true class's images")
    if title:
        ax.set_title(mpl_text(title), fontsize=font + 2)
    fig.tight_layout()
    return save_figure(fig, path, dpi=130)


def short_name(name: object, width: int) -> str:
    """`name` cut to `width` characters (an ellipsis marks the cut)."""
    name = str(name)
    return name if len(name) <= width else name[: width - 1] + "…"


def item_title(item: Mapping[str, Any], width: int = 14) -> str:
    """Two short lines for an image: its true class and probability (correct), or true and predicted class with theirs."""
    true, pred = short_name(item["true"], width), short_name(item["predicted"], width)
    if item.get("correct"):
        return f"{true}\np = {item['p_true']:.2f}"
    return f"true {true} ({item['p_true']:.2f})\npred {pred} ({item['p_predicted']:.2f})"


def _frame(ax: Any, colour: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color(colour)
        spine.set_linewidth(2.5)


def plot_gallery(
    pictures: Sequence[np.ndarray],
    items: Sequence[Mapping[str, Any]],
    path: str | Path,
    title: str = "",
    cols: int = 6,
    style: Mapping[str, Any] | None = None,
    tile: float = 1.6,
    fontsize: float = 6,
    name_width: int = 14,
) -> Path:
    """Images in a grid, each framed red (wrong) or green (correct) and titled by `item_title`.

    `pictures`: (H, W, 3) or (H, W) arrays in [0, 1]; `items`: rows with true, predicted, p_true,
    p_predicted, correct (as SplitDiagnostics.top_losses gives).
    """
    plt = pyplot(style)
    n = len(pictures)
    cols = max(1, min(cols, n))
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * tile, rows * (tile + fontsize / 13) + (0.35 if title else 0.05)), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, pic, item in zip(axes.flat, pictures, items):
        ax.axis("on")
        ax.imshow(pic, cmap="gray" if pic.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        _frame(ax, RIGHT if item.get("correct") else WRONG)
        ax.set_title(mpl_text(item_title(item, name_width)), fontsize=fontsize)
    if n == 0:
        axes[0][0].text(0.5, 0.5, "no images", ha="center", va="center")
    if title:
        fig.suptitle(mpl_text(textwrap.fill(title, max(30, int(fig.get_figwidth() * 13)))), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.95 if title else 1))
    return save_figure(fig, path, dpi=130)


def mosaic(maps: np.ndarray, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile maps (C, H, W) into one (rows*(H+pad)-pad, cols*(W+pad)-pad) image, each map scaled to [0, 1]
    on its own; the gaps are NaN (drawn blank by imshow)."""
    c, h, w = maps.shape
    cols = cols or math.ceil(math.sqrt(c))
    rows = math.ceil(c / cols)
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), np.nan)
    for i in range(c):
        m = maps[i].astype(float)
        lo, hi = float(m.min()), float(m.max())
        r, q = divmod(i, cols)
        out[r * (h + pad) : r * (h + pad) + h, q * (w + pad) : q * (w + pad) + w] = (
            (m - lo) / (hi - lo) if hi > lo else 0.0
        )
    return out


def plot_tiles(
    tiles: Sequence[Sequence[np.ndarray | None]],
    path: str | Path,
    title: str = "",
    row_labels: Sequence[str] = (),
    col_labels: Sequence[str] = (),
    titles: Sequence[Sequence[str]] = (),
    cmap: str = "viridis",
    tile: float = 1.2,
    style: Mapping[str, Any] | None = None,
) -> Path:
    """A grid of pictures, row by row: RGB ones as they are, 2-D ones through `cmap` (values in [0, 1]); None
    leaves a tile blank.

    Labels: `row_labels` left of each row, `col_labels` above the first row, or `titles` above every tile.
    """
    plt = pyplot(style)
    rows = len(tiles)
    cols = max((len(r) for r in tiles), default=1)
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * tile + 0.6, rows * (tile + (0.35 if titles else 0)) + 0.5), squeeze=False
    )
    for i, row in enumerate(tiles):
        for j in range(cols):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            pic = row[j] if j < len(row) else None
            if pic is not None:
                ax.imshow(pic, cmap=None if pic.ndim == 3 else cmap, vmin=0, vmax=1, interpolation="nearest")
            if j == 0 and i < len(row_labels):
                ax.set_ylabel(mpl_text(row_labels[i]), fontsize=6, rotation=0, ha="right", va="center")
            if i < len(titles) and j < len(titles[i]) and titles[i][j]:
                ax.set_title(mpl_text(titles[i][j]), fontsize=5.5)
            elif i == 0 and j < len(col_labels):
                ax.set_title(mpl_text(col_labels[j]), fontsize=6)
    if title:
        width = max(30, int(fig.get_figwidth() * 13))  # characters per line at 8 pt
        fig.suptitle(mpl_text(textwrap.fill(title, width)), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.96 if title else 1))
    return save_figure(fig, path, dpi=130)
