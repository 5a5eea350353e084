"""Part 2.2: AlexNet as a fixed feature extractor on face data, and what 2.4 (cnnlab.faces.training.finetune) shares.

alexnet_features takes the AlexNet inputs (cnnlab.faces.training.alexnet_runs.AlexNetInputs: faces, weights,
feature cache), a run config (cnnlab.faces.run_configs.FeaturesRunConfig) and RuntimeOptions; runs on an untrained AlexNet
say "untrained AlexNet" in the summary, the plot titles and the checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch

from cnnlab.core.device import resolve_device
from cnnlab.core.runs.cached import run_cached
from cnnlab.core.runs.folders import RunDir, RunResult
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.core.train.callbacks import Callback
from cnnlab.core.train.trainer import Trainer
from cnnlab.faces.kinds import FEATURES_KIND
from cnnlab.faces.run_configs import FeaturesRunConfig
from cnnlab.faces.training.alexnet_runs import (
    AlexNetInputs,
    alexnet_label,
    alexnet_run_spec,
    alexnet_summary,
    layer_features,
    run_identity,
)

log = logging.getLogger(__name__)


def alexnet_features(
    inputs: AlexNetInputs,
    config: FeaturesRunConfig,
    runtime: RuntimeOptions,
    *,
    force: bool = False,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    extra_layers: Sequence[str] = (),
    write_plots: bool = True,
) -> RunResult:
    """2.2: AlexNet `features.layer` activations (cached on disk) -> a fully connected head trained on them,
    written to runtime.out and trained on runtime.device.

    `inputs.faces` must be RGB at features.input_size (AlexNetInputs.load(config, config.features.weights)).
    The checkpoint holds the trunk up to the layer plus the head, so predict/explain take raw images. Seeded
    by config.train.seed. `extra_layers` are cached in the same pass through AlexNet (the frozen layer a 2.4
    fine-tuning from this run starts from). write_plots=False: no learning-curve picture (the layer sweep's
    many runs; the numbers and the checkpoint are written as always).
    """
    from cnnlab.core.plotting import plot_learning_curves
    from cnnlab.faces.models.checkpoints import save_checkpoint
    from cnnlab.faces.models.heads import FeatureClassifier, FeatureHead

    faces, state_dict, weights = inputs.checked(config).faces, inputs.state_dict, inputs.weights
    settings = config.features
    info = faces.info
    label = alexnet_label(weights)
    cache_dir = inputs.cache(runtime)
    device = resolve_device(runtime.device)
    identity = run_identity(config, settings.weights, weights)
    spec = alexnet_run_spec(
        FEATURES_KIND.name, inputs, identity, config.train.seed, runtime, force=force, callbacks=callbacks
    )
    names = list(faces.class_names)

    def fit() -> tuple[Any, Any, dict, dict, int]:
        with torch.random.fork_rng(
            devices=[]
        ):  # the feature pass leaves the run's generator alone: the head's init follows the seed
            # Pooled activations (the depth sweep) are their own pass; the extra layers are always cached unpooled.
            grid = settings.pool_grid
            together = [settings.layer, *([] if grid else extra_layers)]
            feats, finfo = layer_features(inputs, together, cache_dir, device, grid)
            if grid and extra_layers:
                layer_features(inputs, extra_layers, cache_dir, device)
        feats = feats[settings.layer]
        sets = faces.splits
        fsets = {k: (feats[k], sets[k][1]) for k in sets}
        head = FeatureHead(feats["train"].shape[1], settings.head_hidden, len(names), settings.dropout)
        head.fit_standardizer(feats["train"])
        trainer = Trainer(config.train, device=device, progress=progress)
        result = trainer.fit(head, fsets["train"], fsets["val"], monitor={"test": fsets["test"]}, callbacks=callbacks)
        final = trainer.evaluate_splits(head, fsets)
        head.cpu()
        model = FeatureClassifier(
            settings.layer,
            feats["train"].shape[1],
            settings.head_hidden,
            len(names),
            settings.dropout,
            grid=settings.pool_grid,
        )
        model.load_from_alexnet(state_dict)
        model.head.load_state_dict(head.state_dict())
        return model, result, final, finfo, int(feats["train"].shape[1])

    def write(run: RunDir, trained: tuple[Any, Any, dict, dict, int]) -> dict:
        model, result, final, finfo, dim = trained
        hidden = "-".join(str(h) for h in settings.head_hidden) or "linear"
        pooled = f" pooled to {settings.pool_grid}x{settings.pool_grid}" if settings.pool_grid else ""
        desc = f"{label} {settings.layer} features{pooled} ({dim}) -> FC {hidden} -> {len(names)}"
        run.write_history(result.history)
        if write_plots:
            plot_learning_curves(
                result.history,
                run.file("learning_curves.png"),
                sets=["train", "val", "test"],
                title=f"{desc} on {info['name']}: test acc {final['test_acc']:.3f}",
            )
        config_m = {
            "layer": settings.layer,
            "grid": settings.pool_grid,
            "in_features": dim,
            "hidden": list(settings.head_hidden),
            "dropout": settings.dropout,
        }
        save_checkpoint(
            run.file("model.pt"),
            model,
            kind=FEATURES_KIND.name,
            config=config_m,
            class_names=names,
            image_size=settings.input_size,
            channels=3,
            meta={"description": desc, "weights": weights, "data": info["name"]},
        )
        return alexnet_summary(
            "2.2",
            desc,
            weights,
            {"layer": settings.layer, "feature_dim": dim, **final, **result.summary_fields(), **finfo},
            "untrained AlexNet: random weights, features carry no ImageNet knowledge",
        )

    return run_cached(spec, fit, write)
