"""Report figures that need data or checkpoints (made while collecting, saved in <out>/report-assets/).

Each function writes one PNG atomically and returns the facts the text quotes about it, so the
report's sentences and its pictures come from the same computation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from cnnlab.core.io import atomic_path
from cnnlab.core.plotting import mpl_text
from cnnlab.core.runtime import DEFAULT_DEVICE
from cnnlab.report.figures.layout import PRINT, TEXT_WIDTH, PrintWidth, pyplot, save
from cnnlab.report.figures.names import WHOLE, wrap

log = logging.getLogger(__name__)

WIDTH = TEXT_WIDTH  # inches: the text width of the report (each figure's own width: layout.PRINT)
FONT = 6.0  # points: the titles of picture tiles (the smallest legible size, legibility.MIN_FONT_PT)


# ----------------------------------------------------------------------------- 1.x data and transforms
def plot_art_overview(
    dataset: Any, path: Path, max_classes: int = 12, width: PrintWidth = PRINT["art_overview"]
) -> Path:
    """Top: one image per class (first of each), titled with its name (wrapped to the tile, at most 3 lines).
    Bottom: one image under each of the course's 1.7 transformations."""
    from cnnlab.art.transforms.course import COURSE_LABELS, COURSE_ORDER, apply_course_transform

    plt = pyplot()
    names = list(dataset.class_names)[:max_classes]
    firsts = [int((dataset.labels == c).nonzero()[0]) for c in range(len(names))]
    x = dataset.images[firsts[0] : firsts[0] + 1]  # (1, 3, H, W)
    shown = [("original", x)] + [(COURSE_LABELS[t], apply_course_transform(t, x)) for t in COURSE_ORDER]
    w = width.inches
    gap = 0.06  # inches between tiles
    top_tile = min(0.8, (w - gap * (len(names) - 1)) / max(1, len(names)))
    bottom_tile = min(0.62, (w - gap * (len(shown) - 1)) / len(shown))
    top_titles = [mpl_text(wrap(n, 72 * top_tile, FONT, WHOLE)) for n in names]
    bottom_titles = [mpl_text(wrap(n, 72 * bottom_tile, FONT, WHOLE)) for n, _ in shown]
    line = FONT * 1.25 / 72  # inches per title line
    top_h = top_tile + line * max(t.count("\n") + 1 for t in top_titles) + 0.04
    bottom_h = bottom_tile + line * max(t.count("\n") + 1 for t in bottom_titles) + 0.04
    height = top_h + 0.08 + bottom_h
    fig = plt.figure(figsize=(w, height))

    def row(tiles: list, titles: list[str], tile: float, y0: float) -> None:
        left = (w - len(tiles) * tile - gap * (len(tiles) - 1)) / 2
        for i, (img, title) in enumerate(zip(tiles, titles)):
            ax = fig.add_axes(((left + i * (tile + gap)) / w, y0 / height, tile / w, tile / height))
            ax.imshow((img + 0.5).clamp(0, 1).permute(1, 2, 0).numpy())
            ax.set_title(title, fontsize=FONT, pad=3)
            ax.axis("off")

    row([dataset.images[i] for i in firsts], top_titles, top_tile, bottom_h + 0.08)
    row([img[0] for _, img in shown], bottom_titles, bottom_tile, 0.0)
    return save(fig, path, width)


# ----------------------------------------------------------------------------- Part 2
def _name(person: str, width_pt: float, lines: int = 8) -> str:
    """A person's name for a tile title, wrapped to the tile's width (`names.wrap`), so neighbouring tiles'
    titles never run into each other, whatever the name."""
    return mpl_text(wrap(person, width_pt, FONT, lines))


