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

from cnnlab.core import plotting
from cnnlab.core.io import atomic_path
from cnnlab.core.plotting import mpl_text
from cnnlab.core.runtime import DEFAULT_DEVICE

log = logging.getLogger(__name__)

WIDTH = 5.5  # inches: the text width of the report, so fonts print at their nominal size


def pyplot():
    """matplotlib.pyplot with the report's style (fonts sized for the 5.5in text block)."""
    return plotting.pyplot(plotting.REPORT_STYLE)


def save(fig, path: Path) -> Path:
    """Save a report figure (tight bounding box, 200 dpi), atomically."""
    return plotting.save_figure(fig, path, dpi=200, bbox_inches="tight", pad_inches=0.02)


# ----------------------------------------------------------------------------- 1.x data and transforms
def plot_art_overview(dataset: Any, path: Path, max_classes: int = 12) -> Path:
    """Top: one image per class (first of each). Bottom: one image under each of the course's 1.7 transformations."""
    from cnnlab.art.transforms.course import COURSE_LABELS, COURSE_ORDER, apply_course_transform

    plt = pyplot()
    names = list(dataset.class_names)[:max_classes]
    firsts = [int((dataset.labels == c).nonzero()[0]) for c in range(len(names))]
    fig = plt.figure(figsize=(WIDTH, 1.75))
    top = fig.add_gridspec(1, len(names), left=0.0, right=1.0, top=0.86, bottom=0.50, wspace=0.08)
    for i, (name, idx) in enumerate(zip(names, firsts)):
        ax = fig.add_subplot(top[0, i])
        ax.imshow((dataset.images[idx] + 0.5).clamp(0, 1).permute(1, 2, 0).numpy())
        ax.set_title(mpl_text(_wrap(name, 11)), fontsize=5.5)
        ax.axis("off")
    x = dataset.images[firsts[0] : firsts[0] + 1]  # (1, 3, H, W)
    shown = [("original", x)] + [(COURSE_LABELS[t], apply_course_transform(t, x)) for t in COURSE_ORDER]
    bottom = fig.add_gridspec(1, len(shown), left=0.1, right=0.9, top=0.37, bottom=0.0, wspace=0.08)
    for i, (name, img) in enumerate(shown):
        ax = fig.add_subplot(bottom[0, i])
        ax.imshow((img[0] + 0.5).clamp(0, 1).permute(1, 2, 0).numpy())
        ax.set_title(_wrap(name, 10), fontsize=5.5)
        ax.axis("off")
    return save(fig, path)


def _wrap(name: str, width: int = 12) -> str:
    words, lines, line = str(name).split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    return "\n".join(lines[:3])


# ----------------------------------------------------------------------------- Part 2
NAME_CHARS = 12  # a person's name on a tile of about 0.9 in at 6 pt, one line per this many characters


def _name(person: str) -> str:
    """A person's name for a tile title: wrapped (words on their own lines) so neighbouring tiles'
    titles never run into each other, whatever the name (FaceScrub's longest is 19 characters)."""
    from cnnlab.faces.plots import wrap_label

    return mpl_text(wrap_label(person, NAME_CHARS))


