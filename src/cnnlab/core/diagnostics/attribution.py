"""Input attributions through captum: which pixels drive a classifier's decision (Part 2.5, and the
saliency views of `cnnlab inspect` on paintings).

Methods (registry EXPLAINERS): guided-backprop, saliency, integrated-gradients, guided-gradcam.
captum's GuidedBackprop hooks every `nn.ReLU` module in the model, so a classifier's ReLUs are
guided as well as the convolutional ones (the handout's suggested library only hooks
`model.features`). That needs every ReLU to be its own out-of-place module: `check_relus` enforces it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnlab.core.errors import CnnlabError, ConfigError
from cnnlab.core.registry import Registry

__all__ = [
    "EXPLAINERS",
    "Explainer",
    "attribute",
    "check_relus",
    "last_conv",
    "magnitude",
    "model_device",
    "plot_examples",
    "to_picture",
]

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
                model(x.to(model_device(model)))
        finally:
            for h in hooks:
                h.remove()
        if any(n > 1 for n in calls.values()):
            raise CnnlabError("a ReLU module is applied twice; guided backprop needs one module per use")
    return len(relus)


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter."""
    return next(model.parameters()).device


def last_conv(model: nn.Module) -> nn.Module:
    """The last Conv2d module (Grad-CAM's layer); a ConfigError for a model without one."""
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

    # Baseline: an all-zero input (black for faces in [0, 1], mid-grey for paintings in [-0.5, 0.5]);
    # 32 steps, batched 8 at a time.
    return IntegratedGradients(model).attribute(
        x, baselines=torch.zeros_like(x), target=target, n_steps=32, internal_batch_size=8
    )


@EXPLAINERS.register("guided-gradcam")
def _guided_gradcam(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    from captum.attr import GuidedGradCam

    return GuidedGradCam(model, last_conv(model)).attribute(x, target=target, interpolate_mode="bilinear")


def attribute(model: nn.Module, x: torch.Tensor, target: int, method: str = "guided-backprop") -> torch.Tensor:
    """Attribution of class `target` w.r.t. the input pixels, same shape as x (1, C, H, W)."""
    fn = EXPLAINERS.get(method)
    model.eval()
    check_relus(model, x)
    x = x.detach().clone().to(model_device(model)).requires_grad_(True)
    with warnings.catch_warnings():
        # captum announces its ReLU hooks and GuidedGradCam's input checks on every call
        warnings.simplefilter("ignore", UserWarning)
        out = fn(model, x, int(target))
    return out.detach().cpu()


def to_picture(attr: torch.Tensor) -> tuple[object, dict]:
    """(H, W[, 3]) array in [0, 1] and imshow kwargs: colour gradients min-max scaled (as in Ozbulak's
    library) for RGB; a diverging map centred on zero for grayscale."""
    a = attr.squeeze(0).float()  # (C, H, W)
    if a.shape[0] == 3:
        lo, hi = float(a.min()), float(a.max())
        return ((a - lo) / max(hi - lo, 1e-12)).permute(1, 2, 0).numpy(), {}
    lim = float(a.abs().max()) or 1.0
    return a[0].numpy(), {"cmap": "RdBu_r", "vmin": -lim, "vmax": lim}


def magnitude(attr: torch.Tensor) -> torch.Tensor:
    """(H, W) attribution magnitude in [0, 1]: |attribution| summed over channels, divided by its maximum."""
    m = attr.detach().float().reshape(-1, *attr.shape[-2:]).abs().sum(0)  # (H, W)
    return m / m.max().clamp_min(1e-12)


def plot_examples(
    model: nn.Module,
    examples: Sequence[tuple[str, dict | None, dict | None]],
    images: torch.Tensor,
    to_image: Callable[[torch.Tensor], np.ndarray],
    path: str | Path,
    method: str = "saliency",
    title: str = "",
) -> list[dict[str, Any]]:
    """One row per class: its most confident correct image and its most confidently wrong one, each beside
    the attribution magnitude (`magnitude`) of the class the model predicted for it.

    `examples`: (class, correct item, wrong item) rows from SplitDiagnostics.examples (an item has
    "index" into `images`, true, predicted and their probabilities; None leaves the pair blank).
    Returns the rows drawn, each with "centre_share": the share of the magnitude inside the central
    box (half the width and height).
    """
    from cnnlab.core.diagnostics.plots import item_title, plot_tiles

    EXPLAINERS.get(method)
    rows: list[list[np.ndarray | None]] = []
    titles, facts = [], []
    for name, right, wrong in examples:
        row: list[np.ndarray | None] = []
        row_titles: list[str] = []
        fact: dict[str, Any] = {"class": name}
        for label, item in (("correct", right), ("wrong", wrong)):
            if item is None:
                row += [None, None]
                row_titles += [f"(no {label} image)", ""]
                fact[label] = None
                continue
            x = images[item["index"] : item["index"] + 1]  # (1, C, H, W)
            m = magnitude(attribute(model, x, int(item["predicted_index"]), method))  # (H, W)
            h, w = m.shape
            share = float(m[h // 4 : h - h // 4, w // 4 : w - w // 4].sum() / m.sum().clamp_min(1e-12))
            pic = to_image(images[item["index"]])
            row += [np.repeat(pic[..., None], 3, axis=2) if pic.ndim == 2 else pic, m.numpy()]  # grey faces stay grey
            row_titles += [f"{label}: " + item_title(item), f"{method}\nof '{item['predicted']}'"]
            fact[label] = {
                **{k: item[k] for k in ("index", "true", "predicted", "p_true", "p_predicted")},
                "centre_share": share,
            }
        rows.append(row)
        titles.append(row_titles)
        facts.append(fact)
    plot_tiles(rows, path, title=title, row_labels=[f[0] for f in examples], titles=titles, cmap="inferno", tile=1.3)
    return facts
