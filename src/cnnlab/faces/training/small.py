"""Part 2 experiments (questions 2.1, 2.3) on face data, each writing a cached run folder.

This module: loading the faces a run config asks for, shared helpers, and the MLP runs; the AlexNet
runs are in cnnlab.faces.training.transfer (2.2 alexnet_features) and cnnlab.faces.training.finetune (2.4 alexnet_finetune). Every run takes its
run config from cnnlab.faces.run_configs.

  train_mlp   2.1: MLP on 28x28 faces; learning curves (train/val/test), test accuracy, weight grid;
              2.3 runs it once per size in cnnlab.faces.run_configs.WEIGHT_STUDY_HIDDEN (300 and 800)

Every run folder holds config.json (the resolved run config), metrics.csv/jsonl, learning_curves.png,
summary.json and model.pt (a self-describing checkpoint for `cnnlab predict` / `cnnlab explain`).
Runs on an untrained (random-weight) AlexNet say "untrained AlexNet" in the summary, the plot titles
and the checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from cnnlab.core.config import to_dict
from cnnlab.core.device import device_name, resolve_device
from cnnlab.core.layers import count_parameters
from cnnlab.core.runs.cached import RunSpec, run_cached
from cnnlab.core.runs.folders import RunDir, RunResult
from cnnlab.core.runtime import DEFAULT_DEVICE, DEFAULT_OUT
from cnnlab.core.stats import aggregate
from cnnlab.core.train.callbacks import Callback
from cnnlab.core.train.config import MONITOR_BEST, MONITOR_NAMES
from cnnlab.core.train.trainer import Augment, Trainer
from cnnlab.faces.data.run_faces import check_faces
from cnnlab.faces.kinds import FACE_CNN_KIND, MLP_KIND
from cnnlab.faces.run_configs import INIT_DESCRIPTIONS, CNNRunConfig, FaceRunConfig, MLPRunConfig

log = logging.getLogger(__name__)


def hflip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image (B, C, H, W) left-right with probability 0.5 (faces are near-symmetric)."""
    mask = (torch.rand(len(x), generator=generator) < 0.5).to(x.device)
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


def random_shift(x: torch.Tensor, generator: torch.Generator, max_shift: int) -> torch.Tensor:
    """Shift each image (B, C, H, W) by its own random (dy, dx) in [-max_shift, max_shift]^2, replicating
    the edge pixels into the space uncovered (no black borders for the MLP to learn)."""
    if max_shift <= 0:
        return x
    b, _, h, w = x.shape
    offsets = torch.randint(0, 2 * max_shift + 1, (b, 2), generator=generator).tolist()
    padded = F.pad(x, (max_shift,) * 4, mode="replicate")  # (B, C, H + 2s, W + 2s)
    return torch.stack([padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets)])


def mlp_augmentation(flip: bool, shift: int) -> Augment | None:
    """The training-batch augmentation of MLPConfig (random flips, then random shifts), or None."""
    if not flip and shift <= 0:
        return None

    def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if flip:
            x = hflip(x, generator)
        return random_shift(x, generator, shift)

    return augment


def seed_summary(results: Sequence[RunResult]) -> dict[str, float]:
    """Mean and sample std (0 for one run) of train/val/test accuracy over runs that differ by seed."""
    return aggregate([r.summary for r in results], ("train_acc", "val_acc", "test_acc"))


# ----------------------------------------------------------------------------- 2.1 / 2.3: MLP
STANDARDIZE_TEXT = {
    "pixel": "standardised per pixel with the training set (mean face subtracted, divided by each pixel's std)",
    "channel": "standardised per channel with the training set's mean and std",
    "none": "not standardised",
}


def describe_selection(config: FaceRunConfig) -> str:
    """How training ends and which epoch's weights are kept, from config.train (the Trainer always
    restores the weights of the best epoch by the early-stopping monitor)."""
    stop = config.train.early_stopping
    best = MONITOR_BEST[stop.monitor]
    if stop.patience is None:
        return f"{config.train.epochs} epochs, model kept at the epoch of {best}"
    return (
        f"up to {config.train.epochs} epochs, stopped early after {stop.patience} epochs without improvement in "
        f"{MONITOR_NAMES[stop.monitor]}, model kept at the epoch of {best}"
    )


def describe_mlp(config: MLPRunConfig, num_classes: int) -> str:
    """A sentence describing the system (what 2.1 asks the report to state), from the run config."""
    m, t = config.mlp, config.train
    colour = "grayscale" if m.channels == 1 else "RGB"
    extras = "".join(
        [
            f", dropout {m.dropout:g}" if m.dropout else "",
            ", random horizontal flips of training faces" if m.flip else "",
            f", random shifts of training faces by up to {m.shift} px" if m.shift else "",
            f", {t.scheduler.name} learning-rate schedule" if t.scheduler.name != "none" else "",
        ]
    )
    return (
        f"{m.image_size}x{m.image_size} {colour} face crops scaled to [0, 1], "
        f"{'each standardised by its own mean and std, then ' if m.per_image else ''}{STANDARDIZE_TEXT[m.standardize]}, "
        f"flattened to {m.input_dim} inputs -> fully connected {m.hidden} units, {m.activation} -> {num_classes} logits, "
        f"softmax cross-entropy; weights initialised {m.init} ({INIT_DESCRIPTIONS[m.init]}); {t.optimizer.name} lr "
        f"{t.optimizer.lr:g}, L2 weight decay {t.optimizer.weight_decay:g}, batch {t.batch_size}{extras}, "
        f"{describe_selection(config)}"
    )


