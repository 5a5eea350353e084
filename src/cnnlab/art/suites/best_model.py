"""The Part 1 suites about the best model (1.6 search, 1.7 robustness). Registered into `suites.SUITES`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cnnlab.art.config import RunConfig
from cnnlab.art.robustness import RobustnessFacts, evaluate_robustness, robustness_facts
from cnnlab.art.suites import labels
from cnnlab.art.suites.common import (
    SUITES,
    SuiteOptions,
    SuiteResult,
    Variant,
    run_paired,
    with_overrides,
    write_suite,
)
from cnnlab.art.suites.definitions import SEARCH_REGIME
from cnnlab.art.suites.plots import plot_robustness
from cnnlab.core import readback
from cnnlab.core.config import from_dict, to_dict
from cnnlab.core.errors import CnnlabError
from cnnlab.core.stats import BETTER, WORSE, Comparison, format_comparison, format_record

if TYPE_CHECKING:
    from cnnlab.art.sweep.study import SweepResult

log = logging.getLogger(__name__)
AUGMENT_PROBABILITY = 0.2  # per transform and image, when the best configuration has no augmentation of its own
AUGMENT_MAX_SEVERITY = 1.0


@SUITES.register("search")
def search_suite(options: SuiteOptions) -> SuiteResult:
    """1.6: Optuna search on validation accuracy (fold 0, seed 0) in synchronous batches, started from what
    1.3-1.5 found (suites.seeds), or a study made by `cnnlab sweep` read from --storage/--study; its top
    candidates retrained on every repeat and chosen on all of them (suites.choice), tested once."""
    from cnnlab.art.suites.choice import TOP_K, choose_on_every_fold

    base = with_overrides(options.base, SEARCH_REGIME)
    if options.search_study:
        sweep, _ = read_search_study(options, base)
        origin = f"study {sweep.study_name!r} read from {sweep.storage}: {sweep.n_finished} of {sweep.target} trials finished"
    else:
        from cnnlab.art.suites.seeds import search_seeds
        from cnnlab.art.sweep.study import default_storage, run_sweep

        trials = 3 if options.quick else options.search_trials
        sweep = run_sweep(
            study_name=search_study_name(options),
            storage=default_storage(Path(options.out_root)),
            trials=trials,
            workers=options.jobs,  # batches: any number of workers gives the same study; the held pool fits
            threads=options.threads,
            base=base,
            out_root=Path(options.out_root),
            seed=0,
            epochs=options.n_epochs,
            callbacks=options.callbacks,
            seeds=search_seeds(options, base, limit=max(1, trials // 2)),
        )
        origin = f"study {sweep.study_name!r} in the runs folder's optuna.db"
    rows, choice, best = choose_on_every_fold(sweep.top, options, base)
    r, candidates = rows[0], [row for row in rows if "trial" in row]
    winner = candidates[choice.winner]
    seeded = [t for t in sweep.trials if t.get("seeded")]
    findings = [
        origin,
        f"{sweep.n_complete} complete and {sweep.n_pruned} pruned trials (median pruning against earlier batches); "
        f"seeded: " + (", ".join(f"trial {t['number']} {t['seeded']}" for t in seeded) or "none"),
        f"top {len(candidates)} by one-fold validation accuracy retrained on {r['n']} repeats: "
        + "; ".join(
            f"{c['variant']} (one fold {c['one_fold_val_acc']:.3f}) {format_record(c, 'val_acc')}" for c in candidates
        ),
        f"winner {winner['variant']} by mean validation accuracy, {format_comparison(choice.versus_starter)} vs the starter "
        + (
            "(paired): it is the 1.6 answer"
            if choice.search_won
            else "(paired): not better, so the starter network is the 1.6 answer"
        ),
        f"the 1.6 answer on {r['n']} repeats: validation {format_record(r, 'val_acc')}, test {format_record(r, 'test_acc')} (test split used once, for this final number)",
    ]
    extra = {
        "best_params": next((t["params"] for t in sweep.trials if t["number"] == winner["trial"]), {}),
        "best_config": to_dict(best),
        "study": sweep.study_name,
        "storage": sweep.storage,
        "shared": bool(options.search_study),
        "target": sweep.target,
        "n_finished": sweep.n_finished,
        "trials": sweep.trials,
        "top_k": TOP_K,
        **({} if options.search_study else _search_rules(options.n_epochs or base.train.epochs)),
        "winner": winner["variant"],
        "winner_trial": winner["trial"],
        "winner_seeded": winner.get("seeded"),
        "answer": "search" if choice.search_won else "starter",
        "regime": {"overrides": list(SEARCH_REGIME), "train": to_dict(base.train)},
    }
    return write_suite("search", options, rows, findings, extra=extra, columns=("train_acc", "val_acc", "test_acc"))


def _search_rules(epochs: int) -> dict:
    """The batch size and pruning rule of the suite's own search, for the report to state."""
    import dataclasses

    from cnnlab.art.sweep.batch import BATCH, prune_rule

    return {"batch": BATCH, "prune": dataclasses.asdict(prune_rule(epochs))}


