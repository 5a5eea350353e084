"""The Part 1 suites, one per handout question (1.2-1.7). Registered into `suites.SUITES`."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

from cnnlab.art.config import RunConfig
from cnnlab.art.robustness import RobustnessFacts, evaluate_robustness, robustness_facts
from cnnlab.core.config import from_dict, resolve_config, to_dict
from cnnlab.art.suites import labels
from cnnlab.art.suites.common import SUITES, SuiteOptions, SuiteResult, Variant, compare, run_variants, write_suite
from cnnlab.art.suites.plots import plot_mean_curves, plot_robustness, plot_variant_bars
from cnnlab.core.stats import format_record

log = logging.getLogger(__name__)
BASELINE = Variant(labels.STARTER, "baseline")


@SUITES.register("baseline")
def baseline_suite(options: SuiteOptions) -> SuiteResult:
    """1.2: the starter network; the train-validation gap over epochs."""
    rows = run_variants([BASELINE], options)
    r = rows[0]
    gap = r["train_acc_mean"] - r["val_acc_mean"]
    findings = [
        f"starter network: train {format_record(r, 'train_acc')}, validation {format_record(r, 'val_acc')} accuracy after {r['epochs_run_mean']:.0f} epochs",
        f"train-validation gap {gap:+.3f}: " + ("the network fits the training set much better than it generalises (overfitting)" if gap > 0.1 else "small: little overfitting at this budget"),
    ]
    result = write_suite("baseline", options, rows, findings)
    plot_mean_curves(r["run_paths"], result.path / "learning_curves.png", f"Starter SimpleCNN, mean ± std over {r['n']} seeds")
    return result


@SUITES.register("pooling")
def pooling_suite(options: SuiteOptions) -> SuiteResult:
    """1.3: max-pooling off vs on, several sizes and strides (all valid on 50x50 inputs)."""
    variants = [replace(BASELINE, label=labels.NO_POOLING)]
    for size, stride in ((2, 2), (3, 2), (2, 1), (3, 1)):
        variants.append(Variant(f"pool {size}/{stride}", "max-pool size/stride", ("model.pool=true", f"model.pool_size={size}", f"model.pool_stride={stride}")))
    rows = run_variants(variants, options)
    base = labels.find_variant(rows, labels.NO_POOLING, "pooling")
    findings = compare(rows, base)
    for r in rows:
        r["gap_mean"] = r["train_acc_mean"] - r["val_acc_mean"]
    findings.append("train-validation gap per variant: " + ", ".join(f"{r['variant']} {r['gap_mean']:+.3f}" for r in rows))
    result = write_suite("pooling", options, rows, findings)
    plot_variant_bars(rows, result.path / "accuracy.png", "Max-pooling (mean ± std over seeds)", base)
    return result


def regularization_variants() -> list[Variant]:
    v = [replace(BASELINE, label=labels.REG_BASELINE)]
    v += [Variant(f"dropout {p}", "dropout", (f"model.dropout={p}",)) for p in (0.1, 0.2, 0.3, 0.4, 0.5)]
    optimizers = {"sgd": ("train.optimizer.name=sgd", "train.optimizer.lr=0.01", "train.optimizer.momentum=0.9"),
                  "adam": ("train.optimizer.name=adam",), "adamw": ("train.optimizer.name=adamw",),
                  "rmsprop": ("train.optimizer.name=rmsprop", "train.optimizer.momentum=0.0")}
    for name, sets in optimizers.items():
        for wd in (0.0, 1e-3, 1e-2):
            if name == "adam" and wd == 0.0:
                continue  # that is the baseline
            v.append(Variant(f"{name} wd {wd:g}", "optimizer + weight decay", sets + (f"train.optimizer.weight_decay={wd}",)))
    v += [Variant(f"early stop p{p}", labels.EARLY_STOPPING, (f"train.early_stopping.patience={p}",)) for p in (3, 5, 10, 20)]
    v += [
        Variant("StepLR", "LR schedule", ("train.scheduler.name=step", "train.scheduler.step_size=15", "train.scheduler.gamma=0.5", "train.optimizer.lr=0.0003")),
        Variant("cosine", "LR schedule", ("train.scheduler.name=cosine", "train.optimizer.lr=0.0003")),
        Variant("one-cycle", "LR schedule", ("train.scheduler.name=onecycle", "train.scheduler.max_lr=0.001")),
        Variant("plateau", "LR schedule", ("train.scheduler.name=plateau", "train.scheduler.patience=3", "train.optimizer.lr=0.0003")),
    ]
    return v


@SUITES.register("regularization")
def regularization_suite(options: SuiteOptions) -> SuiteResult:
    """1.4: each regulariser alone against the baseline."""
    rows = run_variants(regularization_variants(), options)
    base = labels.find_variant(rows, labels.REG_BASELINE, "regularization")
    findings = compare(rows, base)
    result = write_suite("regularization", options, rows, findings)
    plot_variant_bars(rows, result.path / "accuracy.png", "Regularisation, each alone (mean ± std over seeds)", base)
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
    v += [Variant(f"{f} filters", "filters per layer", (f"model.filters=[{f},{f}]",)) for f in (8, 32, 64)]
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
    """1.5: filter size, stride, depth, width and pyramidal vs flat vs inverted shapes."""
    rows = run_variants(architecture_variants(), options)
    base = labels.find_variant(rows, labels.ARCH_STARTER, "architecture")
    findings = compare(rows, base)
    shapes = [r for r in rows if r["group"] == labels.SHAPE]
    findings.append("shapes: " + "; ".join(f"{r['variant']} {format_record(r, 'val_acc')}, {r['params']:,} params, {r['macs'] / 1e6:.2f} M MACs" for r in shapes))
    result = write_suite("architecture", options, rows, findings, columns=("train_acc", "val_acc"))
    plot_variant_bars(rows, result.path / "accuracy.png", "Architecture (mean ± std over seeds)", base)
    return result


@SUITES.register("search")
def search_suite(options: SuiteOptions) -> SuiteResult:
    """1.6: Optuna search on validation accuracy; the best config retrained over seeds, tested once."""
    from cnnlab.art.sweep.study import default_storage, run_sweep

    trials = 3 if options.quick else options.search_trials
    study = "search-quick" if options.quick else "search"
    sweep = run_sweep(study_name=study, storage=default_storage(Path(options.out_root)), trials=trials, workers=min(options.jobs, 2),
                      base=options.base, out_root=Path(options.out_root), seed=0, epochs=options.n_epochs,
                      callbacks=options.callbacks)
    best = sweep.best_config
    rows = run_variants([Variant(labels.BEST_FOUND, "search")], options, base=best)
    r = rows[0]
    findings = [
        f"{sweep.n_complete} complete and {sweep.n_pruned} pruned trials (median pruning on validation accuracy); best trial validation accuracy {sweep.best_value:.3f}",
        f"best configuration retrained over {r['n']} seeds: validation {format_record(r, 'val_acc')}, test {format_record(r, 'test_acc')} (test split used once, for this final number)",
    ]
    extra = {"best_params": sweep.best_params, "best_config": to_dict(best), "study": sweep.study_name, "storage": sweep.storage,
             "trials": sweep.trials}
    return write_suite("search", options, rows, findings, extra=extra, columns=("train_acc", "val_acc", "test_acc"))


def best_config(options: SuiteOptions) -> tuple[RunConfig, str]:
    """The search suite's best configuration if it ran, else the base config."""
    path = options.suite_root / "search" / "suite.json"
    if path.is_file():
        meta = json.loads(path.read_text())
        config = from_dict(RunConfig, meta["best_config"])
        if config.data == options.base.data:
            return config, "best configuration from the search suite"
    return options.base, "base configuration (the search suite has not run)"