# Recipe-selection runs (cnnlab.faces.training.mlp_recipes) never see the test split: it is not evaluated, not even
# recorded per epoch. The marker is part of such a run's identity, so the cache never mixes the two kinds.
NO_TEST = {"test_split": "not evaluated (a run that chooses a recipe on validation)"}


def _fit_small(
    faces: Any,
    config: MLPRunConfig | CNNRunConfig,
    model: Any,
    device: torch.device,
    progress: bool,
    callbacks: Sequence[Callback],
    evaluate_test: bool,
) -> tuple[Any, Any, dict]:
    """Train a small face network (the MLP or the CNN, built with its standardisation buffers) on `faces`;
    the model at its best epoch, the fit result and the accuracy per split (test only when `evaluate_test`)."""
    seen = config.mlp if isinstance(config, MLPRunConfig) else config.cnn
    sets = faces.splits if evaluate_test else {k: v for k, v in faces.splits.items() if k != "test"}
    trainer = Trainer(config.train, device=device, progress=progress)
    result = trainer.fit(
        model,
        sets["train"],
        sets["val"],
        monitor={"test": sets["test"]} if evaluate_test else None,
        augment=mlp_augmentation(seen.flip, seen.shift),
        callbacks=callbacks,
    )
    return model, result, trainer.evaluate_splits(model, sets)  # the best epoch's weights are loaded


def _small_spec(
    kind: str, config: Any, faces: Any, out_root: Any, device: Any, force: bool, callbacks: Any, evaluate_test: bool
) -> RunSpec:
    identity = {**to_dict(config), **({} if evaluate_test else NO_TEST)}
    return RunSpec(
        out_root,
        kind,
        identity,
        faces.info,
        config.train.seed,
        force=force,
        callbacks=callbacks,
        device=device_name(device),
    )


def _draw_curves(run: RunDir, history: Any, title: str, evaluate_test: bool) -> None:
    from cnnlab.core.plotting import draw_safely, plot_learning_curves

    sets = ["train", "val", "test"] if evaluate_test else ["train", "val"]
    # A figure that fails is one warning: the run folder is never lost over a figure.
    draw_safely(
        lambda: plot_learning_curves(history, run.file("learning_curves.png"), title=title, sets=sets),
        "the learning curves",
    )


def train_mlp(
    faces: Any,
    config: MLPRunConfig,
    out_root: str | Path = DEFAULT_OUT,
    *,
    device: str = DEFAULT_DEVICE,
    force: bool = False,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    evaluate_test: bool = True,
    write_plots: bool = True,
) -> RunResult:
    """2.1: train the MLP on `faces` (load_run_faces(config)); write its run folder, seeded by config.train.seed.

    Writes learning curves for train/val/test (plot + metrics.csv), model.pt, and weights.png: the input
    weights of the chosen hidden units (config.mlp.unit_rule), each titled with the class it favours.
    evaluate_test=False: a recipe-selection run that never evaluates the test split (NO_TEST);
    write_plots=False: no pictures (the numbers and the checkpoint are written as always).
    """
    from cnnlab.core.plotting import draw_safely
    from cnnlab.faces.inspect.weight_pictures import plot_weight_grid
    from cnnlab.faces.models.checkpoints import save_checkpoint
    from cnnlab.faces.models.inputs import input_stats
    from cnnlab.faces.models.mlp import MLP, choose_units

    check_faces(faces, config, "the MLP")
    m = config.mlp
    names = list(faces.class_names)
    info = faces.info
    device = resolve_device(device)
    spec = _small_spec(MLP_KIND.name, config, faces, out_root, device, force, callbacks, evaluate_test)

    def fit() -> tuple[Any, Any, dict]:
        mean, std = input_stats(faces.train_x, m.standardize, m.per_image)
        return _fit_small(faces, config, MLP(m, len(names), mean, std), device, progress, callbacks, evaluate_test)

    def write(run: RunDir, trained: tuple[Any, Any, dict]) -> dict:
        model, result, final = trained
        model.cpu()
        chosen = choose_units(model, m.unit_rule, m.units_per_class)
        chosen = sorted(chosen, key=lambda u: -u["score"])[: m.max_tiles]
        chosen = sorted(chosen, key=lambda u: (u["class_index"], -u["score"]))
        for u in chosen:
            u["class"] = names[u["class_index"]]
            u["favours_class"] = names[u["favours"]]
        if m.unit_rule == "most-selective":
            grid_title = (
                f"MLP {m.hidden} hidden: input weights of the {len(chosen)} most class-selective units "
                f"({m.unit_rule}; red +, blue -), each titled with the class it favours"
            )
        else:
            grid_title = (
                f"MLP {m.hidden} hidden: input weights of the units with the largest outgoing weight "
                f"to each class (red +, blue -)"
            )
        run.write_history(result.history)
        if write_plots:
            score = f"test acc {final['test_acc']:.3f}" if evaluate_test else f"val acc {final['val_acc']:.3f}"
            _draw_curves(
                run, result.history, f"MLP {m.hidden} hidden ({m.activation}) on {info['name']}: {score}", evaluate_test
            )
            draw_safely(
                lambda: plot_weight_grid(model, chosen, names, run.file("weights.png"), title=grid_title),
                "the weight pictures",
            )
        run.write_json("weight_units.json", chosen)
        save_checkpoint(
            run.file("model.pt"),
            model,
            kind=MLP_KIND.name,
            config=to_dict(m),
            class_names=names,
            image_size=m.image_size,
            channels=m.channels,
            meta={"description": f"MLP {m.hidden} hidden ({m.activation})", "data": info["name"]},
        )
        return {
            "question": "2.1/2.3",
            "model": f"MLP {m.input_dim}-{m.hidden}-{len(names)} ({m.activation})",
            "description": describe_mlp(config, len(names)),
            "architecture": m.architecture(len(names)),
            "params": count_parameters(model),
            "init": m.init,
            "standardize": m.standardize,
            **final,
            **result.summary_fields(),
            "weight_units": chosen,
            "weight_unit_rule": m.unit_rule,
        }

    return run_cached(spec, fit, write)