# ----------------------------------------------------------------------------- 2.3 MLP weight pictures
def plot_mlp_units(
    runs: Mapping[str, Path], faces: Any, path: Path, per_model: int = 2, width: PrintWidth = PRINT["mlp_units"]
) -> dict[str, Any]:
    """For each MLP (hidden size -> run folder), its `per_model` most class-selective hidden units.

    Top row: the unit's input weights (28x28, red positive, blue negative); bottom row: the mean
    training face of the person the unit favours, minus the mean face of everyone. `corr` is the
    Pearson correlation of the two: how much the unit is a template of that person.
    """
    from cnnlab.core.runs.folders import load_summary
    from cnnlab.faces.models.checkpoints import load_checkpoint
    from cnnlab.faces.models.mlp import unit_images

    plt = pyplot()
    x = faces.train_x.float()  # (N, 1, 28, 28) in [0, 1]
    mean_all = x.mean(0)
    names = list(faces.class_names)
    picks: dict[str, list[dict]] = {}
    for hidden, run in runs.items():
        clf = load_checkpoint(Path(run) / "model.pt")
        units = sorted(load_summary(run)["weight_units"], key=lambda u: -u["score"])[:per_model]
        imgs = unit_images(clf.model, [u["unit"] for u in units])  # (k, 1, 28, 28)
        rows = []
        for u, img in zip(units, imgs):
            c = names.index(u["favours_class"])
            diff = x[faces.train_y == c].mean(0) - mean_all  # (1, 28, 28)
            corr = float(torch.corrcoef(torch.stack([img.flatten(), diff.flatten()]))[0, 1])
            rows.append(
                {
                    "unit": int(u["unit"]),
                    "person": u["favours_class"],
                    "score": float(u["score"]),
                    "corr": corr,
                    "image": img[0],
                    "diff": diff[0],
                }
            )
        picks[str(hidden)] = rows
    cols = sum(len(v) for v in picks.values())
    shown = [r for rows in picks.values() for r in rows]
    # Placed by hand at the print width: each row's title band is as high as its title lines (0.1 in each at
    # 6 pt), so wrapped long names never reach the tile above (tight_layout cannot shrink fixed-aspect tiles).
    fig_w, line = width.inches, FONT * 1.25 / 72
    pitch = fig_w / max(1, cols)  # the tiles spread over the whole width: each title has a pitch's room
    tile = min(0.6, pitch - 0.1)
    name_pt = 72 * pitch - 4
    top = {
        id(r): mpl_text(wrap(f"MLP {h}: unit {r['unit']}", name_pt, FONT, WHOLE))
        + "\n"
        + _name(f"favours {r['person']}", name_pt)
        for h, rows in picks.items()
        for r in rows
    }
    bottom = {id(r): f"mean face \u2212 all\nr = {r['corr']:.2f}" for r in shown}
    n_top = max(t.count("\n") + 1 for t in top.values())
    n_bottom = max(t.count("\n") + 1 for t in bottom.values())
    height = 2 * tile + line * (n_top + n_bottom) + 0.2
    fig = plt.figure(figsize=(fig_w, height))
    axes = [
        [
            fig.add_axes(((j * pitch + (pitch - tile) / 2) / fig_w, (y0 / height), tile / fig_w, tile / height))
            for j in range(cols)
        ]
        for y0 in (height - line * n_top - 0.08 - tile, 0.0)
    ]
    for j, r in enumerate(shown):
        lim = float(r["image"].abs().max()) or 1.0
        axes[0][j].imshow(r["image"].numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        axes[0][j].set_title(top[id(r)], fontsize=FONT, pad=3)
        dl = float(r["diff"].abs().max()) or 1.0
        axes[1][j].imshow(r["diff"].numpy(), cmap="RdBu_r", vmin=-dl, vmax=dl, interpolation="nearest")
        axes[1][j].set_title(bottom[id(r)], fontsize=FONT, pad=3)
    for ax in (a for row in axes for a in row):
        ax.axis("off")
    save(fig, path, width)
    clean = {h: [{k: v for k, v in r.items() if k not in ("image", "diff")} for r in rows] for h, rows in picks.items()}
    return {"figure": path.name, "units": clean, "runs": {h: Path(r).name for h, r in runs.items()}}


# ----------------------------------------------------------------------------- 2.4 / 2.5 fine-tuned AlexNet
def _test_examples(faces: Any, k: int) -> list[int]:
    """Indices of the first test face of the first k persons."""
    out = []
    for c in range(len(faces.class_names)):
        idx = (faces.test_y == c).nonzero()
        if len(idx):
            out.append(int(idx[0]))
        if len(out) == k:
            break
    return out


def plot_guided_backprop(
    checkpoint: Path,
    faces: Any,
    path: Path,
    k: int = 3,
    device: str = DEFAULT_DEVICE,
    width: PrintWidth = PRINT["guided_backprop"],
) -> dict[str, Any]:
    """Guided backprop of the predicted class for k test faces chosen among the correct and the wrong
    predictions (`report.diagnostics.explain_examples`): input and attribution side by side, one title over
    each pair (the person, and "correct" or the person it was taken for, with the probability).

    `centre_share`: the fraction of the absolute attribution inside the central box (half the width
    and half the height, a quarter of the area, where eyes, nose and mouth are in a face crop).
    """
    from cnnlab.core.diagnostics.attribution import attribute, to_picture
    from cnnlab.core.diagnostics.metrics import SplitDiagnostics, model_probabilities
    from cnnlab.faces.models.checkpoints import load_checkpoint, untrained_note
    from cnnlab.report.figures.key_runs import explain_examples

    plt = pyplot()
    clf = load_checkpoint(checkpoint, device=device)
    probs = model_probabilities(clf.model, faces.test_x, batch_size=32)  # (N, K)
    chosen = explain_examples(SplitDiagnostics.of("test", clf.class_names, faces.test_y, probs), k)
    items = []
    # Drawn at its print width (beside the prediction example in the report): fonts print at their size.
    n = max(1, len(chosen))
    fig_w, between, inside, line = width.inches, 0.1, 0.03, FONT * 1.25 / 72
    pitch = fig_w / n
    tile = (pitch - between - inside) / 2
    title_pt = 72 * (pitch - between)
    titles = []  # per example: the person, and "correct" or who it was taken for, wrapped (never cut)
    for i, correct in chosen:
        pred = int(probs[i].argmax())
        verdict = "correct" if correct else f"taken for {clf.class_names[pred]}"
        true = clf.class_names[int(faces.test_y[i])]
        titles.append(
            f"{mpl_text(wrap(true, title_pt, FONT, WHOLE))}\n"
            f"{mpl_text(wrap(f'{verdict} ({float(probs[i, pred]):.2f})', title_pt, FONT, WHOLE))}"
        )
    height = tile + max((t.count("\n") + 1 for t in titles), default=2) * line + 0.06
    fig = plt.figure(figsize=(fig_w, height))
    tiles = [
        fig.add_axes(((j * pitch + between / 2 + i * (tile + inside)) / fig_w, 0, tile / fig_w, tile / height))
        for j in range(n)
        for i in range(2)
    ]
    for j, (i, correct) in enumerate(chosen):
        x = faces.test_x[i : i + 1]  # (1, 3, S, S) in [0, 1]
        pred = int(probs[i].argmax())
        attr = attribute(clf.model, x, pred, "guided-backprop")  # (1, 3, S, S)
        mag = attr.abs().sum(1)[0]  # (S, S)
        s = mag.shape[-1]
        lo, hi = s // 4, s - s // 4
        share = float(mag[lo:hi, lo:hi].sum() / mag.sum().clamp_min(1e-12))
        true = clf.class_names[int(faces.test_y[i])]
        items.append(
            {
                "true": true,
                "pred": clf.class_names[pred],
                "prob": float(probs[i, pred]),
                "centre_share": share,
                "correct": correct,
            }
        )
        tiles[2 * j].imshow(x[0].permute(1, 2, 0).numpy())
        fig.text(
            (j + 0.5) * pitch / fig_w,
            (tile + 0.03) / height,
            titles[j],
            fontsize=FONT,
            ha="center",
            va="bottom",
            color="#2e7d32" if correct else "#c62828",
        )
        pic, kw = to_picture(attr)
        tiles[2 * j + 1].imshow(pic, **kw)
    for ax in tiles:
        ax.axis("off")
    save(fig, path, width)
    return {
        "figure": path.name,
        "method": "guided-backprop",
        "items": items,
        "run": Path(checkpoint).parent.name,
        "untrained": bool(untrained_note(clf)),
    }


def prediction_example(checkpoint: Path, faces: Any, path: Path, top_k: int = 3) -> dict[str, Any]:
    """Save one test face as a PNG and classify the file with `cnnlab.faces.models.checkpoints.predict` (2.4)."""
    from PIL import Image

    from cnnlab.faces.models.checkpoints import predict

    i = _test_examples(faces, 1)[0]
    arr = (faces.test_x[i].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()  # (S, S, 3)
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp)
    top = predict(path, checkpoint, top_k=top_k)
    return {
        "image": path.name,
        "true": faces.class_names[int(faces.test_y[i])],
        "top": [[n, float(p)] for n, p in top],
        "run": Path(checkpoint).parent.name,
    }
