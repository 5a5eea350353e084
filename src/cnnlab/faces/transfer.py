"""Part 2.2 and 2.4: AlexNet as a fixed feature extractor, and AlexNet fine-tuned, on face data.

Both take a run config (cnnlab.faces.config.FeaturesRunConfig / FinetuneRunConfig) and (state_dict,
weights) from cnnlab.faces.weights.resolve_weights (of the config's `weights` spec); runs on an untrained
AlexNet say "untrained AlexNet" in the summary, the plot titles and the checkpoint.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from cnnlab.core.config import to_dict
from cnnlab.core.errors import ConfigError
from cnnlab.core.callbacks import Callback
from cnnlab.core.runs import RunResult, cached_run, create_run
from cnnlab.core.trainer import Trainer, seed_everything
from cnnlab.faces.config import RANDOM_WEIGHTS, FaceRunConfig, FeaturesRunConfig, FinetuneRunConfig
from cnnlab.faces.experiments import check_faces

log = logging.getLogger(__name__)


def _alexnet_label(weights: dict) -> str:
    from cnnlab.faces.alexnet import UNTRAINED_LABEL

    return "ImageNet AlexNet" if weights["pretrained"] else UNTRAINED_LABEL


def _run_identity(config: FaceRunConfig, spec: str | None, weights: dict) -> dict[str, Any]:
    """config.json's config: the resolved run config plus the weights actually used (by hash).

    `spec` is the config's weights spec; None (ImageNet weights) and "random" must match `weights`.
    """
    if spec in (None, RANDOM_WEIGHTS) and (spec == RANDOM_WEIGHTS) == bool(weights["pretrained"]):
        raise ConfigError(f"the config asks for {'an untrained' if spec else 'the ImageNet'} AlexNet but the weights given "
                          f"are {'ImageNet' if weights['pretrained'] else 'untrained'} ones")
    return {**to_dict(config), "weights_sha256": weights["sha256"], "alexnet": _alexnet_label(weights)}


def _features_for(faces: Any, layer: str, state_dict: dict, weights: dict, cache_dir: str | Path, device: str,
                  batch_size: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Cached `layer` activations of every split; returns ({split: (N, D)}, timing/cache info)."""
    from cnnlab.faces.features import cached_features

    feats, info = {}, {"cache_hits": [], "extract_seconds": 0.0}
    for name, (x, _) in faces.splits.items():
        t0 = time.perf_counter()
        cf = cached_features(x, state_dict=state_dict, weights_sha256=weights["sha256"], layer=layer,
                             cache_dir=cache_dir, data_hash=f"{faces.data_hash}:{name}", batch_size=batch_size, device=device)
        info["extract_seconds"] += time.perf_counter() - t0
        if cf.hit:
            info["cache_hits"].append(name)
        feats[name] = cf.features
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
) -> RunResult:
    """2.2: AlexNet `features.layer` activations (cached on disk) -> a fully connected head trained on them.

    `faces` must be RGB at features.input_size (load_run_faces(config)); (state_dict, weights) come from
    weights.resolve_weights. The checkpoint holds the trunk up to the layer plus the head, so
    predict/explain take raw images. Seeded by config.train.seed.
    """
    from cnnlab.core.plotting import plot_learning_curves
    from cnnlab.faces.checkpoints import FeatureClassifier, FeatureHead, save_checkpoint

    check_faces(faces, config, "AlexNet")
    settings, seed = config.features, config.train.seed
    info = faces.info
    label = _alexnet_label(weights)
    resolved = _run_identity(config, settings.weights, weights)
    hit = cached_run(out_root, "alexnet-features", resolved, info["hash"], seed, force)
    if hit is not None:
        return hit
    cache_dir = Path(cache_dir) if cache_dir is not None else Path(out_root) / "cache" / "features"
    feats, finfo = _features_for(faces, settings.layer, state_dict, weights, cache_dir, device, extract_batch_size)
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
    summary = {
        "question": "2.2",
        "model": desc,
        "alexnet": label,
        "weights": weights,
        "layer": settings.layer,
        "feature_dim": int(feats["train"].shape[1]),
        **final,
        **result.summary_fields(),
        **finfo,
    }
    if not weights["pretrained"]:
        summary["warning"] = "untrained AlexNet: random weights, features carry no ImageNet knowledge"
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


# ----------------------------------------------------------------------------- 2.4: fine-tuning


class _Tail(nn.Module):
    """The trainable tail of AlexNet over cached activations: flatten -> classifier[start:]."""

    def __init__(self, classifier: nn.Sequential, start: int) -> None:
        super().__init__()
        self.layers = classifier[start:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.flatten(1))


