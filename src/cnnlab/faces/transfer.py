"""Part 2.2: AlexNet as a fixed feature extractor on face data, and what 2.4 (cnnlab.faces.finetune) shares.

alexnet_features takes a run config (cnnlab.faces.config.FeaturesRunConfig) and (state_dict, weights)
from cnnlab.faces.weights.resolve_weights (of the config's `weights` spec); runs on an untrained AlexNet
say "untrained AlexNet" in the summary, the plot titles and the checkpoint.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from cnnlab.core.config import to_dict
from cnnlab.core.errors import ConfigError
from cnnlab.core.callbacks import Callback
from cnnlab.core.runs import RunResult, cached_run, create_run
from cnnlab.core.trainer import Trainer, seed_everything
from cnnlab.faces.config import RANDOM_WEIGHTS, FaceRunConfig, FeaturesRunConfig
from cnnlab.faces.experiments import check_faces

log = logging.getLogger(__name__)


def alexnet_label(weights: dict) -> str:
    from cnnlab.faces.alexnet import UNTRAINED_LABEL

    return "ImageNet AlexNet" if weights["pretrained"] else UNTRAINED_LABEL


def alexnet_summary(question: str, desc: str, weights: dict, fields: dict[str, Any], untrained: str) -> dict[str, Any]:
    """The summary.json of an AlexNet run (2.2, 2.4): the question, what the model is, which AlexNet and
    weights, the run's own `fields`, and, for untrained weights, the `untrained` warning."""
    summary = {"question": question, "model": desc, "alexnet": alexnet_label(weights), "weights": weights, **fields}
    if not weights["pretrained"]:
        summary["warning"] = untrained
    return summary


def run_identity(config: FaceRunConfig, spec: str | None, weights: dict) -> dict[str, Any]:
    """config.json's config: the resolved run config plus the weights actually used (by hash).

    `spec` is the config's weights spec; None (ImageNet weights) and "random" must match `weights`.
    """
    if spec in (None, RANDOM_WEIGHTS) and (spec == RANDOM_WEIGHTS) == bool(weights["pretrained"]):
        raise ConfigError(f"the config asks for {'an untrained' if spec else 'the ImageNet'} AlexNet but the weights given "
                          f"are {'ImageNet' if weights['pretrained'] else 'untrained'} ones")
    return {**to_dict(config), "weights_sha256": weights["sha256"], "alexnet": alexnet_label(weights)}


def layer_features(faces: Any, layers: Sequence[str], state_dict: dict, weights: dict, cache_dir: str | Path, device: str,
                  batch_size: int) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Cached activations of every split at each of `layers` (extracted together where not cached);
    returns ({layer: {split: (N, D)}}, timing/cache info)."""
    from cnnlab.faces.features import cached_layers

    feats: dict[str, dict[str, torch.Tensor]] = {layer: {} for layer in layers}
    info: dict[str, Any] = {"cache_hits": [], "extract_seconds": 0.0}
    for name, (x, _) in faces.splits.items():
        t0 = time.perf_counter()
        found = cached_layers(x, state_dict=state_dict, weights_sha256=weights["sha256"], layers=layers, cache_dir=cache_dir,
                              data_hash=f"{faces.data_hash}:{name}", batch_size=batch_size, device=device)
        info["extract_seconds"] += time.perf_counter() - t0
        if found[layers[0]].hit:
            info["cache_hits"].append(name)
        for layer, cf in found.items():
            feats[layer][name] = cf.features
    info["extract_seconds"] = round(info["extract_seconds"], 3)
    return feats, info


def alexnet_features(
    faces: Any,
    state_dict: dict[str, torch.Tensor],
    weights: dict[str, Any],
    config: FeaturesRunConfig,
    out_root: str | Path = "runs",
    *,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
    force: bool = False,
    progress: bool = False,
    extract_batch_size: int = 64,
    callbacks: Sequence[Callback] = (),
    extra_layers: Sequence[str] = (),
) -> RunResult:
    """2.2: AlexNet `features.layer` activations (cached on disk) -> a fully connected head trained on them.

    `faces` must be RGB at features.input_size (load_run_faces(config)); (state_dict, weights) come from
    weights.resolve_weights. The checkpoint holds the trunk up to the layer plus the head, so
    predict/explain take raw images. Seeded by config.train.seed. `extra_layers` are cached in the same
    pass through AlexNet (the frozen layer a 2.4 fine-tuning from this run starts from).
    """
    from cnnlab.core.plotting import plot_learning_curves
    from cnnlab.faces.checkpoints import FeatureClassifier, FeatureHead, save_checkpoint

    check_faces(faces, config, "AlexNet")
    settings, seed = config.features, config.train.seed
    info = faces.info
    label = alexnet_label(weights)
    resolved = run_identity(config, settings.weights, weights)
    hit = cached_run(out_root, "alexnet-features", resolved, info["hash"], seed, force)
    if hit is not None:
        return hit
    cache_dir = Path(cache_dir) if cache_dir is not None else Path(out_root) / "cache" / "features"
    feats, finfo = layer_features(faces, [settings.layer, *extra_layers], state_dict, weights, cache_dir, device, extract_batch_size)
    feats = feats[settings.layer]
    sets = faces.splits
    fsets = {k: (feats[k], sets[k][1]) for k in sets}
    names = list(faces.class_names)
    seed_everything(seed)
    head = FeatureHead(feats["train"].shape[1], settings.head_hidden, len(names), settings.dropout)
    head.fit_standardizer(feats["train"])
    trainer = Trainer(config.train, device=device, progress=progress)
    result = trainer.fit(head, fsets["train"], fsets["val"], monitor={"test": fsets["test"]}, callbacks=callbacks)
    final = trainer.evaluate_splits(head, fsets)
    head.cpu()

    model = FeatureClassifier(settings.layer, feats["train"].shape[1], settings.head_hidden, len(names), settings.dropout)
    model.load_from_alexnet(state_dict)
    model.head.load_state_dict(head.state_dict())
    hidden = "-".join(str(h) for h in settings.head_hidden) or "linear"
    desc = f"{label} {settings.layer} features ({feats['train'].shape[1]}) -> FC {hidden} -> {len(names)}"
    summary = alexnet_summary("2.2", desc, weights, {"layer": settings.layer, "feature_dim": int(feats["train"].shape[1]),
                                                     **final, **result.summary_fields(), **finfo},
                              "untrained AlexNet: random weights, features carry no ImageNet knowledge")
    with create_run(out_root, "alexnet-features", resolved, seed, info, callbacks=callbacks, replace=force) as run:
        run.write_history(result.history)
        plot_learning_curves(result.history, run.file("learning_curves.png"), sets=["train", "val", "test"],
                             title=f"{desc} on {info['name']}: test acc {final['test_acc']:.3f}")
        config_m = {"layer": settings.layer, "in_features": int(feats["train"].shape[1]), "hidden": list(settings.head_hidden),
                    "dropout": settings.dropout}
        save_checkpoint(run.file("model.pt"), model, kind="alexnet-features", config=config_m, class_names=names,
                        image_size=settings.input_size, channels=3,
                        meta={"description": desc, "weights": weights, "data": info["name"]})
        full = run.write_summary(summary)
    return RunResult(run.path, full, False)