def search_study_name(options: SuiteOptions) -> str:
    """The name of the study the search suite makes in the runs folder's optuna.db: "search" (or
    "search-quick"), with the device type after it off the CPU ("search-cuda"), as run ids have it: a CUDA
    report never reads the trials of a CPU report in the same folder, whose numbers differ."""
    from cnnlab.core.device import resolve_device
    from cnnlab.core.runtime import identity_device

    name = "search-quick" if options.quick else "search"
    on = identity_device(resolve_device(options.device))
    return f"{name}-{on}" if on else name


def check_search_study(options: SuiteOptions) -> SweepResult | None:
    """The study named by --storage/--study (one line, exit 2, password masked, if it cannot be read or has no
    complete trial), or None when the search suite runs its own. Cheap: called before any suite trains."""
    if not options.search_study:
        return None
    from cnnlab.art.sweep.study import default_storage, load_sweep

    sweep = load_sweep(options.search_study, options.search_storage or default_storage(Path(options.out_root)))
    if sweep.best_config is None:
        raise CnnlabError(f"study {sweep.study_name!r} in {sweep.storage} has no complete trial yet")
    if sweep.n_running or sweep.n_waiting:
        log.warning(
            "study %r: %d of %s trials finished, %d running, %d waiting: using the best trial so far",
            sweep.study_name,
            sweep.n_finished,
            sweep.target,
            sweep.n_running,
            sweep.n_waiting,
        )
    return sweep


def read_search_study(options: SuiteOptions, base: RunConfig) -> tuple[SweepResult, RunConfig]:
    """The study and its best configuration, to be retrained on this suite's data and repeats: refused (one
    line) if the study searched other images (data content hash) than `base`."""
    import dataclasses

    from cnnlab.art.run import prepare_data

    sweep = check_search_study(options)
    assert sweep is not None and sweep.best_config is not None
    here = prepare_data(base).info["hash"]
    if sweep.data_hash and sweep.data_hash != here:
        raise CnnlabError(
            f"study {sweep.study_name!r} in {sweep.storage} searched other data (hash {sweep.data_hash}, here {here}): "
            "give the same --data and data.image_size as its workers"
        )
    return sweep, dataclasses.replace(sweep.best_config, data=base.data)


def best_config(options: SuiteOptions) -> tuple[RunConfig, str]:
    """The search suite's best configuration if it ran, else the base config."""
    path = options.suite_root / "search" / "suite.json"
    if os.path.lexists(path):  # anything there (a FIFO, a folder, a link) is read as untrusted, never skipped
        meta = readback.load_json(path, f"the search suite's result {path}")  # untrusted: one line if damaged
        if not isinstance(meta, dict) or not isinstance(meta.get("best_config"), dict):
            raise CnnlabError(f"{path} holds no best_config: run `cnnlab experiment search` again")
        config = from_dict(RunConfig, meta["best_config"])
        if config.data == options.base.data:
            return config, "best configuration from the search suite"
    return options.base, "base configuration (the search suite has not run)"


