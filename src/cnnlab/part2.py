"""Part 2 experiments (questions 2.1-2.4) on face data, each writing a cached run folder.

  train_mlp          2.1: MLP on 28x28 faces; learning curves (train/val/test), test accuracy, weight grid
  mlp_weight_study   2.3: the MLP at 300 and 800 hidden units, a grid of chosen units' input weights each
  alexnet_features   2.2: cached AlexNet activations (conv4 by default) + a trained fully connected head
  alexnet_finetune   2.4: AlexNet with one output per actor; frozen features or everything at a smaller LR

Every run folder holds config.json, metrics.csv/jsonl, learning_curves.png, summary.json and model.pt
(a self-describing checkpoint for `cnnlab predict` / `cnnlab explain`). Runs on an untrained
(random-weight) AlexNet say "untrained AlexNet" in the summary, the plot titles and the checkpoint.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from cnnlab.errors import ConfigError, DataError
from cnnlab.runs import create_run, find_cached_run, load_summary
from cnnlab.train import EarlyStoppingConfig, OptimizerConfig, Trainer, TrainConfig, seed_everything

log = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
FREEZE_MODES = ("features", "all-but-last", "none")


@dataclass(frozen=True)
class RunResult:
    path: Path
    summary: dict
    cached: bool


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings shared by the Part 2 runs (weight_decay is the L2 penalty)."""

    epochs: int = 60
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 1e-2
    patience: int | None = None  # early stopping on val loss; None: all epochs, best epoch by val loss
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("epochs and batch size must be >= 1")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r} (choose from: {', '.join(OPTIMIZERS)})")
        if not self.lr > 0 or self.weight_decay < 0:
            raise ConfigError(f"lr must be > 0 and weight decay >= 0 (got {self.lr}, {self.weight_decay})")
        if self.patience is not None and self.patience < 1:
            raise ConfigError("patience must be >= 1")

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            optimizer=OptimizerConfig(name=self.optimizer, lr=self.lr, weight_decay=self.weight_decay),
            early_stopping=EarlyStoppingConfig(patience=self.patience, monitor="val_loss"),
            seed=self.seed,
        )


# ----------------------------------------------------------------------------- data


def load_face_data(source: str = "olivetti", *, image_size: int, channels: int, actors: Sequence[str] | None = None,
                   split: Any = None) -> Any:
    """cnnlab.faces.load_faces, imported here so that `import cnnlab.part2` stays light."""
    from cnnlab.faces import load_faces

    return load_faces(source, image_size=image_size, channels=channels, actors=list(actors) if actors else None, split=split)


def data_info(faces: Any) -> dict[str, Any]:
    """What a run records about its data (the hash makes it part of the run id)."""
    counts = getattr(faces, "counts", None)
    return {
        "name": str(faces.source),
        "hash": str(faces.data_hash),
        "provenance": getattr(faces, "provenance", ""),
        "classes": list(faces.class_names),
        "n_train": int(len(faces.train_y)),
        "n_val": int(len(faces.val_y)),
        "n_test": int(len(faces.test_y)),
        "counts": counts if isinstance(counts, (dict, list)) else None,
        "image_shape": list(faces.train_x.shape[1:]),
    }


def _splits(faces: Any) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    out = {
        "train": (faces.train_x, faces.train_y.long()),
        "val": (faces.val_x, faces.val_y.long()),
        "test": (faces.test_x, faces.test_y.long()),
    }
    for name, (x, y) in out.items():
        if len(y) == 0:
            raise DataError(f"the {name} split of {faces.source} is empty")
    return out


