"""The report's confusion matrices (with the top-losses strip beside Part 1's), drawn at their print width.

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

from cnnlab.core.diagnostics.plots import annotate_counts
from cnnlab.core.plotting import mpl_text
from cnnlab.report.figures.layout import PRINT, PrintWidth, pyplot, save
from cnnlab.report.figures.names import WHOLE, abbreviations, needs_key, text_width, wrap

FONT = 6.0  # points: labels, counts, key
LABEL_PITCH_PT = FONT * 1.2  # the smallest distance between two labels on one side (a 6 pt line is 7 pt high)
MAX_SIDE = 2.0  # inches: the largest matrix (its height sets the figure's)
MAX_PITCH = 0.15  # inches per class at most (few classes) ...
MIN_SIDE = 0.9  # ... but a matrix of very few classes still this large (a readable plot)
MAX_CLASSES = 40  # 2 x MAX_SIDE / LABEL_PITCH_PT: more classes would not leave a label room
WRONG = "#c62828"


def face_width(class_names: Sequence[str]) -> PrintWidth:
    """The print width of the face confusion: beside the hidden units (PRINT["confusion_faces_beside"], room for a
    MAX_SIDE matrix with labels on both sides) when its names need no key (at most names.SHORT characters, as
    Olivetti's s1...s40) and it shows every class, else the full text width, matrix and key. The figure and the
    section both ask this function."""
    small = len(class_names) <= MAX_CLASSES and not needs_key(abbreviations(class_names))
    return PRINT["confusion_faces_beside" if small else "confusion_faces"]


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
    cm: np.ndarray,
    class_names: Sequence[str],
    path: Path,
    width: PrintWidth = PRINT["confusion_best"],
    strip: tuple[Sequence[np.ndarray], Sequence[Mapping[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The confusion matrix (rows: true class, columns: predicted; colour: share of the true class; numbers:
    counts, where they fit) with its key, at the print width; `strip` (pictures, top-loss items): the most
    confidently wrong images under the key, titled "true -> predicted" in the same tags. Returns what the
    caption needs: the tags, whether numbers are shown, and the classes shown (None: all)."""
    plt = pyplot()
    keep = shown_classes(cm)
    counts = np.asarray(cm)[np.ix_(keep, keep)]
    names = [class_names[i] for i in keep]
    k = len(names)
    tags = abbreviations(class_names)  # the same tags as the strip's, whichever classes are shown
    labels = [mpl_text(tags[n]) for n in names]
    rows = counts.sum(1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape, float), where=rows > 0)  # (K, K)

    pitch = max(min(MAX_PITCH, MAX_SIDE / max(k, 1)), MIN_SIDE / max(k, 1))
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
    matrix_h = bottom + side + top
    w = width.inches
    line_in = LABEL_PITCH_PT / 72

    key_entries = [(tags[n], n) for n in names] if needs_key({n: tags[n] for n in names}) else []
    pictures, items = strip if strip and len(strip[0]) else ((), ())
    gap = 0.18
    column = w - block - gap  # the right column: key, then strip
    key, key_h, col_in, tag_in = _key_layout(key_entries, matrix_h, column, line_in)
    n_pics = len(pictures)
    tile = min(0.55, column / max(1, n_pics) - 0.1) if n_pics else 0.0
    heads = [_tile_title(item, tags, 72 * column / max(1, n_pics) - 2) for item in items]
    strip_h = (0.12 + max(h.count("\n") + 1 for h in heads) * line_in + tile) if n_pics else 0.0
    height = max(matrix_h, key_h + strip_h)
    right_column = bool(key_entries or n_pics)
    x0 = 0.0 if right_column else max(0.0, (w - block) / 2)
    fig = plt.figure(figsize=(w, height))
    y_matrix = height - top - side  # the matrix at the top
    ax = fig.add_axes(((x0 + left) / w, y_matrix / height, side / w, side / height))
    ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    if numbers:
        annotate_counts(ax, counts, share, FONT)
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
    kx = block + gap
    for c, r, tag, name in key:  # column, first line, tag, name (wrapped, never cut)
        tx, ty = kx + c * col_in, height - r * line_in
        fig.text(tx / w, ty / height, mpl_text(tag), fontsize=FONT, weight="bold", va="top")
        fig.text((tx + tag_in) / w, ty / height, mpl_text(name), fontsize=FONT, va="top", linespacing=1.0)
    pitch_pics = column / max(1, n_pics)
    for j, (pic, head) in enumerate(zip(pictures, heads)):
        px = kx + j * pitch_pics + (pitch_pics - tile) / 2
        py = height - key_h - strip_h + 0.02
        _wrong_tile(fig.add_axes((px / w, py / height, tile / w, tile / height)), pic, head)
    save(fig, path, width)
    return {
        "figure": Path(path).name,
        "tags": {n: tags[n] for n in names},
        "numbers": bool(numbers),
        "shown": names if len(names) < len(class_names) else None,
    }


def _key_layout(
    entries: Sequence[tuple[str, str]], matrix_h: float, column: float, line_in: float
) -> tuple[list[tuple[int, int, str, str]], float, float, float]:
    """The key's entries (tag, name) in columns of the right column's width: as many columns as the longest name
    allows (the key may run below the matrix), a name wider than its column wrapped onto more lines, none cut.
    Returns ((column, first line, tag, name with line breaks) per entry, the key's height, a column's width, the
    tags' width), all in inches."""
    if not entries:
        return [], 0.0, 0.0, 0.0
    tag_in = (max(text_width(t, FONT) for t, _ in entries) + 4) / 72
    name_in = (max(text_width(n, FONT) for _, n in entries) + 6) / 72
    cols = max(1, min(math.floor(column / (tag_in + name_in)), math.ceil(len(entries) * line_in / matrix_h)))
    col_in = column / cols
    names = [wrap(n, 72 * (col_in - tag_in) - 6, FONT, max_lines=len(n)) for _, n in entries]
    lines = [n.count("\n") + 1 for n in names]
    per_col = max(math.ceil(sum(lines) / cols), max(lines))
    while True:  # fill the columns in turn; lengthen them while the entries need more than `cols` columns
        out, c, r = [], 0, 0
        for (tag, _), name, n in zip(entries, names, lines):
            if r + n > per_col and r:
                c, r = c + 1, 0
            out.append((c, r, tag, name))
            r += n
        if c < cols:
            break
        per_col += 1
    rows = max(r0 + n for (_, r0, _, _), n in zip(out, lines))
    return out, rows * line_in, col_in, tag_in


def _tile_title(item: Mapping[str, Any], tags: Mapping[str, str], title_pt: float) -> str:
    """A wrong image's title: "true -> predicted" (tags, wrapped to the tile's pitch, never cut) and the probability."""
    head = wrap(f"{tags[item['true']]} \u2192 {tags[item['predicted']]}", title_pt, FONT, WHOLE)
    return mpl_text(f"{head}\np = {item['p_predicted']:.2f}")


def _wrong_tile(ax: Any, pic: np.ndarray, title: str) -> None:
    """One wrongly classified image, framed red, under its title (`_tile_title`)."""
    ax.imshow(pic, cmap="gray" if pic.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color(WRONG)
        spine.set_linewidth(1.5)
    ax.set_title(title, fontsize=FONT, pad=2)