@SUITES.register("robustness")
def robustness_suite(options: SuiteOptions) -> SuiteResult:
    """1.7: the best model on the transformed test split, then retrained with random transforms."""
    config, origin = best_config(options)
    cfg_dict = to_dict(config)
    probabilities = dict(config.augment.probabilities) or {}
    if not any(p > 0 for p in probabilities.values()):
        from cnnlab.art.transforms import AUGMENT_ORDER

        probabilities = {name: 0.2 for name in AUGMENT_ORDER}
    augmented = resolve_config(RunConfig, None, [], extra={**cfg_dict, "augment": {"probabilities": probabilities, "max_severity": 1.0}})
    plain_rows = run_variants([Variant(labels.AS_TRAINED, "robustness")], options, base=config)
    aug_rows = run_variants([Variant(labels.AUGMENTED, "robustness")], options, base=augmented)
    table = evaluate_robustness({labels.AS_TRAINED: plain_rows[0]["run_paths"], labels.AUGMENTED: aug_rows[0]["run_paths"]}, config)
    findings = _robustness_findings(robustness_facts(table, labels.AS_TRAINED, labels.AUGMENTED))
    findings.insert(0, f"model: {origin}; augmented retraining with per-image probabilities {probabilities} at severities up to 1.0")
    result = write_suite("robustness", options, plain_rows + aug_rows, findings, extra={"robustness": table, "augment_probabilities": probabilities},
                         columns=("train_acc", "val_acc", "test_acc"))
    plot_robustness(table, result.path)
    _write_robustness_table(table, result.path)
    return result


def _robustness_findings(facts: RobustnessFacts) -> list[str]:
    """The suite's wording of the facts (the report words the same facts in LaTeX)."""
    acc = lambda t: facts.row(facts.reference, t)["acc_mean"]  # noqa: E731
    out = [f"clean test accuracy {format_record(facts.clean, 'acc')}"]
    if facts.ranked:
        out.append("most invariant to: " + ", ".join(f"{t} ({acc(t):.3f})" for t in facts.most_invariant()))
        out.append("most damaging: " + ", ".join(f"{t} ({acc(t):.3f})" for t in facts.most_damaging()))
    if facts.gains:
        out.append("augmented training changes strongest-severity accuracy by: " + ", ".join(f"{t} {facts.gains[t]:+.3f}" for t in facts.ranked))
    return out


def _write_robustness_table(table: list[dict], path: Path) -> None:
    from cnnlab.core.io import atomic_write_text

    lines = ["| model | transform | severity | test accuracy |", "|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['transform']} | {r['severity']:g} | {format_record(r, 'acc')} |" for r in table]
    atomic_write_text(path / "robustness.md", "\n".join(lines) + "\n")
    header = "model,transform,severity,acc_mean,acc_std,n\n"
    atomic_write_text(path / "robustness.csv", header + "".join(f"{r['model']},{r['transform']},{r['severity']},{r['acc_mean']},{r['acc_std']},{r['n']}\n" for r in table))
