"""`cnnlab inspect` for Part 1 runs: what a trained SimpleCNN confuses, and what its first layers respond to.

`inspect_run(run)` rebuilds the run's model (`art.run.load_run_model`: its reported weights) and its
data split from the recorded config (the data hash must match the run's), then writes
<run>/diagnostics/ (cnnlab.core.diagnostics.metrics: confusion, per-class metrics, confused pairs, top losses)
plus three Part 1 figures:
  first_layer_filters.png  the first conv layer's filters as RGB pictures
  feature_maps.png         the maps of the first two conv blocks for one image per class
  saliency.png             captum attributions (the registry of `cnnlab explain`) of the predicted class
                           for one correctly and one wrongly classified image of a few classes
Nothing is retrained: suites and the report call the same function on their key runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnlab.art.config import RunConfig
from cnnlab.art.run import RUN_KIND, PreparedData, load_run_model, prepare_data, run_identity
from cnnlab.core.config import from_dict
from cnnlab.core.diagnostics.metrics import (
    DIAGNOSTICS_DIR,
    SPLITS,
    InspectResult,
    SplitDiagnostics,
    check_data_hash,
    model_probabilities,
    split_names,
    write_diagnostics,
)
from cnnlab.core.errors import CnnlabError, ConfigError
from cnnlab.core.runs.folders import read_run
from cnnlab.core.runtime import DEFAULT_DEVICE

__all__ = [
    "inspect_run",
    "run_split",
    "load_run_data",
    "to_display",
    "plot_first_layer_filters",
    "plot_feature_maps",
    "filter_colour_share",
]

log = logging.getLogger(__name__)

SALIENCY_METHOD = "saliency"  # plain input gradient: defined for every activation, not only ReLU
SALIENCY_CLASSES = 4  # rows of saliency.png


def to_display(x: torch.Tensor) -> np.ndarray:
    """A painting tensor (3, H, W) in [-0.5, 0.5] as an (H, W, 3) array in [0, 1]."""
    return (x.detach().float().cpu() + 0.5).clamp(0, 1).permute(1, 2, 0).numpy()


def load_run_data(run_path: str | Path) -> tuple[RunConfig, PreparedData]:
    """The config of a finished Part 1 run and its data split, rebuilt; a DataError if the data changed since."""
    record = read_run(run_path)
    if record.kind != RUN_KIND:
        raise CnnlabError(f"{record.path} is a {record.kind or 'unknown'} run, not a Part 1 ({RUN_KIND}) run")
    config = from_dict(RunConfig, record.config)
    data = prepare_data(config)
    check_data_hash(str(record.meta.get("data", {}).get("hash", "")), data.info["hash"], record.path)
    return config, data


def run_split(run_path: str | Path, split: str = "test", device: str = DEFAULT_DEVICE) -> SplitDiagnostics:
    """The SplitDiagnostics of a finished Part 1 run's reported model on one split (test or val), writing nothing."""
    if split not in SPLITS:
        raise ConfigError(f"one split: test or val, got {split!r}")
    _, data = load_run_data(run_path)
    model = load_run_model(run_path).to(device)
    x, y = data.splits[split]
    return SplitDiagnostics.of(split, tuple(data.dataset.class_names), y, model_probabilities(model, x))


