"""The Part 1 suites, one per handout question (1.2-1.7). Registered into `suites.SUITES`.

Every suite runs its variants on the same repeats as its reference (`run_paired`), each in the
training regime its question needs, written once here and recorded in suite.json ("regime"):

- 1.2 the handout's starter network and training as they are (Adam 1e-4, 50 epochs);
- 1.3 and 1.5 FAIR_BUDGET: every variant trains until its validation accuracy plateaus (early
  stopping on it, generous maximum), at a learning rate that suits all of them, so a deeper or
  pooled network does not lose merely for being undertrained;
- 1.4 OVERFIT_REGIME: a budget in which the baseline clearly overfits (train ~99 %, validation far
  below), so a regulariser has something to fix; each optimizer runs at the learning rate of a small
  grid that is best on validation, and its weight decay grid at that rate;
- 1.6 and 1.7 SEARCH_REGIME: the starter's budget with early stopping on validation accuracy.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from cnnlab.art.config import RunConfig
from cnnlab.art.suites import labels
from cnnlab.art.suites.common import (
    SUITES,
    SuiteOptions,
    SuiteResult,
    Variant,
    compare,
    run_on_repeats_of,
    run_paired,
    run_variants,
    with_overrides,
    write_suite,
)
from cnnlab.art.suites.plots import plot_mean_curves, plot_variant_bars
from cnnlab.core.config import to_dict
from cnnlab.core.stats import format_record
from cnnlab.core.train.config import OPTIMIZER_NAMES

log = logging.getLogger(__name__)
BASELINE = Variant(labels.STARTER, "baseline")

# Measured on the embedded data (5 repeats): at Adam 1e-3 every 1.3/1.5 variant keeps an epoch between 9
# and 32 on average and stops by epoch 42, well before the maximum; Adam 3e-4 did not do better for the
# deeper networks (3 repeats: 3 conv layers 0.61 vs 0.58, 4 conv layers 0.56 vs 0.63 best validation accuracy).
FAIR_BUDGET = (
    "train.optimizer.lr=0.001",
    "train.epochs=100",
    "train.early_stopping.patience=10",
    "train.early_stopping.monitor=val_acc",
)
# At Adam 1e-3 for 40 epochs the starter reaches 99 % training and 60 % validation accuracy (5 repeats).
REG_LR = 0.001
OVERFIT_REGIME = (f"train.optimizer.lr={REG_LR}", "train.epochs=40")
SEARCH_REGIME = ("train.early_stopping.patience=10", "train.early_stopping.monitor=val_acc")
# 1.4: learning rates tried per optimizer (the baseline's Adam 1e-3 is one of Adam's); the best mean
# validation accuracy picks each optimizer's rate for its weight decay grid.
LR_GRID = {"sgd": (0.003, 0.01, 0.03), "adam": (0.0003, 0.001, 0.003), "rmsprop": (0.0001, 0.0003, 0.001)}
# L2 (SGD, Adam) and decoupled decay (AdamW, at Adam's rate): from hardly any to clearly too strong.
DECAY_GRID = {"sgd": (0.01, 0.1, 1.0), "adam": (0.01, 0.1, 1.0), "adamw": (0.1, 1.0, 10.0)}
DROPOUTS = (0.25, 0.5, 0.75)
PATIENCES = (3, 5, 10)


def _regime(options: SuiteOptions, overrides: tuple[str, ...]) -> tuple[RunConfig, dict]:
    """The suite's base config (options.base with the regime's overrides) and its record for suite.json."""
    base = with_overrides(options.base, overrides)
    return base, {"overrides": list(overrides), "train": to_dict(base.train)}


@SUITES.register("baseline")
def baseline_suite(options: SuiteOptions) -> SuiteResult:
    """1.2: the starter network; the train-validation gap over epochs."""
    rows = run_variants([BASELINE], options)
    r = rows[0]
    gap = r["train_acc_mean"] - r["val_acc_mean"]
    findings = [
        f"starter network: train {format_record(r, 'train_acc')}, validation {format_record(r, 'val_acc')} accuracy after {r['epochs_run_mean']:.0f} epochs",
        f"train-validation gap {gap:+.3f}: "
        + (
            "the network fits the training set much better than it generalises (overfitting)"
            if gap > 0.1
            else "small: little overfitting at this budget"
        ),
    ]
    result = write_suite("baseline", options, rows, findings, extra={"regime": _regime(options, ())[1]})
    plot_mean_curves(
        r["run_paths"], result.path / "learning_curves.png", f"Starter SimpleCNN, mean ± std over {r['n']} repeats"
    )
    return result


@SUITES.register("pooling")
def pooling_suite(options: SuiteOptions) -> SuiteResult:
    """1.3: max-pooling off vs on, several sizes and strides (all valid on 50x50 inputs), each trained to its plateau."""
    base_config, regime = _regime(options, FAIR_BUDGET)
    variants = [
        Variant(
            f"pool {size}/{stride}",
            "max-pool size/stride",
            ("model.pool=true", f"model.pool_size={size}", f"model.pool_stride={stride}"),
        )
        for size, stride in ((2, 2), (3, 2), (2, 1), (3, 1))
    ]
    rows = run_paired(replace(BASELINE, label=labels.NO_POOLING), variants, options, base_config)
    base = labels.find_variant(rows, labels.NO_POOLING, "pooling")
    findings = compare(rows, base)
    findings.append(
        "train-validation gap per variant: "
        + ", ".join(f"{r['variant']} {r['train_acc_mean'] - r['val_acc_mean']:+.3f}" for r in rows)
    )
    findings.append(
        "epochs used (mean, early stopping on validation accuracy): "
        + ", ".join(f"{r['variant']} {r['epochs_run_mean']:.0f}" for r in rows)
    )
    result = write_suite("pooling", options, rows, findings, extra={"regime": regime})
    plot_variant_bars(rows, result.path / "accuracy.png", "Max-pooling (mean ± std over repeats)", base)
    return result


def regularization_variants(lr_pick: dict[str, float] | None = None) -> list[Variant]:
    """The 1.4 variants, baseline first: dropout, optimizers over LR_GRID, weight decay at each
    optimizer's picked rate (`lr_pick`, default: the baseline's rate for Adam and each grid's middle), early stopping, schedules."""
    pick = {"sgd": LR_GRID["sgd"][1], "adam": REG_LR, "rmsprop": LR_GRID["rmsprop"][1], **(lr_pick or {})}
    v = [replace(BASELINE, label=labels.REG_BASELINE)]
    v += [Variant(f"dropout {p:g}", labels.DROPOUT, (f"model.dropout={p}",)) for p in DROPOUTS]
    momentum = {
        "sgd": ("train.optimizer.momentum=0.9",),
        "rmsprop": ("train.optimizer.momentum=0.0",),
        "adam": (),
        "adamw": (),
    }
    for name, lrs in LR_GRID.items():
        v += [
            Variant(
                labels.lr_label(name, lr),
                labels.OPTIMIZER,
                (f"train.optimizer.name={name}", f"train.optimizer.lr={lr}") + momentum[name],
            )
            for lr in lrs
            if not (name == "adam" and lr == REG_LR)
        ]  # Adam at the baseline's rate is the baseline
    for name, decays in DECAY_GRID.items():
        lr = pick["adam" if name == "adamw" else name]
        v += [
            Variant(
                labels.decay_label(name, wd),
                labels.WEIGHT_DECAY,
                (f"train.optimizer.name={name}", f"train.optimizer.lr={lr}", f"train.optimizer.weight_decay={wd}")
                + momentum[name],
            )
            for wd in decays
        ]
    v += [
        Variant(f"early stop p{p}", labels.EARLY_STOPPING, (f"train.early_stopping.patience={p}",)) for p in PATIENCES
    ]
    v += [
        Variant(
            "early stop p5 (val loss)",
            labels.EARLY_STOPPING,
            ("train.early_stopping.patience=5", "train.early_stopping.monitor=val_loss"),
        )
    ]
    v += [
        Variant(
            "StepLR",
            labels.SCHEDULE,
            ("train.scheduler.name=step", "train.scheduler.step_size=10", "train.scheduler.gamma=0.5"),
        ),
        Variant("cosine", labels.SCHEDULE, ("train.scheduler.name=cosine",)),
        Variant("one-cycle", labels.SCHEDULE, ("train.scheduler.name=onecycle", "train.scheduler.max_lr=0.003")),
        Variant("plateau", labels.SCHEDULE, ("train.scheduler.name=plateau", "train.scheduler.patience=3")),
    ]
    return v


