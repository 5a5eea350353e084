"""Part 2.4, the classic recipe: AlexNet with a new last layer (classifier.6, one output per person), trained with
the convolutional layers frozen (`features`), everything but the new layer frozen (`all-but-last`), or nothing
frozen (`none`). `cnnlab.faces.training.finetune` dispatches here for those values of finetune.freeze."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cnnlab.core.device import resolve_device
from cnnlab.core.errors import ConfigError
from cnnlab.core.runs.cached import run_cached
from cnnlab.core.runs.folders import RunDir, RunResult
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.core.train.callbacks import Callback
from cnnlab.core.train.trainer import Trainer
from cnnlab.faces.kinds import FINETUNE_KIND
from cnnlab.faces.run_configs import FinetuneRunConfig
from cnnlab.faces.training.alexnet_runs import (
    UNTRAINED,
    AlexNetInputs,
    alexnet_label,
    alexnet_run_spec,
    alexnet_summary,
    layer_features,
    run_identity,
)


class _Tail(nn.Module):
    """The trainable tail of AlexNet over cached activations: flatten -> classifier[start:]."""

    def __init__(self, classifier: nn.Sequential, start: int) -> None:
        super().__init__()
        self.layers = classifier[start:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.flatten(1))


def finetune_last_layer(
    inputs: AlexNetInputs,
    config: FinetuneRunConfig,
    runtime: RuntimeOptions,
    *,
    force: bool = False,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
) -> RunResult:
    """The classic recipe: AlexNet whose last layer (classifier.6) has one output per class, then trained
    (freeze features, all-but-last or none).

    With frozen features (or all but the last layer) the frozen part is deterministic in eval mode, so
    its output (pool5 / fc7) comes from the feature cache and only the tail trains; this is the same
    model as back-propagating through the frozen layers, minus the repeated forward passes.
    """
    from cnnlab.core.plotting import plot_learning_curves
    from cnnlab.faces.models.checkpoints import save_checkpoint
    from cnnlab.faces.models.heads import FaceAlexNet

    settings, lr = config.finetune, config.train.optimizer.lr
    faces, state_dict, weights = inputs.checked(config).faces, inputs.state_dict, inputs.weights
    info = faces.info
    label = alexnet_label(weights)
    names = list(faces.class_names)
    resolved = run_identity(config, settings.weights, weights)
    device = resolve_device(runtime.device)

    def fit() -> tuple[Any, Any, dict, dict, str]:
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
            result = trainer.fit(
                model,
                sets["train"],
                sets["val"],
                monitor={"test": sets["test"]},
                param_groups=groups,
                callbacks=callbacks,
            )
            final = trainer.evaluate_splits(model, sets)
            trained = f"all layers (pretrained at lr x {settings.lr_scale:g})"
        else:
            layer, start = ("pool5", 0) if settings.freeze == "features" else ("fc7", 6)
            feats, finfo = layer_features(inputs, [layer], inputs.cache(runtime), device)
            feats = feats[layer]
            tail = _Tail(model.classifier, start)  # shares parameters with `model`
            fsets = {k: (feats[k], sets[k][1]) for k in sets}
            new_ids = {id(p) for p in new_params}
            old = [p for p in tail.parameters() if id(p) not in new_ids]
            groups = [
                g
                for g in ({"params": old, "lr": lr * settings.lr_scale}, {"params": new_params, "lr": lr})
                if g["params"]
            ]
            result = trainer.fit(
                tail,
                fsets["train"],
                fsets["val"],
                monitor={"test": fsets["test"]},
                param_groups=groups,
                callbacks=callbacks,
            )
            final = trainer.evaluate_splits(tail, fsets)
            trained = (
                f"classifier (fc6, fc7 at lr x {settings.lr_scale:g}, new fc8)"
                if start == 0
                else "the new last layer only"
            )
        model.cpu().eval()
        return model, result, final, finfo, trained

    def write(run: RunDir, fitted: tuple[Any, Any, dict, dict, str]) -> dict:
        model, result, final, finfo, trained = fitted
        desc = f"{label} fine-tuned: last layer 4096 -> {len(names)}, trained: {trained}"
        run.write_history(result.history)
        plot_learning_curves(
            result.history,
            run.file("learning_curves.png"),
            sets=["train", "val", "test"],
            title=f"{label} fine-tuned ({settings.freeze} frozen) on {info['name']}: test acc {final['test_acc']:.3f}",
        )
        save_checkpoint(
            run.file("model.pt"),
            model,
            kind=FINETUNE_KIND.name,
            config={"dropout": settings.dropout},
            class_names=names,
            image_size=settings.input_size,
            channels=3,
            meta={"description": desc, "weights": weights, "data": info["name"]},
        )
        return alexnet_summary(
            "2.4", desc, weights, {"freeze": settings.freeze, **final, **result.summary_fields(), **finfo}, UNTRAINED
        )

    spec = alexnet_run_spec(
        FINETUNE_KIND.name, inputs, resolved, config.train.seed, runtime, force=force, callbacks=callbacks
    )
    return run_cached(spec, fit, write)
