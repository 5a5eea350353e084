"""The search space of the sweep (questions 1.5-1.6): architecture, regularisation, optimiser, augmentation.

`suggest_config(trial, base)` draws one `RunConfig` from an Optuna trial. Parameter names and ranges:

- depth `n_conv` 1-4; per layer `filters_i` {8, 16, 32, 64}, `kernel_i` {3, 5, 7}, `stride_i` {1, 2}
  (pyramidal, flat and inverted shapes are all in the space); `padding` valid (0) or same (kernel // 2)
- `pool` (max-pool after every conv) with `pool_size` {2, 3}, stride 2
- `fc_layers` 0-2 hidden layers of `fc_width` {32, 64, 128, 256}; `dropout` 0-0.6
- `batch_norm`, `lrn` (LocalResponseNorm), `weight_norm`: on/off
- `optimizer` sgd/adam/adamw/rmsprop, its own learning rate `lr_<optimizer>` in LR_RANGES (log: ranges in
  which the starter network trains, around the 1.4 grid's rates), `weight_decay` 1e-6-1e-2 (log), `batch_size`
- `scheduler` none/step/cosine/exponential/plateau/onecycle (+ `step_gamma` or `exp_gamma`)
- `augment` on/off; when on, `aug_<transform>` probability 0-0.5 for every registered transform and
  `aug_max_severity` 0.1-1

Everything else (data, activation, epochs, early stopping, seed) comes from `base`. Every draw is trained:
a drawn stack that would shrink the map below 1x1, flatten to over MAX_FC_INPUTS values, or cost over
MAX_MACS multiply-adds per image (a CPU budget) is fitted to the image size (`fit_architecture`: fewer
layers or same padding when the map runs out; more stride, pooling, smaller kernels, fewer filters when
it costs too much), and the changes are recorded in the trial's user attribute "fitted"; the trained
config is in "config". Bump SPACE_VERSION when names or ranges change: a study keeps one space.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cnnlab.art.config import AugmentConfig, ModelConfig, RunConfig
from cnnlab.core.errors import ConfigError
from cnnlab.core.train.config import SchedulerConfig, TrainConfig

SPACE_VERSION = 2
# Per optimizer, a learning-rate range in which the networks of this space train rather than diverge or
# stall: the 1.4 grid's rates (sgd 0.003-0.03, adam 3e-4-3e-3, rmsprop 1e-4-1e-3) widened by about 3x.
LR_RANGES = {"sgd": (1e-3, 5e-2), "adam": (1e-4, 3e-3), "adamw": (1e-4, 3e-3), "rmsprop": (3e-5, 1e-3)}
# The choices and ranges, written once (suggest_config draws from them, config_params maps a config onto them).
FILTERS, KERNELS, STRIDES, POOL_SIZES = (8, 16, 32, 64), (3, 5, 7), (1, 2), (2, 3)
FC_WIDTHS, BATCH_SIZES = (32, 64, 128, 256), (8, 16, 32, 64)
SCHEDULERS = ("none", "step", "cosine", "exponential", "plateau", "onecycle")
RANGES = {
    "dropout": (0.0, 0.6),
    "weight_decay": (1e-6, 1e-2),
    "step_gamma": (0.1, 0.7),
    "exp_gamma": (0.85, 0.99),
    "aug": (0.0, 0.5),
    "aug_max_severity": (0.1, 1.0),
}
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
        config, changes = fit_architecture(config)
        if changes:
            trial.set_user_attr("fitted", "; ".join(changes))
        reason = architecture_problem(config)
        if reason is None:
            return config
    trial.set_user_attr("invalid", reason)
    raise optuna.TrialPruned(f"invalid architecture: {reason}")


def _suggest_model(trial: Any, base: RunConfig) -> ModelConfig:
    """Depth, per-layer filters/kernel/stride, padding, pooling, FC head, dropout and normalisations."""
    n_conv = trial.suggest_int("n_conv", 1, MAX_CONV)
    filters = tuple(trial.suggest_categorical(f"filters_{i}", FILTERS) for i in range(1, n_conv + 1))
    kernels = tuple(trial.suggest_categorical(f"kernel_{i}", KERNELS) for i in range(1, n_conv + 1))
    strides = tuple(trial.suggest_categorical(f"stride_{i}", STRIDES) for i in range(1, n_conv + 1))
    same = trial.suggest_categorical("padding", ["valid", "same"]) == "same"
    pool = trial.suggest_categorical("pool", [False, True])
    pool_size = trial.suggest_categorical("pool_size", POOL_SIZES) if pool else base.model.pool_size
    fc_layers = trial.suggest_int("fc_layers", 0, 2)
    fc_width = trial.suggest_categorical("fc_width", FC_WIDTHS) if fc_layers else 0
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
        dropout=trial.suggest_float("dropout", *RANGES["dropout"]),
        batch_norm=trial.suggest_categorical("batch_norm", [False, True]),
        lrn=trial.suggest_categorical("lrn", [False, True]),
        weight_norm=trial.suggest_categorical("weight_norm", [False, True]),
    )


def _suggest_train(trial: Any, base: RunConfig) -> TrainConfig:
    """Optimizer, learning rate, weight decay, LR schedule and batch size (the rest from base.train)."""
    opt_name = trial.suggest_categorical("optimizer", list(LR_RANGES))
    optimizer = dataclasses.replace(
        base.train.optimizer,
        name=opt_name,
        lr=trial.suggest_float(f"lr_{opt_name}", *LR_RANGES[opt_name], log=True),
        weight_decay=trial.suggest_float("weight_decay", *RANGES["weight_decay"], log=True),
        nesterov=base.train.optimizer.nesterov and opt_name == "sgd",
    )
    sched_name = trial.suggest_categorical("scheduler", SCHEDULERS)
    sched: dict[str, Any] = {"name": sched_name}
    if sched_name == "step":
        sched.update(
            step_size=max(1, base.train.epochs // 3), gamma=trial.suggest_float("step_gamma", *RANGES["step_gamma"])
        )
    elif sched_name == "exponential":
        sched["gamma"] = trial.suggest_float("exp_gamma", *RANGES["exp_gamma"])
    return dataclasses.replace(
        base.train,
        batch_size=trial.suggest_categorical("batch_size", BATCH_SIZES),
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
        probabilities={n: trial.suggest_float(f"aug_{n}", *RANGES["aug"]) for n in augment_order()},
        max_severity=trial.suggest_float("aug_max_severity", *RANGES["aug_max_severity"]),
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


def _layers(config: RunConfig, n: int | None = None, **per_layer: Any) -> RunConfig:
    """`config` with its first `n` conv layers (default all) and per-layer tuples replaced by `per_layer`."""
    m = config.model
    n = len(m.filters) if n is None else n
    layers = {
        "filters": m.filters,
        "kernel_sizes": m.layer_kernels,
        "strides": m.layer_strides,
        "paddings": m.layer_paddings,
    }
    layers.update(per_layer)
    model = dataclasses.replace(m, **{k: tuple(v)[:n] for k, v in layers.items()})
    return dataclasses.replace(config, model=model)


def _set(values: tuple[int, ...], i: int, value: int) -> tuple[int, ...]:
    return tuple(value if j == i else v for j, v in enumerate(values))


def _fits(config: RunConfig, num_classes: int) -> tuple[bool, bool]:
    """(trainable, map below 1x1) of `config`."""
    problem = architecture_problem(config, num_classes)
    return problem is None, problem is not None and "below 1x1" in problem


def fit_architecture(config: RunConfig, num_classes: int = 11) -> tuple[RunConfig, list[str]]:
    """`config` itself when trainable, else the first trainable simplification of it, and what changed.

    A map that runs out (below 1x1): drop the last conv layers, then same padding, stride 1, no pooling. A
    stack that costs too much (FC inputs, MACs): stride 2 layer by layer from the first, then max-pooling,
    then 3x3 kernels and at most 16 filters from the last layer back, then fewer layers; a change that would
    make the map run out is skipped. Deterministic, so the same draw always trains the same network."""
    c, changes = config, []
    m = lambda: c.model  # noqa: E731
    while _fits(c, num_classes)[1] and len(m().filters) > 1:
        c = _layers(c, len(m().filters) - 1)
        changes.append(f"{len(m().filters)} conv layers (the map ran out)")
    rescues = [
        ("same padding", lambda c: _layers(c, paddings=[k // 2 for k in c.model.layer_kernels])),
        ("stride 1", lambda c: _layers(c, strides=[1] * len(c.model.filters))),
        ("no pooling", lambda c: dataclasses.replace(c, model=dataclasses.replace(c.model, pool=False))),
    ]
    for text, change in rescues:
        if _fits(c, num_classes)[1]:
            c = change(c)
            changes.append(text)
    n = len(m().filters)
    pool = dataclasses.replace(m(), pool=True, pool_size=2, pool_stride=2)
    shrinks = [
        (f"stride_{i + 1} 2", lambda c, i=i: _layers(c, strides=_set(c.model.layer_strides, i, 2))) for i in range(n)
    ]
    shrinks.append(("max-pool 2", lambda c: dataclasses.replace(c, model=pool) if not c.model.pool else c))
    for i in reversed(range(n)):
        shrinks.append(
            (
                f"kernel_{i + 1} 3",
                lambda c, i=i: _layers(
                    c,
                    kernel_sizes=_set(c.model.layer_kernels, i, 3),
                    paddings=_set(c.model.layer_paddings, i, min(c.model.layer_paddings[i], 1)),
                ),
            )
        )
        shrinks.append(
            (
                f"filters_{i + 1} <= 16",
                lambda c, i=i: _layers(c, filters=_set(c.model.filters, i, min(c.model.filters[i], 16))),
            )
        )
    shrinks += [
        (f"{k} conv layers", lambda c, k=k: _layers(c, k) if len(c.model.filters) > k else c)
        for k in range(n - 1, 0, -1)
    ]
    for text, change in shrinks:
        ok, _ = _fits(c, num_classes)
        if ok:
            break
        candidate = change(c)
        if candidate != c and not _fits(candidate, num_classes)[1]:
            c = candidate
            changes.append(text)
    return c, changes


def config_params(config: RunConfig) -> dict[str, Any]:
    """The space's parameters nearest to `config` (each value the nearest choice, clamped into its range): how
    a known configuration (the starter network, a suite's best variant) is queued as a trial of the search."""
    from cnnlab.art.transforms import augment_order

    near = lambda v, choices: min(choices, key=lambda c: (abs(c - v), c))  # noqa: E731
    clamp = lambda v, key: min(max(v, RANGES[key][0]), RANGES[key][1])  # noqa: E731
    m, t, a = config.model, config.train, config.augment
    n = min(len(m.filters), MAX_CONV)
    p: dict[str, Any] = {"n_conv": n}
    p.update({f"filters_{i + 1}": near(f, FILTERS) for i, f in enumerate(m.filters[:n])})
    p.update({f"kernel_{i + 1}": near(k, KERNELS) for i, k in enumerate(m.layer_kernels[:n])})
    p.update({f"stride_{i + 1}": near(s, STRIDES) for i, s in enumerate(m.layer_strides[:n])})
    same = any(m.layer_paddings) and all(pad == k // 2 for pad, k in zip(m.layer_paddings, m.layer_kernels))
    p.update(padding="same" if same else "valid", pool=m.pool)
    if m.pool:
        p["pool_size"] = near(m.pool_size, POOL_SIZES)
    p["fc_layers"] = min(len(m.fc_sizes), 2)
    if m.fc_sizes:
        p["fc_width"] = near(m.fc_sizes[0], FC_WIDTHS)
    p.update(dropout=clamp(m.dropout, "dropout"), batch_norm=m.batch_norm, lrn=m.lrn, weight_norm=m.weight_norm)
    opt = t.optimizer
    name = opt.name if opt.name in LR_RANGES else "adam"
    low, high = LR_RANGES[name]
    p.update(optimizer=name, **{f"lr_{name}": min(max(opt.lr, low), high)})
    p["weight_decay"] = clamp(opt.weight_decay, "weight_decay")
    sched = t.scheduler.name if t.scheduler.name in SCHEDULERS else "none"
    p["scheduler"] = sched
    if sched == "step":
        p["step_gamma"] = clamp(t.scheduler.gamma, "step_gamma")
    elif sched == "exponential":
        p["exp_gamma"] = clamp(t.scheduler.gamma, "exp_gamma")
    p["batch_size"] = near(t.batch_size, BATCH_SIZES)
    p["augment"] = any(v > 0 for v in a.probabilities.values())
    if p["augment"]:
        p.update({f"aug_{k}": clamp(a.probabilities.get(k, 0.0), "aug") for k in augment_order()})
        p["aug_max_severity"] = clamp(a.max_severity, "aug_max_severity")
    return p