def pick_learning_rates(rows: list[dict], base: dict) -> dict[str, float]:
    """Per optimizer of LR_GRID, the rate whose row (or the baseline, for Adam at its rate) has the best mean validation accuracy."""
    pick = {}
    for name, lrs in LR_GRID.items():
        scored = [(r["val_acc_mean"], lr) for lr in lrs for r in rows if r["variant"] == labels.lr_label(name, lr)]
        if name == "adam":
            scored.append((base["val_acc_mean"], REG_LR))
        pick[name] = max(scored)[1]
    return pick


@SUITES.register("regularization")
def regularization_suite(options: SuiteOptions) -> SuiteResult:
    """1.4: each regulariser alone against a baseline that overfits, all on the same repeats."""
    base_config, regime = _regime(options, OVERFIT_REGIME)
    first = [v for v in regularization_variants() if v.group != labels.WEIGHT_DECAY]
    rows = run_paired(first[0], first[1:], options, base_config)
    base = rows[0]
    lr_pick = pick_learning_rates(rows, base)
    decay = [v for v in regularization_variants(lr_pick) if v.group == labels.WEIGHT_DECAY]
    decay_rows = run_on_repeats_of(base, decay, options, base_config)
    for r in decay_rows:  # what each decay is judged against: the same optimizer at the same rate without decay
        name = r["overrides"].split("train.optimizer.name=")[1].split()[0]
        opt = "adam" if name == "adamw" else name
        r["decay_reference"] = (
            labels.REG_BASELINE if opt == "adam" and lr_pick[opt] == REG_LR else labels.lr_label(opt, lr_pick[opt])
        )
    rows += decay_rows
    order = {g: i for i, g in enumerate(labels.REG_GROUPS)}
    rows = [base] + sorted(
        rows[1:], key=lambda r: order.get(r["group"], len(order))
    )  # stable: grid order within a group
    findings = compare(rows, base)
    findings.insert(
        0,
        f"baseline train-validation gap {base['train_acc_mean'] - base['val_acc_mean']:+.3f} after {base['epochs_run_mean']:.0f} epochs; "
        "learning rates picked on validation: " + ", ".join(f"{OPTIMIZER_NAMES[k]} {v:g}" for k, v in lr_pick.items()),
    )
    result = write_suite(
        "regularization",
        options,
        rows,
        findings,
        extra={"regime": regime, "lr_pick": lr_pick},
        columns=("train_acc", "val_acc", "test_acc"),
    )
    plot_variant_bars(rows, result.path / "accuracy.png", "Regularisation, each alone (mean ± std over repeats)", base)
    return result


