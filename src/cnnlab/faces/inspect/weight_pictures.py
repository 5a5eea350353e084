"""Part 2 figures drawn from trained face models: the MLP's hidden-unit weight pictures (2.3).

Model modules do not draw; they go through cnnlab.core.plotting (Agg backend, atomic saves).
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnlab.core.plotting import mpl_text, pyplot, save_figure
from cnnlab.faces.models.mlp import MLP, unit_images

TILE_INCHES = 2.1  # width of one weight tile
TITLE_CHARS = 18  # longest title line on a tile at 8 pt (longer names are wrapped onto more lines)


def wrap_label(text: str, width: int = TITLE_CHARS) -> str:
    """A class name ("Alec_Baldwin") for a tile title: spaces for underscores, wrapped to `width` chars
    (words longer than that are broken), so titles of neighbouring tiles never run into each other."""
    words = str(text).replace("_", " ")
    return "\n".join(textwrap.wrap(words, width=width, break_long_words=True)) or words


def weight_grid_figure(model: MLP, chosen: Sequence[dict[str, Any]], class_names: Sequence[str], title: str):
    """The figure of `plot_weight_grid` (not saved): one tile per chosen unit, at most 6 per row."""
    plt = pyplot()
    imgs = unit_images(model, [u["unit"] for u in chosen])  # (n, C, H, W)
    n = max(len(chosen), 1)
    cols = min(n, 6)
    rows = math.ceil(n / cols)
    titles = [f"unit {u['unit']}\nfavours {wrap_label(class_names[u['favours']])}" for u in chosen]
    lines = max((t.count("\n") + 1 for t in titles), default=2)
    row_height = TILE_INCHES + 0.15 * lines  # room for every title line above each tile
    fig, axes = plt.subplots(rows, cols, figsize=(TILE_INCHES * cols, row_height * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, text in zip(axes.flat, imgs, titles):
        if img.shape[0] == 1:  # grayscale: diverging map centred on zero
            lim = float(img.abs().max()) or 1.0
            ax.imshow(img[0].numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        else:  # RGB: min-max scaled per unit
            lo, hi = float(img.min()), float(img.max())
            ax.imshow(((img - lo) / max(hi - lo, 1e-12)).permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_title(mpl_text(text), fontsize=8)
    fig.suptitle("\n".join(textwrap.wrap(mpl_text(title), width=int(16 * cols))), fontsize=9)
    fig.tight_layout()
    return fig


def plot_weight_grid(
    model: MLP,
    chosen: Sequence[dict[str, Any]],
    class_names: Sequence[str],
    path: str | os.PathLike,
    title: str,
) -> Path:
    """A grid of the chosen units' input weights, one tile per unit, titled with the class it favours.

    Grayscale weights use a diverging map centred on zero (red +, blue -); RGB weights are min-max
    scaled per unit.
    """
    return save_figure(weight_grid_figure(model, chosen, class_names, title), path, dpi=110)