def augmented_variant(config: RunConfig) -> tuple[Variant, dict[str, float]]:
    """The 1.7 retraining with random transforms: the config's own augmentation probabilities if it has
    any, else AUGMENT_PROBABILITY for every graded transform, at severities up to AUGMENT_MAX_SEVERITY."""
    from cnnlab.art.transforms import AUGMENT_ORDER

    probabilities = dict(config.augment.probabilities)
    if not any(p > 0 for p in probabilities.values()):
        probabilities = {name: AUGMENT_PROBABILITY for name in AUGMENT_ORDER}
    text = "{" + ", ".join(f"{k}: {v}" for k, v in probabilities.items()) + "}"
    overrides = (f"augment.probabilities={text}", f"augment.max_severity={AUGMENT_MAX_SEVERITY}")
    return Variant(labels.AUGMENTED, "robustness", overrides), probabilities


@SUITES.register("robustness")
def robustness_suite(options: SuiteOptions) -> SuiteResult:
    """1.7: the best model on the test split under the course's transformations (and graded ones), then
    retrained with random transforms on the same repeats."""
    config, origin = best_config(options)
    augmented, probabilities = augmented_variant(config)
    rows = run_paired(Variant(labels.AS_TRAINED, "robustness"), [augmented], options, config)
    # A rerun with the same runs reads the accuracies back from the runs folder's cache instead of evaluating again.
    table = evaluate_robustness(
        {r["variant"]: r["run_paths"] for r in rows}, config, cache_dir=Path(options.out_root) / "cache" / "robustness"
    )
    findings = robustness_findings(robustness_facts(table, labels.AS_TRAINED, labels.AUGMENTED))
    findings.insert(
        0,
        f"model: {origin}; augmented retraining with per-image probabilities {probabilities} at severities up to {AUGMENT_MAX_SEVERITY:g}",
    )
    result = write_suite(
        "robustness",
        options,
        rows,
        findings,
        extra={"robustness": table, "augment_probabilities": probabilities},
        columns=("train_acc", "val_acc", "test_acc"),
    )
    plot_robustness(table, result.path)
    _write_robustness_table(table, result.path)
    return result


def robustness_findings(facts: RobustnessFacts) -> list[str]:
    """The suite's wording of the facts (the report words the same facts in LaTeX)."""
    acc = lambda t: facts.row(facts.reference, t)["acc_mean"]  # noqa: E731
    out = [f"clean test accuracy {format_record(facts.clean, 'acc')}"]
    if facts.ranked:
        out.append("most invariant to: " + ", ".join(f"{t} ({acc(t):.3f})" for t in facts.most_invariant()))
        out.append("most damaging: " + ", ".join(f"{t} ({acc(t):.3f})" for t in facts.most_damaging()))
        out.append(
            "change from clean test accuracy, paired: "
            + ", ".join(f"{t} {_change_text(facts.drops[t])}" for t in facts.ranked)
        )
    if facts.gains:
        out.append(
            "augmented minus as trained, paired: "
            + ", ".join(f"{t} {format_comparison(facts.gains[t])}" for t in facts.gains)
        )
    return out


def _change_text(drop: Comparison) -> str:
    """A transformation's accuracy change (transformed minus clean) from its drop (clean minus transformed)."""
    if not drop.has_error_bar:
        return f"{-drop.diff:+.3f} (n={drop.n}, {drop.verdict})"
    word = {BETTER: "a clear loss", WORSE: "a clear gain"}.get(drop.verdict, drop.verdict)
    return f"{-drop.diff:+.3f} ± {drop.se:.3f} SE (n={drop.n}, {word})"


def _write_robustness_table(table: list[dict], path: Path) -> None:
    from cnnlab.core.io import atomic_write_text

    lines = ["| model | transform | severity | test accuracy |", "|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['transform']} | {r['severity']:g} | {format_record(r, 'acc')} |" for r in table]
    atomic_write_text(path / "robustness.md", "\n".join(lines) + "\n")
    header = "model,transform,severity,acc_mean,acc_std,n\n"
    atomic_write_text(
        path / "robustness.csv",
        header
        + "".join(
            f"{r['model']},{r['transform']},{r['severity']},{r['acc_mean']},{r['acc_std']},{r['n']}\n" for r in table
        ),
    )
