"""Part 2.4: fine-tuning AlexNet on face data, by two recipes (`finetune.freeze`, cnnlab.faces.run_configs).

from-features (the default): start from the trained 2.2 network, AlexNet up to the 2.2 feature layer
    plus the trained 2.2 head (the 2.2 run of the same data, weights and seed, found in the run cache
    by its config and trained first if missing, or a run folder given), and train it end to end from
    `train_from` on: those AlexNet layers at lr * lr_scale, the head at lr. The layers before stay
    frozen and their output comes from the feature cache (2.2 caches it in the same pass), which is
    what makes end-to-end training affordable on a CPU. The starting point is evaluated as "epoch 0"
    and competes for the best epoch by validation accuracy, so the result is never worse on
    validation than 2.2. The checkpoint is a 2.2-shaped network (its config names the 2.2 layer).
features / all-but-last / none: the classic recipe with ImageNet weights, AlexNet with a new last
    layer (classifier.6) trained with the convolutional layers frozen, everything but the new layer
    frozen, or nothing frozen.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.core.device import resolve_device
from cnnlab.core.errors import ConfigError
from cnnlab.core.runs.cached import run_cached
from cnnlab.core.runs.folders import RunDir, RunResult, load_summary, run_problem
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.core.train.callbacks import Callback
from cnnlab.core.train.trainer import Trainer
from cnnlab.faces.alexnet import LAYER_ORDER, LAYERS, TRAIN_FROM
from cnnlab.faces.alexnet.model import pool_to_grid
from cnnlab.faces.data.run_faces import check_faces
from cnnlab.faces.kinds import FEATURES_KIND, FINETUNE_KIND
from cnnlab.faces.run_configs import FROM_FEATURES, FeaturesRunConfig, FinetuneRunConfig
from cnnlab.faces.training.alexnet_runs import (
    UNTRAINED,
    AlexNetInputs,
    alexnet_label,
    alexnet_run_spec,
    alexnet_summary,
    layer_features,
    run_identity,
)
from cnnlab.faces.training.finetune_classic import finetune_last_layer
from cnnlab.faces.training.transfer import alexnet_features

log = logging.getLogger(__name__)

Start = FeaturesRunConfig | str | Path | None


def alexnet_finetune(
    inputs: AlexNetInputs,
    config: FinetuneRunConfig,
    runtime: RuntimeOptions,
    *,
    start: Start = None,
    force: bool = False,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
) -> RunResult:
    """2.4: fine-tune AlexNet by config.finetune.freeze (see the module docstring), seeded by config.train.seed,
    into runtime.out on runtime.device.

    `inputs`: AlexNetInputs.load(config, config.finetune.weights). from-features starts from `start`: a 2.2 run
    folder or the FeaturesRunConfig of the 2.2 run (found in runtime.out's run cache, or trained there first);
    None = config.finetune.features_run, else start_config(config).
    """
    inputs.checked(config)
    if config.finetune.freeze == FROM_FEATURES:
        return _finetune_from_features(inputs, config, runtime, start, force, progress, callbacks)
    return finetune_last_layer(inputs, config, runtime, force=force, progress=progress, callbacks=callbacks)


def start_config(config: FinetuneRunConfig) -> FeaturesRunConfig:
    """The 2.2 run a from-features fine-tuning starts from by default: the 2.2 run config's defaults on
    the same data, AlexNet weights, input size and seed."""
    base = FeaturesRunConfig()
    ft = config.finetune
    return FeaturesRunConfig(
        data=config.data,
        features=replace(base.features, input_size=ft.input_size, weights=ft.weights),
        train=replace(base.train, seed=config.train.seed),
    )


# ----------------------------------------------------------------------------- from 2.2


class _FromLayer(nn.Module):
    """The trained part of a 2.2 network (cnnlab.faces.models.checkpoints.FeatureClassifier) over cached
    activations: features[start:] -> [avgpool] -> flatten -> [classifier] -> head. Shares its parameters."""

    def __init__(self, model: nn.Module, start: int) -> None:
        super().__init__()
        self.model, self.start = model, start

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        x = m.features[self.start :](x)  # (B, C, h, w) of the frozen layer -> the 2.2 layer's activations
        if m.avgpool is not None:
            x = m.avgpool(x)
        x = pool_to_grid(x, m.grid)  # a depth-sweep network's pooling, if any
        x = torch.flatten(x, 1)
        if m.classifier is not None:
            x = m.classifier(x)
        return m.head(x)  # (B, K)


def _start_run(
    inputs: AlexNetInputs, config: FinetuneRunConfig, runtime: RuntimeOptions, start: Start, progress: bool
) -> Path:
    """The 2.2 run folder to start from, checked: same faces, same AlexNet weights, a layer after the frozen one."""
    faces, weights = inputs.faces, inputs.weights
    frozen = TRAIN_FROM[config.finetune.train_from]
    start = start if start is not None else config.finetune.features_run or start_config(config)
    if isinstance(start, FeaturesRunConfig):
        check_faces(faces, start, "the 2.2 run")
        found = alexnet_features(inputs, start, runtime, progress=progress, extra_layers=(frozen,))
        log.info("fine-tuning starts from 2.2 run %s%s", found.path.name, " (cached)" if found.cached else "")
        path = found.path
    else:
        path = Path(start)
    problem = run_problem(path)
    if problem is not None:
        raise ConfigError(f"the 2.2 run to fine-tune from, {path}, is not a finished run folder ({problem})")
    s = load_summary(path)
    if s.get("kind") != FEATURES_KIND.name or not (path / "model.pt").is_file():
        raise ConfigError(f"{path} is not a 2.2 run (cnnlab part2 features) with a model.pt")
    if (s.get("data") or {}).get("hash") != faces.info["hash"]:
        raise ConfigError(
            f"the 2.2 run {path.name} was trained on other faces than these ({(s.get('data') or {}).get('name')})"
        )
    if (s.get("weights") or {}).get("sha256") != weights["sha256"]:
        raise ConfigError(f"the 2.2 run {path.name} was trained on other AlexNet weights than these")
    if LAYER_ORDER.index(frozen) >= LAYER_ORDER.index(str(s.get("layer"))):
        raise ConfigError(
            f"finetune.train_from {config.finetune.train_from} lies beyond the 2.2 run's layer {s.get('layer')}: "
            f"nothing of AlexNet would train"
        )
    return path


def _trained_layers(frozen: str, layer: str) -> tuple[list[str], list[str]]:
    """The conv/fc layers a fine-tuning trains (after `frozen`, up to the 2.2 `layer`) and those it keeps frozen."""
    i_frozen, i_layer = LAYER_ORDER.index(frozen), LAYER_ORDER.index(layer)
    weighted = ("conv", "fc")
    trained = [n for n in LAYER_ORDER[i_frozen + 1 : i_layer + 1] if n.startswith(weighted)]
    return trained, [n for n in LAYER_ORDER[: i_frozen + 1] if n.startswith(weighted)]


def _trainable_tail(
    inputs: AlexNetInputs, config: FinetuneRunConfig, start_path: Path, cache_dir: Path, device: Any
) -> tuple[Any, nn.Module, nn.Module, dict, list[dict], dict]:
    """The 2.2 network of `start_path` made trainable from finetune.train_from on: (its checkpoint, the
    network, the trained tail over the frozen layer's cached activations, those activations per split,
    the optimiser's param groups (AlexNet layers at lr * lr_scale first, then the head at lr), cache info)."""
    from cnnlab.faces.alexnet.model import feature_shape
    from cnnlab.faces.models.checkpoints import load_checkpoint

    settings, lr = config.finetune, config.train.optimizer.lr
    frozen = TRAIN_FROM[settings.train_from]
    clf = load_checkpoint(start_path / "model.pt")
    faces = inputs.faces
    if clf.class_names != list(faces.class_names) or clf.image_size != settings.input_size:
        raise ConfigError(f"the 2.2 run {start_path.name} classifies other people or image sizes than these faces")
    model = clf.model.train()  # a FeatureClassifier: AlexNet up to the 2.2 layer + the trained head
    begin = LAYERS[frozen][1]  # features[:begin] is frozen; its output is cached
    for p in model.features[:begin].parameters():
        p.requires_grad_(False)
    shape = feature_shape(frozen, settings.input_size)  # (C, h, w) of the frozen layer's output
    feats, finfo = layer_features(inputs, [frozen], cache_dir, device)
    sets = faces.splits
    fsets = {k: (feats[frozen][k].view(-1, *shape), sets[k][1]) for k in sets}
    alexnet = [
        *model.features[begin:].parameters(),
        *(model.classifier.parameters() if model.classifier is not None else ()),
    ]
    groups = [
        {"params": alexnet, "lr": lr * settings.lr_scale},
        {"params": list(model.head.parameters()), "lr": lr},
    ]
    return clf, model, _FromLayer(model, begin), fsets, groups, finfo


def finetune_lr_find(
    inputs: AlexNetInputs,
    config: FinetuneRunConfig,
    runtime: RuntimeOptions,
    *,
    start: Start = None,
    steps: int = 100,
    lr_start: float = 1e-7,
    lr_end: float = 1.0,
) -> Any:
    """The LR range test (cnnlab.core.train.lr_finder) on the layers a from-features fine-tuning trains,
    from the 2.2 network it starts from, on the training split. The LR swept is the AlexNet layers'
    (lr * lr_scale); the head keeps its ratio. Writes lr_find.csv/.png/.json to <runtime.out>/lr-find-finetune/."""
    from cnnlab.core.train.lr_finder import find_lr, write_lr_find

    if config.finetune.freeze != FROM_FEATURES:
        raise ConfigError("the fine-tuning range test needs finetune.freeze = from-features")
    faces = inputs.checked(config).faces
    device = resolve_device(runtime.device)
    start_path = _start_run(inputs, config, runtime, start, False)
    _clf, model, tail, fsets, groups, _info = _trainable_tail(inputs, config, start_path, inputs.cache(runtime), device)
    torch.manual_seed(config.train.seed)
    result = find_lr(
        config.train,
        tail,
        fsets["train"],
        fsets["val"],
        start=lr_start,
        end=lr_end,
        steps=steps,
        device=device,
        param_groups=groups,
    )
    trained = ", ".join(_trained_layers(TRAIN_FROM[config.finetune.train_from], model.layer)[0])
    result.meta = {
        "start_run": start_path.name,
        "trained_layers": trained,
        "lr_scale": config.finetune.lr_scale,
        "data": faces.info["name"],
    }
    write_lr_find(
        result,
        Path(runtime.out) / "lr-find-finetune",
        title=f"LR range test of fine-tuning ({trained} + head) on {faces.info['name']}: {result.stop_reason}",
    )
    return result


def _finetune_from_features(
    inputs: AlexNetInputs,
    config: FinetuneRunConfig,
    runtime: RuntimeOptions,
    start: Start,
    force: bool,
    progress: bool,
    callbacks: Sequence[Callback],
) -> RunResult:
    """The 2.2 network trained end to end from finetune.train_from on (see the module docstring)."""
    from cnnlab.core.plotting import plot_learning_curves
    from cnnlab.faces.models.checkpoints import save_checkpoint

    settings, weights = config.finetune, inputs.weights
    info, names = inputs.faces.info, list(inputs.faces.class_names)
    label = alexnet_label(weights)
    frozen = TRAIN_FROM[settings.train_from]
    device = resolve_device(runtime.device)
    start_path = _start_run(inputs, config, runtime, start, progress)
    resolved = {**run_identity(config, settings.weights, weights), "start_run": start_path.name}
    start_summary = load_summary(start_path)

    def fit() -> tuple[Any, Any, Any, dict, dict]:
        clf, model, tail, fsets, groups, finfo = _trainable_tail(
            inputs, config, start_path, inputs.cache(runtime), device
        )
        trainer = Trainer(config.train, device=device, progress=progress)
        result = trainer.fit(
            tail,
            fsets["train"],
            fsets["val"],
            monitor={"test": fsets["test"]},
            param_groups=groups,
            callbacks=callbacks,
            evaluate_start=True,
        )
        final = trainer.evaluate_splits(tail, fsets)
        model.cpu().eval()
        return clf, model, result, final, finfo

    def write(run: RunDir, trained: tuple[Any, Any, Any, dict, dict]) -> dict:
        clf, model, result, final, finfo = trained
        layer = model.layer
        trained_layers, kept = _trained_layers(frozen, layer)
        desc = (
            f"{label} {layer} + FC head of 2.2, fine-tuned end to end: {', '.join(trained_layers)} (lr x {settings.lr_scale:g}) "
            f"and the head trained, {', '.join(kept)} frozen"
        )
        run.write_history(result.curve)  # epoch 0 is the 2.2 network
        plot_learning_curves(
            result.curve,
            run.file("learning_curves.png"),
            sets=["train", "val", "test"],
            title=f"{label} 2.2 network fine-tuned from {settings.train_from} on {info['name']}: "
            f"test acc {final['test_acc']:.3f}",
        )
        save_checkpoint(
            run.file("model.pt"),
            model,
            kind=FINETUNE_KIND.name,
            config=clf.config,
            class_names=names,
            image_size=settings.input_size,
            channels=3,
            meta={"description": desc, "weights": weights, "data": info["name"], "start_run": start_path.name},
        )
        return alexnet_summary(
            "2.4",
            desc,
            weights,
            {
                "freeze": settings.freeze,
                "layer": layer,
                "trained_layers": trained_layers,
                "frozen_layers": kept,
                "start_run": start_path.name,
                "start": {k: start_summary.get(k) for k in ("train_acc", "val_acc", "test_acc", "val_loss")},
                "start_epoch0": {k: result.start[k] for k in ("train_acc", "val_acc", "val_loss", "test_acc")}
                if result.start
                else {},
                **final,
                **result.summary_fields(),
                **finfo,
            },
            UNTRAINED,
        )

    spec = alexnet_run_spec(
        FINETUNE_KIND.name, inputs, resolved, config.train.seed, runtime, force=force, callbacks=callbacks
    )
    return run_cached(spec, fit, write)


# ----------------------------------------------------------------------------- the classic recipe