def hflip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image (B, C, H, W) left-right with probability 0.5 (faces are near-symmetric)."""
    mask = (torch.rand(len(x), generator=generator) < 0.5).to(x.device)
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


def _evaluate(trainer: Trainer, model: nn.Module, sets: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    out = {}
    for name, (x, y) in sets.items():
        out[f"{name}_loss"], out[f"{name}_acc"] = trainer.evaluate(model, x, y)
    return out


def _cached(out_root: str | Path, kind: str, config: dict, data: dict, seed: int, force: bool) -> RunResult | None:
    path = None if force else find_cached_run(out_root, kind, config, data["hash"], seed)
    if path is None:
        return None
    log.info("run %s is cached; reusing it", path.name)
    return RunResult(path, load_summary(path), True)


def seed_summary(results: Sequence[RunResult]) -> dict[str, float]:
    """Mean and sample std (0 for one run) of train/val/test accuracy over runs that differ by seed."""
    import statistics

    out: dict[str, float] = {"n": len(results)}
    for key in ("train_acc", "val_acc", "test_acc"):
        vals = [float(r.summary[key]) for r in results]
        out[f"{key}_mean"] = statistics.fmean(vals)
        out[f"{key}_std"] = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return out


# ----------------------------------------------------------------------------- 2.1 / 2.3: MLP


@dataclass(frozen=True)
class MLPSettings:
    """The 2.1 MLP: architecture, input and which hidden units the weight pictures show."""

    hidden: int = 300
    activation: str = "tanh"
    init: str = "normal-0.01"  # small weights: the L2-shaped pictures are not buried in init noise
    image_size: int = 28
    channels: int = 1
    dropout: float = 0.0
    flip: bool = False  # augmentation: random horizontal flips of training batches (p = 0.5)
    unit_rule: str = "most-selective"
    units_per_class: int = 2
    max_tiles: int = 24

    def __post_init__(self) -> None:
        from cnnlab.mlp import UNIT_RULES

        if self.unit_rule not in UNIT_RULES:
            raise ConfigError(f"unknown unit rule {self.unit_rule!r} (choose from: {', '.join(UNIT_RULES)})")
        if self.units_per_class < 1 or self.max_tiles < 1:
            raise ConfigError("units per class and max tiles must be >= 1")


def describe_mlp(cfg: Any, train: TrainSettings) -> str:
    """A sentence describing the system (what 2.1 asks the report to state)."""
    from cnnlab.mlp import INIT_DESCRIPTIONS

    c = "grayscale" if cfg.channels == 1 else "RGB"
    return (
        f"{cfg.image_size}x{cfg.image_size} {c} face crops scaled to [0, 1] and standardised per channel with the "
        f"training set's mean and std, flattened to {cfg.input_dim} inputs -> fully connected {cfg.hidden} units, "
        f"{cfg.activation} -> {cfg.num_classes} logits, softmax cross-entropy; weights initialised "
        f"{cfg.init} ({INIT_DESCRIPTIONS[cfg.init]}); {train.optimizer} lr {train.lr:g}, L2 weight decay "
        f"{train.weight_decay:g}, batch {train.batch_size}, {train.epochs} epochs, model kept at the epoch of lowest "
        f"validation loss"
    )


def train_mlp(
    faces: Any,
    settings: MLPSettings = MLPSettings(),
    train: TrainSettings = TrainSettings(),
    out_root: str | Path = "runs",
    *,
    device: str = "cpu",
    force: bool = False,
    progress: bool = False,
) -> RunResult:
    """2.1: train the MLP on `faces` (loaded at settings.image_size/channels); write its run folder.

    Writes learning curves for train/val/test (plot + metrics.csv), model.pt, and weights.png: the input
    weights of the chosen hidden units (settings.unit_rule), each titled with the class it favours.
    """
    from cnnlab.faces_models import save_checkpoint
    from cnnlab.mlp import MLP, MLPConfig, channel_stats, choose_units, plot_weight_grid
    from cnnlab.plots import plot_learning_curves

    sets = _splits(faces)
    shape = tuple(faces.train_x.shape[1:])
    if shape != (settings.channels, settings.image_size, settings.image_size):
        raise ConfigError(f"faces are {shape}, the MLP expects {(settings.channels, settings.image_size, settings.image_size)}")
    names = list(faces.class_names)
    info = data_info(faces)
    config = {"mlp": asdict(settings), "train": asdict(train)}
    hit = _cached(out_root, "mlp", config, info, train.seed, force)
    if hit is not None:
        return hit

    seed_everything(train.seed)  # the initialisation is part of the seeded run
    mcfg = MLPConfig(num_classes=len(names), image_size=settings.image_size, channels=settings.channels,
                     hidden=settings.hidden, activation=settings.activation, init=settings.init, dropout=settings.dropout)
    mean, std = channel_stats(sets["train"][0])
    model = MLP(mcfg, mean, std)
    trainer = Trainer(train.train_config(), device=device, progress=progress)
    augment = hflip if settings.flip else None
    result = trainer.fit(model, sets["train"], sets["val"], monitor={"test": sets["test"]}, augment=augment)
    final = _evaluate(trainer, model, sets)  # best-by-val-loss weights are loaded
    model.cpu()
    description = describe_mlp(mcfg, train)
    chosen = choose_units(model, settings.unit_rule, settings.units_per_class)
    chosen = sorted(chosen, key=lambda u: -u["score"])[: settings.max_tiles]
    chosen = sorted(chosen, key=lambda u: (u["class_index"], -u["score"]))
    for u in chosen:
        u["class"] = names[u["class_index"]]
        u["favours_class"] = names[u["favours"]]
    summary = {
        "question": "2.1/2.3",
        "model": f"MLP {mcfg.input_dim}-{mcfg.hidden}-{mcfg.num_classes} ({mcfg.activation})",
        "description": description,
        "architecture": mcfg.as_dict(),
        "init": mcfg.init,
        "input_mean": mean,
        "input_std": std,
        **{k: v for k, v in final.items()},
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "selected_by": "val_loss",
        "train_seconds": round(result.seconds, 3),
        "weight_units": chosen,
        "weight_unit_rule": settings.unit_rule,
    }
    with create_run(out_root, "mlp", config, train.seed, info) as run:
        run.write_history(result.history)
        title = f"MLP {mcfg.hidden} hidden ({mcfg.activation}) on {info['name']}: test acc {final['test_acc']:.3f}"
        plot_learning_curves(result.history, run.file("learning_curves.png"), title=title, sets=["train", "val", "test"])
        plot_weight_grid(model, chosen, names, run.file("weights.png"),
                         title=f"MLP {mcfg.hidden} hidden: input weights of the {len(chosen)} most class-selective units "
                               f"({settings.unit_rule}; red +, blue -), each titled with the class it favours"
                         if settings.unit_rule == "most-selective" else
                         f"MLP {mcfg.hidden} hidden: input weights of the units with the largest outgoing weight "
                         f"to each class (red +, blue -)")
        run.write_json("weight_units.json", chosen)
        save_checkpoint(run.file("model.pt"), model, kind="mlp", config=mcfg.as_dict(), class_names=names,
                        image_size=mcfg.image_size, channels=mcfg.channels,
                        meta={"description": f"MLP {mcfg.hidden} hidden ({mcfg.activation})", "data": info["name"]})
        full = run.write_summary(summary)
    return RunResult(run.path, full, False)


def mlp_weight_study(
    faces: Any,
    hidden_sizes: Sequence[int] = (300, 800),
    settings: MLPSettings = MLPSettings(),
    train: TrainSettings = TrainSettings(),
    out_root: str | Path = "runs",
    *,
    device: str = "cpu",
    force: bool = False,
) -> list[RunResult]:
    """2.3: one MLP per hidden size (cached runs reused); each run folder has its weights.png grid."""
    from dataclasses import replace

    return [train_mlp(faces, replace(settings, hidden=int(h)), train, out_root, device=device, force=force) for h in hidden_sizes]


# ----------------------------------------------------------------------------- 2.2: fixed features


@dataclass(frozen=True)
class FeatureSettings:
    """2.2: which AlexNet layer feeds the head, and the head's shape."""

    layer: str = "conv4"
    hidden: tuple[int, ...] = (64,)
    dropout: float = 0.5
    input_size: int = 227

    def __post_init__(self) -> None:
        from cnnlab.alexnet import LAYERS, MIN_INPUT_SIZE

        if self.layer not in LAYERS:
            raise ConfigError(f"unknown AlexNet layer {self.layer!r} (choose from: {', '.join(LAYERS)})")
        if any(h < 1 for h in self.hidden) or not 0 <= self.dropout < 1:
            raise ConfigError("hidden sizes must be >= 1 and dropout in [0, 1)")
        if self.input_size < MIN_INPUT_SIZE:
            raise ConfigError(f"AlexNet input size must be >= {MIN_INPUT_SIZE}")


