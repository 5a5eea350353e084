"""The search space of the sweep (questions 1.5-1.6): architecture, regularisation, optimiser, augmentation.

`suggest_config(trial, base)` draws one `RunConfig` from an Optuna trial. Parameter names and ranges:

- depth `n_conv` 1-4; per layer `filters_i` {8, 16, 32, 64}, `kernel_i` {3, 5, 7}, `stride_i` {1, 2}
  (pyramidal, flat and inverted shapes are all in the space); `padding` valid (0) or same (kernel // 2)
- `pool` (max-pool after every conv) with `pool_size` {2, 3}, stride 2
- `fc_layers` 0-2 hidden layers of `fc_width` {32, 64, 128, 256}; `dropout` 0-0.6
- `batch_norm`, `lrn` (LocalResponseNorm), `weight_norm`: on/off
- `optimizer` sgd/adam/adamw/rmsprop, `lr` 1e-4-3e-2 (log), `weight_decay` 1e-6-1e-2 (log), `batch_size`
- `scheduler` none/step/cosine/exponential/plateau/onecycle (+ `step_gamma` or `exp_gamma`)
- `augment` on/off; when on, `aug_<transform>` probability 0-0.5 for every registered transform and
  `aug_max_severity` 0.1-1

Everything else (data, activation, epochs, early stopping, seed) comes from `base`. Some draws are not
trainable: a stack that shrinks the map below 1x1, a flattened feature map over MAX_FC_INPUTS values, or
over MAX_MACS multiply-adds per image (a CPU budget). Those raise `optuna.TrialPruned` before any
training, with the reason in the trial's user attribute "invalid"; the sweep replaces them, so every
requested trial trains. Bump SPACE_VERSION when names or ranges change: a study keeps one space.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cnnlab.art.config import AugmentConfig, ModelConfig, RunConfig
from cnnlab.core.errors import ConfigError
from cnnlab.core.train.config import SchedulerConfig, TrainConfig

SPACE_VERSION = 1
MAX_CONV = 4
MAX_FC_INPUTS = 32_768  # flattened conv output: the first FC layer has this x fc_width weights
MAX_MACS = 50_000_000  # per image, conv + FC (the starter network: about 1.4M)


def suggest_config(trial: Any, base: RunConfig) -> RunConfig:
    """The RunConfig of one trial; raises optuna.TrialPruned (user attr "invalid") for untrainable draws."""
    import optuna

    # The order of the suggest_* calls is part of the space: random draws follow it.
    model = _suggest_model(trial, base)
    train = _suggest_train(trial, base)
    augment = _suggest_augment(trial, base)
    try:
        config = dataclasses.replace(base, model=model, train=train, augment=augment)
    except ConfigError as exc:  # pragma: no cover - every value above is in range
        reason = str(exc)
    else:
        reason = architecture_problem(config)
        if reason is None:
            return config
    trial.set_user_attr("invalid", reason)
    raise optuna.TrialPruned(f"invalid architecture: {reason}")


def _suggest_model(trial: Any, base: RunConfig) -> ModelConfig:
    """Depth, per-layer filters/kernel/stride, padding, pooling, FC head, dropout and normalisations."""
    n_conv = trial.suggest_int("n_conv", 1, MAX_CONV)
    filters = tuple(trial.suggest_categorical(f"filters_{i}", [8, 16, 32, 64]) for i in range(1, n_conv + 1))
    kernels = tuple(trial.suggest_categorical(f"kernel_{i}", [3, 5, 7]) for i in range(1, n_conv + 1))
    strides = tuple(trial.suggest_categorical(f"stride_{i}", [1, 2]) for i in range(1, n_conv + 1))
    same = trial.suggest_categorical("padding", ["valid", "same"]) == "same"
    pool = trial.suggest_categorical("pool", [False, True])
    pool_size = trial.suggest_categorical("pool_size", [2, 3]) if pool else base.model.pool_size
    fc_layers = trial.suggest_int("fc_layers", 0, 2)
    fc_width = trial.suggest_categorical("fc_width", [32, 64, 128, 256]) if fc_layers else 0
    return dataclasses.replace(
        base.model,
        filters=filters,
        kernel_sizes=kernels,
        strides=strides,
        paddings=tuple(k // 2 if same else 0 for k in kernels),
        pool=pool,
        pool_size=pool_size,
        pool_stride=2 if pool else base.model.pool_stride,
        fc_sizes=(fc_width,) * fc_layers,
        dropout=trial.suggest_float("dropout", 0.0, 0.6),
        batch_norm=trial.suggest_categorical("batch_norm", [False, True]),
        lrn=trial.suggest_categorical("lrn", [False, True]),
        weight_norm=trial.suggest_categorical("weight_norm", [False, True]),
    )


def _suggest_train(trial: Any, base: RunConfig) -> TrainConfig:
    """Optimizer, learning rate, weight decay, LR schedule and batch size (the rest from base.train)."""
    opt_name = trial.suggest_categorical("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
    optimizer = dataclasses.replace(
        base.train.optimizer,
        name=opt_name,
        lr=trial.suggest_float("lr", 1e-4, 3e-2, log=True),
        weight_decay=trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        nesterov=base.train.optimizer.nesterov and opt_name == "sgd",
    )
    sched_name = trial.suggest_categorical(
        "scheduler", ["none", "step", "cosine", "exponential", "plateau", "onecycle"]
    )
    sched: dict[str, Any] = {"name": sched_name}
    if sched_name == "step":
        sched.update(step_size=max(1, base.train.epochs // 3), gamma=trial.suggest_float("step_gamma", 0.1, 0.7))
    elif sched_name == "exponential":
        sched["gamma"] = trial.suggest_float("exp_gamma", 0.85, 0.99)
    return dataclasses.replace(
        base.train,
        batch_size=trial.suggest_categorical("batch_size", [8, 16, 32, 64]),
        optimizer=optimizer,
        scheduler=dataclasses.replace(
            base.train.scheduler if base.train.scheduler.name == sched_name else SchedulerConfig(), **sched
        ),
    )


def _suggest_augment(trial: Any, base: RunConfig) -> AugmentConfig:
    """Augmentation off, or on with a probability for every registered transform and a severity cap."""
    from cnnlab.art.transforms import augment_order

    if not trial.suggest_categorical("augment", [False, True]):
        return AugmentConfig(probabilities={}, max_severity=base.augment.max_severity)
    return AugmentConfig(
        probabilities={n: trial.suggest_float(f"aug_{n}", 0.0, 0.5) for n in augment_order()},
        max_severity=trial.suggest_float("aug_max_severity", 0.1, 1.0),
    )


def architecture_problem(config: RunConfig, num_classes: int = 11) -> str | None:
    """Why SimpleCNN(config) cannot be trained here (map below 1x1, too many FC inputs or MACs), or None."""
    from cnnlab.core.layers import conv_output_size

    m = config.model
    size, channels, macs = config.data.image_size, 3, 0
    for i, (f, k, s, p) in enumerate(zip(m.filters, m.layer_kernels, m.layer_strides, m.layer_paddings), start=1):
        new = conv_output_size(size, k, s, p)
        if new < 1:
            return f"conv layer {i} (kernel {k}, stride {s}) shrinks the {size}x{size} map below 1x1"
        macs += new * new * f * channels * k * k  # (H', W', C_out) outputs, each C_in * k * k MACs
        size, channels = new, f
        if m.pool:
            pooled = conv_output_size(size, m.pool_size, m.pool_stride, 0)
            if pooled < 1:
                return f"max-pool after conv layer {i} shrinks the {size}x{size} map below 1x1"
            size = pooled
    flat = channels * size * size
    if flat > MAX_FC_INPUTS:
        return f"{channels}x{size}x{size} = {flat} FC inputs (limit {MAX_FC_INPUTS}); more downsampling needed"
    for width in (*m.fc_sizes, num_classes):
        macs += flat * width
        flat = width
    if macs > MAX_MACS:
        return f"{macs / 1e6:.0f}M multiply-adds per image (limit {MAX_MACS / 1e6:.0f}M)"
    return None