def inspect_run(
    run_path: str | Path,
    split: str = "test",
    *,
    device: str = DEFAULT_DEVICE,
    method: str = SALIENCY_METHOD,
    saliency_classes: int = SALIENCY_CLASSES,
    reuse: bool = False,
) -> InspectResult:
    """Write <run>/diagnostics/ for a finished Part 1 run (see the module docstring); `split`: test, val or both.

    `reuse` (the report's key runs): a diagnostics folder already written for exactly these inputs
    (`inspect_inputs`, kept in its diagnostics.json) is kept as it is; only the splits' diagnostics, which
    the caller reads, are computed again (the same numbers: the same model on the same images).
    """
    from cnnlab.core.diagnostics.attribution import EXPLAINERS

    EXPLAINERS.get(method)  # an unknown method fails before any work
    run_path = Path(run_path)
    names = split_names(split)
    config, data = load_run_data(run_path)
    inputs = inspect_inputs(run_path, names, data.info["hash"], device, method, saliency_classes)
    written = reusable_diagnostics(run_path, inputs) if reuse else None
    model = load_run_model(run_path).to(device)
    classes = tuple(data.dataset.class_names)
    splits = {}
    for name in names:
        x, y = data.splits[name]  # (N, 3, H, W) in [-0.5, 0.5], (N,)
        splits[name] = (SplitDiagnostics.of(name, classes, y, model_probabilities(model, x)), x)
    if written is not None:
        log.info("kept %s (written for the same run, data and options)", run_path / DIAGNOSTICS_DIR)
        extra = {k: v for k, v in written.items() if k not in INSPECT_FIELDS}
        return InspectResult(
            run_path,
            run_path / DIAGNOSTICS_DIR,
            RUN_KIND,
            {k: d for k, (d, _) in splits.items()},
            written["files"],
            extra,
        )
    first, images = splits[names[0]]

    def extras(folder: Path) -> dict[str, Any]:
        from cnnlab.core.diagnostics.attribution import plot_examples

        files, facts = [], {}
        if first_conv(model) is not None:
            plot_first_layer_filters(model, folder / "first_layer_filters.png")
            plot_feature_maps(model, first, images, folder / "feature_maps.png")
            files += ["first_layer_filters.png", "feature_maps.png"]
        examples = first.examples(classes=saliency_classes)
        facts["saliency"] = {
            "split": first.split,
            "method": method,
            "rows": plot_examples(
                model,
                examples,
                images,
                to_display,
                folder / "saliency.png",
                method=method,
                title=f"{method} of the predicted class: most confident correct and most confidently wrong {first.split} "
                f"image per class",
            ),
        }
        files.append("saliency.png")
        return {"files": files, "model": config.model.name, "data": data.info["name"], "inputs": inputs, **facts}

    return write_diagnostics(run_path, RUN_KIND, splits, to_display, title=run_path.name, extras=extras)


INSPECT_FIELDS = ("run_id", "kind", "version", "class_names", "splits", "files")  # InspectResult.to_json's own


def inspect_inputs(
    run_path: Path, splits: Sequence[str], data_hash: str, device: str, method: str, saliency_classes: int
) -> dict[str, Any]:
    """What a run's diagnostics folder is computed from: the run (`run_identity`: id, config, reported
    weights), its data, the splits, the device type, the saliency options and the cnnlab and torch versions."""
    from cnnlab.core.device import resolve_device
    from cnnlab.core.version import __version__

    return {
        "format": 1,
        "run": run_identity(run_path),
        "data": data_hash,
        "splits": list(splits),
        "device": resolve_device(device).type,
        "method": method,
        "saliency_classes": int(saliency_classes),
        "cnnlab": __version__,
        "torch": torch.__version__,
    }


def reusable_diagnostics(run_path: Path, inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The diagnostics.json of <run>/diagnostics/ when it was written for exactly `inputs` and every file it
    lists is there (a regular, non-empty file inside the folder); else None. A folder written for other
    inputs (or by an older cnnlab) is silently inspected again; a damaged diagnostics.json costs one warning."""
    import json

    from cnnlab.core.io import canonical_json
    from cnnlab.core.readback import UntrustedData, inside, load_json

    folder = run_path / DIAGNOSTICS_DIR
    record = folder / "diagnostics.json"
    if not os.path.lexists(record):
        return None
    try:
        doc = load_json(record, f"the diagnostics record {record}")
        if not isinstance(doc, dict):
            raise UntrustedData(f"the diagnostics record {record} is not an object")
        if doc.get("inputs") != json.loads(canonical_json(inputs)):
            return None  # made for another run, data or version: not damage
        files = doc.get("files")
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise UntrustedData(f"the diagnostics record {record} lists no files")
        for name in files:
            path = inside(folder, name, f"the diagnostics record {record}")
            if not path.is_file() or path.stat().st_size == 0:
                raise UntrustedData(f"{path} is missing or empty")
    except (UntrustedData, OSError) as exc:
        log.warning("inspecting %s again: its diagnostics folder is damaged (%s)", run_path.name, exc)
        return None
    return doc


def first_conv(model: nn.Module) -> nn.Conv2d | None:
    """The model's first Conv2d (None for a model without one)."""
    return next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)