def describe_cnn(config: CNNRunConfig, num_classes: int) -> str:
    """A sentence describing the small CNN and its training, from the run config."""
    c = config.cnn
    convs = " -> ".join(f"conv {c.kernel_size}x{c.kernel_size} {w}, ReLU, max-pool 2" for w in c.widths)
    side = c.image_size // 2 ** len(c.widths)
    return (
        f"{c.image_size}x{c.image_size} {'grayscale' if c.channels == 1 else 'RGB'} faces, "
        f"{'each standardised by its own mean and std, then ' if c.per_image else ''}{STANDARDIZE_TEXT[c.standardize]}"
        f" -> {convs} -> {c.widths[-1]}x{side}x{side} -> linear {num_classes}; trained as the MLP: "
        f"{config.train.optimizer.name} lr {config.train.optimizer.lr:g}, L2 {config.train.optimizer.weight_decay:g}"
        f", batch {config.train.batch_size}, {describe_selection(config)}"
    )


def train_face_cnn(
    faces: Any,
    config: CNNRunConfig,
    out_root: str | Path = DEFAULT_OUT,
    *,
    device: str = DEFAULT_DEVICE,
    force: bool = False,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    evaluate_test: bool = True,
    write_plots: bool = True,
) -> RunResult:
    """The small CNN (cnnlab.faces.models.cnn) on `faces`, as train_mlp: run folder with curves and model.pt.
    Build its config with cnnlab.faces.run_configs.cnn_like_mlp to compare it with an MLP run, paired by seed."""
    from cnnlab.faces.models.checkpoints import save_checkpoint
    from cnnlab.faces.models.cnn import FaceCNN
    from cnnlab.faces.models.inputs import input_stats

    check_faces(faces, config, "the CNN")
    c = config.cnn
    names = list(faces.class_names)
    info = faces.info
    device = resolve_device(device)
    spec = _small_spec(FACE_CNN_KIND.name, config, faces, out_root, device, force, callbacks, evaluate_test)

    def fit() -> tuple[Any, Any, dict]:
        mean, std = input_stats(faces.train_x, c.standardize, c.per_image)
        return _fit_small(faces, config, FaceCNN(c, len(names), mean, std), device, progress, callbacks, evaluate_test)

    def write(run: RunDir, trained: tuple[Any, Any, dict]) -> dict:
        model, result, final = trained
        model.cpu()
        run.write_history(result.history)
        widths = "-".join(map(str, c.widths))
        if write_plots:
            score = f"test acc {final['test_acc']:.3f}" if evaluate_test else f"val acc {final['val_acc']:.3f}"
            _draw_curves(run, result.history, f"small CNN {widths} on {info['name']}: {score}", evaluate_test)
        save_checkpoint(
            run.file("model.pt"),
            model,
            kind=FACE_CNN_KIND.name,
            config=to_dict(c),
            class_names=names,
            image_size=c.image_size,
            channels=c.channels,
            meta={"description": f"small CNN {widths}", "data": info["name"]},
        )
        return {
            "question": "2.1 (CNN)",
            "model": f"CNN conv {widths} -> {len(names)}",
            "description": describe_cnn(config, len(names)),
            "params": count_parameters(model),
            **final,
            **result.summary_fields(),
        }

    return run_cached(spec, fit, write)
