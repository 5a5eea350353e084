"""The report's confusion matrices and top-losses strip, drawn at their print width with class tags.

Class names are tagged by `names.abbreviations` (the same tags in the matrix and in the strip) and a key
beside the matrix gives each tag its name, so the figures stay legible whatever the names: 6 pt labels
that never run into each other, with 11 artists or 40 people. The matrix is at most MAX_SIDE inches a
side: above LABEL_PITCH_PT per class its labels alternate between the two sides of the matrix (so that
40 labels of 6 pt fit), and a cell shows its count only where the count fits in it at 6 pt (the colour,
the share of the true class, says the rest). More than MAX_CLASSES classes: the MAX_CLASSES with the
most errors are shown (`shown_classes`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab.core.plotting import mpl_text
from cnnlab.report.figures.layout import PRINT, PrintWidth, pyplot, save
from cnnlab.report.figures.names import abbreviations, fit, needs_key, text_width

FONT = 6.0  # points: labels, counts, key
LABEL_PITCH_PT = FONT * 1.3  # the smallest distance between two labels on one side
MAX_SIDE = 2.6  # inches: the largest matrix (its height sets the figure's)
MAX_PITCH = 0.22  # inches per class at most (few classes)
MAX_CLASSES = 48  # 2 x MAX_SIDE / LABEL_PITCH_PT: more classes would not leave a label room
WRONG = "#c62828"


def shown_classes(cm: np.ndarray, max_classes: int = MAX_CLASSES) -> list[int]:
    """Indices of the classes a confusion matrix shows: all, or the `max_classes` with the most errors
    (misclassified as or from them), in their order."""
    k = len(cm)
    if k <= max_classes:
        return list(range(k))
    cm = np.asarray(cm)
    errors = cm.sum(0) + cm.sum(1) - 2 * np.diag(cm)
    keep = sorted(np.argsort(-errors, kind="stable")[:max_classes].tolist())
    return keep


def plot_confusion(
    cm: np.ndarray, class_names: Sequence[str], path: Path, width: PrintWidth = PRINT["confusion_best"]
) -> dict[str, Any]:
    """The confusion matrix (rows: true class, columns: predicted; colour: share of the true class; numbers:
    counts, where they fit) with its key, at the print width. Returns what the caption needs: the tags,
    whether numbers are shown, and the classes shown."""
    plt = pyplot()
    keep = shown_classes(cm)
    counts = np.asarray(cm)[np.ix_(keep, keep)]
    names = [class_names[i] for i in keep]
    k = len(names)
    tags = abbreviations(class_names)  # the same tags as the top-losses strip's, whichever classes are shown
    labels = [mpl_text(tags[n]) for n in names]
    rows = counts.sum(1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape, float), where=rows > 0)  # (K, K)

    pitch = min(MAX_PITCH, MAX_SIDE / max(k, 1))
    pitch_pt = 72 * pitch
    one_side = pitch_pt >= LABEL_PITCH_PT
    numbers = one_side and text_width(str(int(counts.max(initial=0))), FONT) + 2 <= pitch_pt
    side = pitch * k
    label_in = (max(text_width(t, FONT) for t in labels) + 3) / 72  # tick labels and their ticks
    title_in = 1.4 * 7 / 72  # an axis label of 7 pt
    left = label_in + title_in
    right = 0.02 if one_side else label_in
    bottom = label_in + title_in
    top = 0.04 if one_side else label_in
    block = left + side + right
    w = width.inches

    key_entries = [(tags[n], n) for n in names] if needs_key({n: tags[n] for n in names}) else []
    key_cols, key_rows, col_in = 0, 0, 0.0
    gap = 0.18
    if key_entries:
        tag_in = (max(text_width(t, FONT) for t, _ in key_entries) + 4) / 72
        avail = w - block - gap
        key_rows = max(1, math.floor((side + bottom) * 72 / LABEL_PITCH_PT))
        key_cols = math.ceil(len(key_entries) / key_rows)
        key_rows = math.ceil(len(key_entries) / key_cols)
        col_in = min(avail / key_cols, tag_in + 1.9)
    group = block + (gap + key_cols * col_in if key_entries else 0.0)
    x0 = max(0.0, (w - group) / 2)
    height = bottom + side + top
    fig = plt.figure(figsize=(w, height))
    ax = fig.add_axes(((x0 + left) / w, bottom / height, side / w, side / height))
    ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    if numbers:
        for i in range(k):
            for j in range(k):
                if counts[i, j]:
                    ax.text(
                        j,
                        i,
                        str(int(counts[i, j])),
                        ha="center",
                        va="center",
                        fontsize=FONT,
                        color="white" if share[i, j] > 0.55 else "black",
                    )
    ticks = np.arange(k)
    if one_side:
        ax.set_xticks(ticks, labels, rotation=90, fontsize=FONT)
        ax.set_yticks(ticks, labels, fontsize=FONT)
    else:  # alternate: even classes below and left, odd ones above and right
        ax.set_xticks(ticks[::2], labels[::2], rotation=90, fontsize=FONT)
        ax.set_yticks(ticks[::2], labels[::2], fontsize=FONT)
        top_axis = ax.secondary_xaxis("top")
        top_axis.set_xticks(ticks[1::2], labels[1::2], rotation=90, fontsize=FONT)
        right_axis = ax.secondary_yaxis("right")
        right_axis.set_yticks(ticks[1::2], labels[1::2], fontsize=FONT)
        for extra in (top_axis, right_axis):
            extra.tick_params(length=2, width=0.4, pad=1)
    ax.tick_params(length=2, width=0.4, pad=1)
    ax.set_xlabel("predicted", fontsize=7, labelpad=1)
    ax.set_ylabel("true", fontsize=7, labelpad=1)
    for spine in ax.spines.values():
        spine.set_visible(True)
    if key_entries:
        kx = x0 + block + gap
        line_in = LABEL_PITCH_PT / 72
        for e, (tag, name) in enumerate(key_entries):
            c, r = divmod(e, key_rows)
            tx, ty = kx + c * col_in, height - top - (r + 0.5) * line_in
            fig.text(tx / w, ty / height, mpl_text(tag), fontsize=FONT, weight="bold", va="center")
            name_pt = 72 * (col_in - tag_in) - 3
            fig.text((tx + tag_in) / w, ty / height, mpl_text(fit(name, name_pt, FONT)), fontsize=FONT, va="center")
    save(fig, path, width)
    return {
        "figure": Path(path).name,
        "tags": {n: tags[n] for n in names},
        "numbers": bool(numbers),
        "shown": names if len(names) < len(class_names) else None,
    }


def plot_top_losses(
    pictures: Sequence[np.ndarray],
    items: Sequence[Mapping[str, Any]],
    class_names: Sequence[str],
    path: Path,
    width: PrintWidth = PRINT["top_losses_best"],
) -> Path:
    """The most confidently wrong images in one row, framed red, each titled "true -> predicted" in the
    confusion matrix's tags with the probability of the prediction."""
    plt = pyplot()
    tags = abbreviations(class_names)
    n = max(1, len(pictures))
    w = width.inches
    gap, line = 0.1, FONT * 1.25 / 72
    pitch = w / n
    tile = min(1.0, pitch - gap)
    height = tile + 2 * line + 0.08
    fig = plt.figure(figsize=(w, height))
    left = (w - n * pitch) / 2
    for j, (pic, item) in enumerate(zip(pictures, items)):
        ax = fig.add_axes(((left + j * pitch + (pitch - tile) / 2) / w, 0.02 / height, tile / w, tile / height))
        ax.imshow(pic, cmap="gray" if pic.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(True)
            spine.set_color(WRONG)
            spine.set_linewidth(1.5)
        title_pt = 72 * (pitch - gap / 2)
        head = fit(f"{tags[item['true']]} \u2192 {tags[item['predicted']]}", title_pt, FONT)
        ax.set_title(mpl_text(f"{head}\np = {item['p_predicted']:.2f}"), fontsize=FONT, pad=2)
    save(fig, path, width)
    return Path(path)