def filter_colour_share(model: nn.Module) -> float:
    """The mean share of a first-layer filter's squared weights in its colour differences (the weights minus
    their mean over the input channels): 0 for filters that see only luminance, 2/3 on average for i.i.d.
    random weights over 3 channels."""
    conv = first_conv(model)
    if conv is None:
        raise CnnlabError("the model has no convolutional layer")
    w = conv.weight.detach().float().cpu()  # (F, C, k, k)
    colour = w - w.mean(1, keepdim=True)
    return float((colour.pow(2).flatten(1).sum(1) / w.pow(2).flatten(1).sum(1).clamp_min(1e-12)).mean())


def filter_pictures(model: nn.Module) -> list[np.ndarray]:
    """The first conv layer's filters as pictures in [0, 1] (grey = 0), each scaled to its own range: (k, k, 3)
    for RGB filters, (k, k) (the channel mean) otherwise."""
    conv = first_conv(model)
    if conv is None:
        raise CnnlabError("the model has no convolutional layer")
    w = conv.weight.detach().float().cpu()  # (F, C, k, k); a weight-normed conv computes it here
    scale = w.flatten(1).abs().amax(1).clamp_min(1e-12)[:, None, None, None]
    pics = 0.5 + 0.5 * w / scale  # (F, C, k, k) in [0, 1], 0.5 = zero weight
    return [p.permute(1, 2, 0).numpy() if p.shape[0] == 3 else p.mean(0).numpy() for p in pics]


def plot_first_layer_filters(
    model: nn.Module,
    path: Path,
    cols: int = 8,
    title: str | None = None,
    style: Mapping[str, Any] | None = None,
    tile: float = 0.8,
) -> Path:
    """The first conv layer's filters (F, 3, k, k) as RGB pictures, each scaled on its own so that grey is 0."""
    from cnnlab.core.diagnostics.plots import plot_tiles

    pics = filter_pictures(model)
    rows = [pics[i : i + cols] for i in range(0, len(pics), cols)]
    f, c, k, _ = first_conv(model).weight.shape
    if title is None:
        title = f"first-layer filters: {f} of {c}x{k}x{k}, each scaled to its own range (grey = 0)"
    return plot_tiles(rows, path, cmap="gray", tile=tile, title=title, style=style)


@torch.inference_mode()
def block_outputs(model: nn.Module, x: torch.Tensor, blocks: int = 2) -> list[tuple[str, torch.Tensor]]:
    """(name, output (B, C, H, W)) of the first `blocks` conv blocks (SimpleCNN: conv, activation, pool), else of
    the first Conv2d layers."""
    if isinstance(getattr(model, "features", None), nn.Sequential):
        modules = [(f"conv block {i + 1}", m) for i, m in enumerate(list(model.features)[:blocks])]
    else:
        modules = [(f"conv {i + 1}", m) for i, m in enumerate(m for m in model.modules() if isinstance(m, nn.Conv2d))][
            :blocks
        ]
    outputs: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_hook(lambda mod, inp, out, name=name: outputs.__setitem__(name, out.detach().cpu()))
        for name, m in modules
    ]
    try:
        model.eval()
        model(x.to(next(model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
    return [(name, outputs[name]) for name, _ in modules if name in outputs]


def plot_feature_maps(
    model: nn.Module, diag: SplitDiagnostics, images: torch.Tensor, path: Path, blocks: int = 2
) -> Path:
    """For one image per class (its most confident correct one, else its first): the image and the maps of
    the first conv blocks, each block's channels tiled into one mosaic (every map scaled on its own)."""
    from cnnlab.core.diagnostics.plots import mosaic, plot_tiles

    picks, labels = [], []
    for c, name in enumerate(diag.class_names):
        idx = np.flatnonzero(diag.y_true == c)
        if not len(idx):
            continue
        right = [i for i in idx if diag.y_pred[i] == c]
        picks.append(int(max(right, key=lambda i: diag.probs[i, c]) if right else idx[0]))
        labels.append(name)
    x = images[picks]  # (P, 3, H, W)
    outs = block_outputs(model, x, blocks)
    rows = [[to_display(x[r])] + [mosaic(out[r].numpy()) for _, out in outs] for r in range(len(picks))]
    cols = ["image"] + [f"{name}\n{out.shape[1]} maps {out.shape[2]}x{out.shape[3]}" for name, out in outs]
    return plot_tiles(
        rows,
        path,
        row_labels=labels,
        col_labels=cols,
        cmap="viridis",
        tile=1.3,
        title=f"feature maps of the first conv blocks, one {diag.split} image per class (each map scaled on its own)",
    )
