"""Part 2.5: which pixels drive a face classifier's decision: `cnnlab explain` on one face image.

The attribution methods (captum: guided-backprop, saliency, integrated-gradients, guided-gradcam) and
their registry live in cnnlab.core.diagnostics.attribution, shared with `cnnlab inspect` on paintings.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cnnlab.core.diagnostics.attribution import EXPLAINERS, attribute, check_relus, to_picture
from cnnlab.core.errors import CnnlabError
from cnnlab.core.runtime import DEFAULT_DEVICE

__all__ = ["EXPLAINERS", "Explanation", "attribute", "check_relus", "explain_image", "to_picture"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Explanation:
    path: Path
    method: str
    classes: list[tuple[str, float]]  # (name, probability) of the explained classes


def explain_image(
    image: str | os.PathLike,
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    *,
    method: str = "guided-backprop",
    classes: Sequence[str] | None = None,
    device: str = DEFAULT_DEVICE,
) -> Explanation:
    """Write a PNG: the input, the attribution map for the predicted class and for a second class.

    `classes` picks the explained classes by name (default: the top two predictions).
    """
    from cnnlab.core.plotting import check_figure_path, mpl_text, pyplot, save_figure
    from cnnlab.faces.models.checkpoints import load_checkpoint, load_image, predict_probs, untrained_note

    out = check_figure_path(out)  # before any work: a bad --out is a one-line error
    plt = pyplot()
    EXPLAINERS.get(method)
    clf = load_checkpoint(checkpoint, device=device)
    x = load_image(image, clf.image_size, clf.channels)  # (1, C, S, S)
    probs = predict_probs(clf, x)[0]
    if classes:
        unknown = [c for c in classes if c not in clf.class_names]
        if unknown:
            raise CnnlabError(f"unknown class {unknown[0]!r} (choose from: {', '.join(clf.class_names)})")
        targets = [clf.class_names.index(c) for c in classes]
    else:
        targets = probs.argsort(descending=True)[:2].tolist()
    maps = [attribute(clf.model, x, t, method) for t in targets]

    note = untrained_note(clf)
    fig, axes = plt.subplots(1, 1 + len(maps), figsize=(3.2 * (1 + len(maps)), 3.6))
    img = x[0].permute(1, 2, 0).numpy()
    axes[0].imshow(
        img[..., 0] if clf.channels == 1 else img, cmap="gray" if clf.channels == 1 else None, vmin=0, vmax=1
    )
    axes[0].set_title(f"input\npredicted: {mpl_text(clf.class_names[int(probs.argmax())])}", fontsize=9)
    for ax, t, a in zip(axes[1:], targets, maps):
        pic, kw = to_picture(a)
        ax.imshow(pic, **kw)
        ax.set_title(f"{method}: {mpl_text(clf.class_names[t])}\np = {float(probs[t]):.3f}", fontsize=9)
    for ax in axes:
        ax.axis("off")
    title = f"{clf.description}" + (f" ({note})" if note and note not in clf.description else "")
    if method == "guided-backprop" and check_relus(clf.model) == 0:
        title += " - no ReLUs, so guided backprop equals the plain gradient"
    fig.suptitle(mpl_text(title), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    out = save_figure(fig, out, dpi=110)
    log.info("wrote %s", out)
    return Explanation(out, method, [(clf.class_names[t], float(probs[t])) for t in targets])