def _alexnet_label(weights: dict) -> str:
    from cnnlab.alexnet import UNTRAINED_LABEL

    return "ImageNet AlexNet" if weights["pretrained"] else UNTRAINED_LABEL


def _features_for(faces: Any, layer: str, state_dict: dict, weights: dict, cache_dir: str | Path, device: str,
                  batch_size: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Cached `layer` activations of every split; returns ({split: (N, D)}, timing/cache info)."""
    from cnnlab.alexnet import cached_features

    feats, info = {}, {"cache_hits": [], "extract_seconds": 0.0}
    for name, (x, _) in _splits(faces).items():
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
    settings: FeatureSettings = FeatureSettings(),
    train: TrainSettings = TrainSettings(lr=1e-4, weight_decay=1e-4, epochs=30),
    out_root: str | Path = "runs",
    *,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
    force: bool = False,
    progress: bool = False,
    extract_batch_size: int = 64,
) -> RunResult:
    """2.2: AlexNet `layer` activations (cached on disk) -> a fully connected head trained on them.

    `faces` must be RGB at settings.input_size; (state_dict, weights) come from alexnet.resolve_weights.
    The checkpoint holds the trunk up to the layer plus the head, so predict/explain take raw images.
    """
    from cnnlab.faces_models import FeatureClassifier, FeatureHead, save_checkpoint
    from cnnlab.plots import plot_learning_curves

    _check_rgb(faces, settings.input_size)
    info = data_info(faces)
    label = _alexnet_label(weights)
    config = {"features": {**asdict(settings), "hidden": list(settings.hidden)}, "train": asdict(train),
              "weights_sha256": weights["sha256"], "alexnet": label}
    hit = _cached(out_root, "alexnet-features", config, info, train.seed, force)
    if hit is not None:
        return hit
    cache_dir = Path(cache_dir) if cache_dir is not None else Path(out_root) / "cache" / "features"
    feats, finfo = _features_for(faces, settings.layer, state_dict, weights, cache_dir, device, extract_batch_size)
    sets = _splits(faces)
    fsets = {k: (feats[k], sets[k][1]) for k in sets}
    names = list(faces.class_names)
    seed_everything(train.seed)
    head = FeatureHead(feats["train"].shape[1], settings.hidden, len(names), settings.dropout)
    head.fit_standardizer(feats["train"])
    trainer = Trainer(train.train_config(), device=device, progress=progress)
    result = trainer.fit(head, fsets["train"], fsets["val"], monitor={"test": fsets["test"]})
    final = _evaluate(trainer, head, fsets)
    head.cpu()

    model = FeatureClassifier(settings.layer, feats["train"].shape[1], settings.hidden, len(names), settings.dropout)
    model.load_from_alexnet(state_dict)
    model.head.load_state_dict(head.state_dict())
    hidden = "-".join(str(h) for h in settings.hidden) or "linear"
    desc = f"{label} {settings.layer} features ({feats['train'].shape[1]}) -> FC {hidden} -> {len(names)}"
    summary = {
        "question": "2.2",
        "model": desc,
        "alexnet": label,
        "weights": weights,
        "layer": settings.layer,
        "feature_dim": int(feats["train"].shape[1]),
        **final,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "selected_by": "val_loss",
        "train_seconds": round(result.seconds, 3),
        **finfo,
    }
    if not weights["pretrained"]:
        summary["warning"] = "untrained AlexNet: random weights, features carry no ImageNet knowledge"
    with create_run(out_root, "alexnet-features", config, train.seed, info) as run:
        run.write_history(result.history)
        plot_learning_curves(result.history, run.file("learning_curves.png"), sets=["train", "val", "test"],
                             title=f"{desc} on {info['name']}: test acc {final['test_acc']:.3f}")
        config_m = {"layer": settings.layer, "in_features": int(feats["train"].shape[1]), "hidden": list(settings.hidden),
                    "dropout": settings.dropout}
        save_checkpoint(run.file("model.pt"), model, kind="alexnet-features", config=config_m, class_names=names,
                        image_size=settings.input_size, channels=3,
                        meta={"description": desc, "weights": weights, "data": info["name"]})
        full = run.write_summary(summary)
    return RunResult(run.path, full, False)


def _check_rgb(faces: Any, size: int) -> None:
    shape = tuple(faces.train_x.shape[1:])
    if shape != (3, size, size):
        raise ConfigError(f"AlexNet needs RGB faces at {size}x{size}, got {shape} (load them with channels=3, image_size={size})")


# ----------------------------------------------------------------------------- 2.4: fine-tuning


@dataclass(frozen=True)
class FinetuneSettings:
    """2.4: which parts train. features: conv layers frozen, classifier trained; all-but-last: only the
    new last layer; none: everything, pretrained layers at lr * lr_scale."""

    freeze: str = "features"
    lr_scale: float = 0.1
    input_size: int = 227
    dropout: float = 0.5

    def __post_init__(self) -> None:
        from cnnlab.alexnet import MIN_INPUT_SIZE

        if self.freeze not in FREEZE_MODES:
            raise ConfigError(f"unknown freeze mode {self.freeze!r} (choose from: {', '.join(FREEZE_MODES)})")
        if not self.lr_scale > 0:
            raise ConfigError("lr scale must be > 0")
        if self.input_size < MIN_INPUT_SIZE:
            raise ConfigError(f"AlexNet input size must be >= {MIN_INPUT_SIZE}")


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
    settings: FinetuneSettings = FinetuneSettings(),
    train: TrainSettings = TrainSettings(lr=1e-4, weight_decay=0.0, epochs=30),
    out_root: str | Path = "runs",
    *,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
    force: bool = False,
    progress: bool = False,
    extract_batch_size: int = 64,
) -> RunResult:
    """2.4: AlexNet whose last layer (classifier.6) has one output per class, then trained.

    With frozen features (or all but the last layer) the frozen part is deterministic in eval mode, so
    its output (pool5 / fc7) comes from the feature cache and only the tail trains; this is the same
    model as back-propagating through the frozen layers, minus the repeated forward passes.
    """
    from cnnlab.faces_models import FaceAlexNet, save_checkpoint
    from cnnlab.plots import plot_learning_curves

    _check_rgb(faces, settings.input_size)
    info = data_info(faces)
    label = _alexnet_label(weights)
    names = list(faces.class_names)
    config = {"finetune": asdict(settings), "train": asdict(train), "weights_sha256": weights["sha256"], "alexnet": label}
    hit = _cached(out_root, "alexnet-finetune", config, info, train.seed, force)
    if hit is not None:
        return hit

    seed_everything(train.seed)
    model = FaceAlexNet(len(names), settings.dropout)
    pretrained = {k: v for k, v in state_dict.items() if not k.startswith("classifier.6.")}
    missing = model.load_state_dict(pretrained, strict=False)
    if missing.unexpected_keys or set(missing.missing_keys) != {"classifier.6.weight", "classifier.6.bias"}:
        raise ConfigError(f"AlexNet weights do not fit: {missing}")
    new_params = list(model.classifier[6].parameters())
    trainer = Trainer(train.train_config(), device=device, progress=progress)
    sets = _splits(faces)
    finfo: dict[str, Any] = {}
    if settings.freeze == "none":
        old = [p for n, p in model.named_parameters() if not n.startswith("classifier.6.")]
        groups = [{"params": old, "lr": train.lr * settings.lr_scale}, {"params": new_params, "lr": train.lr}]
        result = trainer.fit(model, sets["train"], sets["val"], monitor={"test": sets["test"]}, param_groups=groups)
        final = _evaluate(trainer, model, sets)
        trained = "all layers (pretrained at lr x %g)" % settings.lr_scale
    else:
        layer, start = ("pool5", 0) if settings.freeze == "features" else ("fc7", 6)
        cache_dir = Path(cache_dir) if cache_dir is not None else Path(out_root) / "cache" / "features"
        feats, finfo = _features_for(faces, layer, state_dict, weights, cache_dir, device, extract_batch_size)
        tail = _Tail(model.classifier, start)  # shares parameters with `model`
        fsets = {k: (feats[k], sets[k][1]) for k in sets}
        old = [p for n, p in tail.named_parameters() if p not in set(new_params)]
        groups = [g for g in ({"params": old, "lr": train.lr * settings.lr_scale}, {"params": new_params, "lr": train.lr}) if g["params"]]
        result = trainer.fit(tail, fsets["train"], fsets["val"], monitor={"test": fsets["test"]}, param_groups=groups)
        final = _evaluate(trainer, tail, fsets)
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
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "selected_by": "val_loss",
        "train_seconds": round(result.seconds, 3),
        **finfo,
    }
    if not weights["pretrained"]:
        summary["warning"] = "untrained AlexNet: random weights, no ImageNet knowledge to transfer"
    with create_run(out_root, "alexnet-finetune", config, train.seed, info) as run:
        run.write_history(result.history)
        plot_learning_curves(result.history, run.file("learning_curves.png"), sets=["train", "val", "test"],
                             title=f"{label} fine-tuned ({settings.freeze} frozen) on {info['name']}: test acc {final['test_acc']:.3f}")
        save_checkpoint(run.file("model.pt"), model, kind="alexnet", config={"dropout": settings.dropout},
                        class_names=names, image_size=settings.input_size, channels=3,
                        meta={"description": desc, "weights": weights, "data": info["name"]})
        full = run.write_summary(summary)
    return RunResult(run.path, full, False)