def alexnet_finetune(
    faces: Any,
    state_dict: dict[str, torch.Tensor],
    weights: dict[str, Any],
    config: FinetuneRunConfig,
    out_root: str | Path = "runs",
    *,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
    force: bool = False,
    progress: bool = False,
    extract_batch_size: int = 64,
    callbacks: Sequence[Callback] = (),
) -> RunResult:
    """2.4: AlexNet whose last layer (classifier.6) has one output per class, then trained (config.finetune
    says which parts; seeded by config.train.seed). `faces`: load_run_faces(config).

    With frozen features (or all but the last layer) the frozen part is deterministic in eval mode, so
    its output (pool5 / fc7) comes from the feature cache and only the tail trains; this is the same
    model as back-propagating through the frozen layers, minus the repeated forward passes.
    """
    from cnnlab.core.plotting import plot_learning_curves
    from cnnlab.faces.checkpoints import FaceAlexNet, save_checkpoint

    check_faces(faces, config, "AlexNet")
    settings, seed, lr = config.finetune, config.train.seed, config.train.optimizer.lr
    info = faces.info
    label = _alexnet_label(weights)
    names = list(faces.class_names)
    resolved = _run_identity(config, settings.weights, weights)
    hit = cached_run(out_root, "alexnet-finetune", resolved, info["hash"], seed, force)
    if hit is not None:
        return hit

    seed_everything(seed)
    model = FaceAlexNet(len(names), settings.dropout)
    pretrained = {k: v for k, v in state_dict.items() if not k.startswith("classifier.6.")}
    missing = model.load_state_dict(pretrained, strict=False)
    if missing.unexpected_keys or set(missing.missing_keys) != {"classifier.6.weight", "classifier.6.bias"}:
        raise ConfigError(f"AlexNet weights do not fit: {missing}")
    new_params = list(model.classifier[6].parameters())
    trainer = Trainer(config.train, device=device, progress=progress)
    sets = faces.splits
    finfo: dict[str, Any] = {}
    if settings.freeze == "none":
        old = [p for n, p in model.named_parameters() if not n.startswith("classifier.6.")]
        groups = [{"params": old, "lr": lr * settings.lr_scale}, {"params": new_params, "lr": lr}]
        result = trainer.fit(model, sets["train"], sets["val"], monitor={"test": sets["test"]}, param_groups=groups, callbacks=callbacks)
        final = trainer.evaluate_splits(model, sets)
        trained = "all layers (pretrained at lr x %g)" % settings.lr_scale
    else:
        layer, start = ("pool5", 0) if settings.freeze == "features" else ("fc7", 6)
        cache_dir = Path(cache_dir) if cache_dir is not None else Path(out_root) / "cache" / "features"
        feats, finfo = _features_for(faces, layer, state_dict, weights, cache_dir, device, extract_batch_size)
        tail = _Tail(model.classifier, start)  # shares parameters with `model`
        fsets = {k: (feats[k], sets[k][1]) for k in sets}
        new_ids = {id(p) for p in new_params}
        old = [p for p in tail.parameters() if id(p) not in new_ids]
        groups = [g for g in ({"params": old, "lr": lr * settings.lr_scale}, {"params": new_params, "lr": lr}) if g["params"]]
        result = trainer.fit(tail, fsets["train"], fsets["val"], monitor={"test": fsets["test"]}, param_groups=groups, callbacks=callbacks)
        final = trainer.evaluate_splits(tail, fsets)
        trained = "classifier (fc6, fc7 at lr x %g, new fc8)" % settings.lr_scale if start == 0 else "the new last layer only"
    model.cpu().eval()
    desc = f"{label} fine-tuned: last layer 4096 -> {len(names)}, trained: {trained}"
    summary = {
        "question": "2.4",
        "model": desc,
        "alexnet": label,
        "weights": weights,
        "freeze": settings.freeze,
        **final,
        **result.summary_fields(),
        **finfo,
    }
    if not weights["pretrained"]:
        summary["warning"] = "untrained AlexNet: random weights, no ImageNet knowledge to transfer"
    with create_run(out_root, "alexnet-finetune", resolved, seed, info, callbacks=callbacks, replace=force) as run:
        run.write_history(result.history)
        plot_learning_curves(result.history, run.file("learning_curves.png"), sets=["train", "val", "test"],
                             title=f"{label} fine-tuned ({settings.freeze} frozen) on {info['name']}: test acc {final['test_acc']:.3f}")
        save_checkpoint(run.file("model.pt"), model, kind="alexnet", config={"dropout": settings.dropout},
                        class_names=names, image_size=settings.input_size, channels=3,
                        meta={"description": desc, "weights": weights, "data": info["name"]})
        full = run.write_summary(summary)
    return RunResult(run.path, full, False)