def architecture_variants() -> list[Variant]:
    v = [replace(BASELINE, label=labels.ARCH_STARTER)]
    v += [Variant(labels.kernel_label(k), "filter size", (f"model.kernel_sizes={k}",)) for k in labels.KERNEL_SIZES]
    v += [Variant(labels.stride_label(s), "stride", (f"model.strides={s}",)) for s in labels.STRIDES]
    v += [
        Variant(labels.ONE_CONV, "depth", ("model.filters=[16]",)),
        Variant(labels.THREE_CONV, "depth", ("model.filters=[16,16,16]",)),
        Variant(labels.FOUR_CONV, "depth", ("model.filters=[16,16,16,16]", "model.kernel_sizes=3", "model.paddings=1")),
    ]
    # Width (not asked by the handout) at half and twice the starter's; 64 filters cost a quarter of the suite's time.
    v += [Variant(f"{f} filters", "filters per layer", (f"model.filters=[{f},{f}]",)) for f in (8, 32)]
    # Same spatial schedule (3x3 convs, pool 2 after each: 50 -> 24 -> 11 -> 4), channels differ.
    shape = ("model.kernel_sizes=3", "model.strides=1", "model.pool=true")
    v += [
        Variant("pyramidal 8-16-32", labels.SHAPE, ("model.filters=[8,16,32]",) + shape),
        Variant("flat 16-16-16", labels.SHAPE, ("model.filters=[16,16,16]",) + shape),
        Variant("inverted 32-16-8", labels.SHAPE, ("model.filters=[32,16,8]",) + shape),
    ]
    return v


@SUITES.register("architecture")
def architecture_suite(options: SuiteOptions) -> SuiteResult:
    """1.5: filter size, stride, depth, width and pyramidal vs flat vs inverted shapes, each trained to its plateau."""
    base_config, regime = _regime(options, FAIR_BUDGET)
    variants = architecture_variants()
    rows = run_paired(variants[0], variants[1:], options, base_config)
    base = labels.find_variant(rows, labels.ARCH_STARTER, "architecture")
    findings = compare(rows, base)
    shapes = [r for r in rows if r["group"] == labels.SHAPE]
    findings.append(
        "shapes: "
        + "; ".join(
            f"{r['variant']} {format_record(r, 'val_acc')}, {r['params']:,} params, {r['macs'] / 1e6:.2f} M MACs"
            for r in shapes
        )
    )
    findings.append(
        "epochs used (mean, early stopping on validation accuracy): "
        + ", ".join(f"{r['variant']} {r['epochs_run_mean']:.0f}" for r in rows)
    )
    result = write_suite(
        "architecture", options, rows, findings, extra={"regime": regime}, columns=("train_acc", "val_acc", "test_acc")
    )
    plot_variant_bars(rows, result.path / "accuracy.png", "Architecture (mean ± std over repeats)", base)
    return result