# ----------------------------------------------------------------------------- 2.3 MLP weight pictures
def plot_mlp_units(runs: Mapping[str, Path], faces: Any, path: Path, per_model: int = 2) -> dict[str, Any]:
    """For each MLP (hidden size -> run folder), its `per_model` most class-selective hidden units.

    Top row: the unit's input weights (28x28, red positive, blue negative); bottom row: the mean
    training face of the person the unit favours, minus the mean face of everyone. `corr` is the
    Pearson correlation of the two: how much the unit is a template of that person.
    """
    from cnnlab.core.runs.folders import load_summary
    from cnnlab.faces.checkpoints import load_checkpoint
    from cnnlab.faces.mlp import unit_images

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
    top = {
        id(r): f"{h} hidden: unit {r['unit']}\nfavours\n{_name(r['person'])}" for h, rows in picks.items() for r in rows
    }
    bottom = {id(r): f"{_name(r['person'])}\nmean face minus\nall (r = {r['corr']:.2f})" for r in shown}
    # Placed by hand: each row's title band is as high as its title lines (0.1 in each at 6 pt), so wrapped
    # long names never reach the tile above (tight_layout cannot shrink fixed-aspect tiles enough).
    tile, gap, line = 0.82, 0.13, 0.1
    n_top = max(t.count("\n") + 1 for t in top.values())
    n_bottom = max(t.count("\n") + 1 for t in bottom.values())
    width, height = cols * (tile + gap), 2 * tile + line * (n_top + n_bottom) + 0.15
    fig = plt.figure(figsize=(width, height))
    axes = [
        [
            fig.add_axes(((j * (tile + gap) + gap / 2) / width, (y0 / height), tile / width, tile / height))
            for j in range(cols)
        ]
        for y0 in (height - line * n_top - 0.05 - tile, 0.0)
    ]
    for j, r in enumerate(shown):
        lim = float(r["image"].abs().max()) or 1.0
        axes[0][j].imshow(r["image"].numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        axes[0][j].set_title(top[id(r)], fontsize=6)
        dl = float(r["diff"].abs().max()) or 1.0
        axes[1][j].imshow(r["diff"].numpy(), cmap="RdBu_r", vmin=-dl, vmax=dl, interpolation="nearest")
        axes[1][j].set_title(bottom[id(r)], fontsize=6)
    for ax in (a for row in axes for a in row):
        ax.axis("off")
    save(fig, path)
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
    checkpoint: Path, faces: Any, path: Path, k: int = 3, device: str = DEFAULT_DEVICE, width: float = 0.62 * WIDTH
) -> dict[str, Any]:
    """Guided backprop of the predicted class for k test faces chosen among the correct and the wrong
    predictions (`report.diagnostics.explain_examples`): input and attribution side by side.

    `centre_share`: the fraction of the absolute attribution inside the central box (half the width
    and half the height, a quarter of the area, where eyes, nose and mouth are in a face crop).
    """
    from cnnlab.core.diagnostics.attribution import attribute, to_picture
    from cnnlab.core.diagnostics.metrics import SplitDiagnostics, model_probabilities
    from cnnlab.faces.checkpoints import load_checkpoint, untrained_note
    from cnnlab.report.figures.diagnostics import explain_examples

    plt = pyplot()
    clf = load_checkpoint(checkpoint, device=device)
    probs = model_probabilities(clf.model, faces.test_x, batch_size=32)  # (N, K)
    chosen = explain_examples(SplitDiagnostics.of("test", clf.class_names, faces.test_y, probs), k)
    items = []
    # Drawn at its print width (beside the prediction example in the report): fonts print at their size.
    fig, axes = plt.subplots(1, 2 * len(chosen), figsize=(width, width / (2 * len(chosen)) + 0.4), squeeze=False)
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
        axes[0][2 * j].imshow(x[0].permute(1, 2, 0).numpy())
        verdict = "correct" if correct else f"wrong: {_name(clf.class_names[pred])}"
        axes[0][2 * j].set_title(
            f"{_name(true)}\n{verdict} ({float(probs[i, pred]):.2f})",
            fontsize=5,
            color="#2e7d32" if correct else "#c62828",
        )
        pic, kw = to_picture(attr)
        axes[0][2 * j + 1].imshow(pic, **kw)
        axes[0][2 * j + 1].set_title(f"guided backprop\n{_name(clf.class_names[pred])}", fontsize=5)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout(pad=0.2, w_pad=0.2)
    save(fig, path)
    return {
        "figure": path.name,
        "method": "guided-backprop",
        "items": items,
        "run": Path(checkpoint).parent.name,
        "untrained": bool(untrained_note(clf)),
    }


def prediction_example(checkpoint: Path, faces: Any, path: Path, top_k: int = 3) -> dict[str, Any]:
    """Save one test face as a PNG and classify the file with `cnnlab.faces.checkpoints.predict` (2.4)."""
    from PIL import Image

    from cnnlab.faces.checkpoints import predict

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
