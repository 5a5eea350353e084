"""Part 2.5: which pixels drive a face classifier's decision, via captum attributions.

Methods (registry EXPLAINERS): guided-backprop, saliency, integrated-gradients, guided-gradcam.
captum's GuidedBackprop hooks every `nn.ReLU` module in the model, so the classifier's ReLUs are
guided as well as the convolutional ones (the handout's suggested library only hooks
`model.features`). That needs every ReLU to be its own out-of-place module: `check_relus` enforces it.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn

from cnnlab.core.errors import CnnlabError, ConfigError
from cnnlab.core.registry import Registry

log = logging.getLogger(__name__)

Explainer = Callable[[nn.Module, torch.Tensor, int], torch.Tensor]
EXPLAINERS: Registry[torch.Tensor] = Registry("attribution method")


def check_relus(model: nn.Module, x: torch.Tensor | None = None) -> int:
    """Number of ReLU modules; raises if any is in place, or (given an input x) applied twice."""
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if any(m.inplace for m in relus):
        raise CnnlabError("the model has in-place ReLUs; attribution hooks need inplace=False")
    if x is not None:
        calls: dict[int, int] = {}

        def count(mod: nn.Module, inputs: object, output: object) -> None:
            calls[id(mod)] = calls.get(id(mod), 0) + 1

        hooks = [m.register_forward_hook(count) for m in relus]
        try:
            with torch.no_grad():
                model(x.to(_device(model)))
        finally:
            for h in hooks:
                h.remove()
        if any(n > 1 for n in calls.values()):
            raise CnnlabError("a ReLU module is applied twice; guided backprop needs one module per use")
    return len(relus)


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def last_conv(model: nn.Module) -> nn.Module:
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ConfigError("guided-gradcam needs a convolutional model (use guided-backprop for the MLP)")
    return convs[-1]


@EXPLAINERS.register("guided-backprop")
def _guided_backprop(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    from captum.attr import GuidedBackprop

    return GuidedBackprop(model).attribute(x, target=target)


@EXPLAINERS.register("saliency")
def _saliency(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    from captum.attr import Saliency

    return Saliency(model).attribute(x, target=target, abs=False)


@EXPLAINERS.register("integrated-gradients")
def _integrated_gradients(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    from captum.attr import IntegratedGradients

    # Baseline: a black image (zeros in [0, 1] input space); 32 steps, batched 8 at a time.
    return IntegratedGradients(model).attribute(x, baselines=torch.zeros_like(x), target=target, n_steps=32, internal_batch_size=8)


@EXPLAINERS.register("guided-gradcam")
def _guided_gradcam(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    from captum.attr import GuidedGradCam

    return GuidedGradCam(model, last_conv(model)).attribute(x, target=target, interpolate_mode="bilinear")


def attribute(model: nn.Module, x: torch.Tensor, target: int, method: str = "guided-backprop") -> torch.Tensor:
    """Attribution of class `target` w.r.t. the input pixels, same shape as x (1, C, H, W)."""
    fn = EXPLAINERS.get(method)
    model.eval()
    check_relus(model, x)
    x = x.detach().clone().to(_device(model)).requires_grad_(True)
    with warnings.catch_warnings():
        # captum announces its ReLU hooks and GuidedGradCam's input checks on every call
        warnings.simplefilter("ignore", UserWarning)
        out = fn(model, x, int(target))
    return out.detach().cpu()


def to_picture(attr: torch.Tensor) -> "tuple[object, dict]":
    """(H, W[, 3]) array in [0, 1] and imshow kwargs: colour gradients min-max scaled (as in Ozbulak's
    library) for RGB; a diverging map centred on zero for grayscale."""
    a = attr.squeeze(0).float()  # (C, H, W)
    if a.shape[0] == 3:
        lo, hi = float(a.min()), float(a.max())
        return ((a - lo) / max(hi - lo, 1e-12)).permute(1, 2, 0).numpy(), {}
    lim = float(a.abs().max()) or 1.0
    return a[0].numpy(), {"cmap": "RdBu_r", "vmin": -lim, "vmax": lim}


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
    device: str = "cpu",
) -> Explanation:
    """Write a PNG: the input, the attribution map for the predicted class and for a second class.

    `classes` picks the explained classes by name (default: the top two predictions).
    """
    from cnnlab.core.plotting import check_figure_path, mpl_text, pyplot, save_figure
    from cnnlab.faces.checkpoints import load_checkpoint, load_image, predict_probs, untrained_note

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
    axes[0].imshow(img[..., 0] if clf.channels == 1 else img, cmap="gray" if clf.channels == 1 else None, vmin=0, vmax=1)
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
