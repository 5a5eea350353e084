"""The controls suite (question 1.7, "what has the network learned to use?"): colour alone, and no colour.

On the same repeats as the CNN it controls (the best configuration of the search suite, else the base
configuration; repeat r = validation fold r mod data.folds and seed r, the fixed test split), three rows:
  colour CNN      the configuration as it is (the same runs as the robustness suite's "as trained")
  grayscale CNN   the same network trained and tested on grayscale images (data.grayscale)
  colour only     per-channel colour histograms + logistic regression (cnnlab.art.colour_only; C on validation),
                  one recorded run folder per repeat
Both controls are compared with the colour CNN paired by repeat (`cnnlab.core.stats.compare_records`,
the one verdict rule): colour only vs CNN says how much of the CNN's accuracy global colour statistics
explain (and how much needs spatial structure); grayscale vs CNN what removing colour costs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cnnlab.art.config import RunConfig
from cnnlab.art.suites.common import (
    METRICS,
    SUITES,
    SuiteOptions,
    SuiteResult,
    Variant,
    paired_columns,
    run_on_repeats_of,
    run_variants,
    variant_config,
    write_suite,
)
from cnnlab.core.stats import (
    BETTER,
    NO_CLEAR_DIFFERENCE,
    WORSE,
    Comparison,
    aggregate,
    compare_records,
    format_comparison,
    format_record,
)

__all__ = [
    "COLOUR_CNN",
    "GRAYSCALE_CNN",
    "COLOUR_ONLY",
    "run_controls",
    "colour_only_row",
    "ControlsFacts",
    "controls_facts",
    "controls_findings",
    "chance_accuracy",
]

log = logging.getLogger(__name__)

COLOUR_CNN = "colour CNN"
GRAYSCALE_CNN = "grayscale CNN"
COLOUR_ONLY = "colour only"
GROUP = "controls"
PER_REPEAT = ("train_acc", "val_acc", "test_acc")


def colour_only_row(config: RunConfig, repeats: Sequence[int], options: SuiteOptions) -> dict:
    """The colour-only classifier on `repeats` (each on the split of `variant_config`: its fold and seed), one run
    folder per repeat; a suite row like `run_variants` writes (mean/std/n, "repeats", "per_repeat", run ids)."""
    from cnnlab.art.colour_only import colour_only_run
    from cnnlab.art.run import prepare_data

    variant = Variant(COLOUR_ONLY, GROUP)
    summaries, data_cache = [], {}
    for r in repeats:
        c = variant_config(config, variant, r, options.n_epochs)
        if c.data not in data_cache:
            data_cache[c.data] = prepare_data(c)
        result = colour_only_run(c, options.out_root, data=data_cache[c.data])
        summaries.append({**result.summary, "path": str(result.path)})
    k = len(next(iter(data_cache.values())).dataset.class_names)
    return {
        "group": GROUP,
        "variant": COLOUR_ONLY,
        **aggregate(summaries, METRICS),
        "params": (summaries[0]["features"] + 1) * k,
        "macs": 0,
        "overrides": "colour histograms + logistic regression",
        "selected_on_validation": True,  # C is chosen on validation: its validation accuracy is optimistic
        "repeats": list(repeats),
        "per_repeat": {m: [float(s[m]) for s in summaries] for m in PER_REPEAT},
        "run_ids": [s["run_id"] for s in summaries],
        "run_paths": [s["path"] for s in summaries],
    }


def run_controls(config: RunConfig, options: SuiteOptions) -> list[dict]:
    """The three rows (colour CNN, grayscale CNN, colour only) on options.run_repeats; each control has its paired
    difference from the colour CNN in "vs_reference" (`paired_columns`)."""
    cnn = run_variants([Variant(COLOUR_CNN, GROUP)], options, base=config)[0]
    gray = run_on_repeats_of(cnn, [Variant(GRAYSCALE_CNN, GROUP, ("data.grayscale=true",))], options, base=config)[0]
    only = colour_only_row(config, cnn["repeats"], options)
    paired_columns([only], cnn, keys=("val_acc", "test_acc"))
    return [cnn, gray, only]


def chance_accuracy(config: RunConfig) -> float:
    """The test accuracy of always predicting the most frequent test class (the test split is the same for every repeat)."""
    import torch

    from cnnlab.art.run import prepare_data

    y = prepare_data(config).test[1]
    return float(torch.bincount(y).max()) / max(len(y), 1)


@dataclass(frozen=True)
class ControlsFacts:
    """What the controls rows say (the suite's findings and the report word the same facts)."""

    cnn: Mapping
    gray: Mapping
    only: Mapping
    chance: float
    only_vs_cnn: Comparison  # colour only minus colour CNN, test accuracy, paired
    gray_vs_cnn: Comparison  # grayscale CNN minus colour CNN, test accuracy, paired

    @property
    def share(self) -> float | None:
        """The share of the CNN's test accuracy above chance that colour alone reaches (None when the CNN is
        not above chance); above 1 when colour alone does better."""
        above = self.cnn["test_acc_mean"] - self.chance
        return (self.only["test_acc_mean"] - self.chance) / above if above > 0 else None

    @property
    def colour_finding(self) -> str:
        """What colour only vs the CNN implies, by the verdict of the one rule: "not above chance" (the CNN is not),
        "spatial" (colour alone is clearly worse: the rest needs more than colour statistics), "colour better"
        (clearly better), "colour enough" (no clear difference), or "unclear" (a single repeat)."""
        if self.share is None:
            return "not above chance"
        return {WORSE: "spatial", BETTER: "colour better", NO_CLEAR_DIFFERENCE: "colour enough"}.get(
            self.only_vs_cnn.verdict, "unclear"
        )

    @property
    def gray_finding(self) -> str:
        """What the grayscale CNN vs the colour CNN implies, by the verdict of the one rule."""
        return {
            WORSE: "removing colour costs accuracy",
            BETTER: "the network does better without colour",
            NO_CLEAR_DIFFERENCE: "removing colour makes no clear difference",
        }.get(self.gray_vs_cnn.verdict, "a single repeat: no conclusion")

    @property
    def spatial(self) -> float:
        """The CNN's test accuracy beyond colour alone (colour CNN minus colour only, mean of the paired differences)."""
        return -self.only_vs_cnn.diff


def controls_facts(rows: Sequence[Mapping], chance: float) -> ControlsFacts:
    """The facts of the three rows of `run_controls` (in its order) and the chance level."""
    cnn, gray, only = rows
    return ControlsFacts(
        cnn, gray, only, chance, compare_records(only, cnn, "test_acc"), compare_records(gray, cnn, "test_acc")
    )


def controls_findings(facts: ControlsFacts) -> list[str]:
    """The suite's findings: each row's test accuracy, the paired differences and what they imply."""
    f = facts
    out = [f"{r['variant']}: test accuracy {format_record(r, 'test_acc')}" for r in (f.cnn, f.gray, f.only)]
    out.append(f"chance (most frequent test class): {f.chance:.3f}")
    c = f.only_vs_cnn
    share = f"colour alone reaches {f.share:.0%} of the CNN's accuracy above chance" if f.share is not None else ""
    meaning = {
        "not above chance": "the CNN is not above chance, so there is nothing to split between colour and spatial structure",
        "spatial": f"{share}; the CNN's {f.spatial:+.3f} beyond it needs more than global colour statistics (spatial structure)",
        "colour better": f"{share}: colour statistics alone do better than the CNN at this budget",
        "colour enough": f"{share}, with no clear difference: colour statistics explain the CNN's accuracy as far as {c.n} repeats tell",
        "unclear": f"{share} (a single repeat: no conclusion)",
    }[f.colour_finding]
    out.append(f"colour only minus colour CNN, paired: {format_comparison(c)}; {meaning}")
    out.append(f"grayscale minus colour CNN, paired: {format_comparison(f.gray_vs_cnn)}: {f.gray_finding}")
    return out


@SUITES.register("controls")
def controls_suite(options: SuiteOptions) -> SuiteResult:
    """1.7: a colour-only classifier and the CNN on grayscale images, paired with the colour CNN."""
    from cnnlab.art.suites.best_model import best_config

    config, origin = best_config(options)
    rows = run_controls(config, options)
    chance = chance_accuracy(config)
    findings = [f"model: {origin}"] + controls_findings(controls_facts(rows, chance))
    result = write_suite(
        "controls",
        options,
        rows,
        findings,
        extra={"chance": chance, "origin": origin},
        columns=("train_acc", "val_acc", "test_acc"),
    )
    plot_controls(rows, chance, result.path / "controls.png")
    return result


def plot_controls(rows: Sequence[Mapping], chance: float, path: Path) -> Path:
    """Test accuracy per row (mean ± std over repeats, each repeat a dot), with the chance level."""
    from cnnlab.core.plotting import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    for i, r in enumerate(rows):
        ax.bar(
            i,
            r["test_acc_mean"],
            yerr=r.get("test_acc_std", 0.0),
            color=["#3182bd", "#969696", "#e6550d"][i % 3],
            capsize=3,
        )
        ax.plot([i] * len(r["per_repeat"]["test_acc"]), r["per_repeat"]["test_acc"], "k.", ms=4)
    ax.axhline(chance, color="k", ls=":", lw=0.8, label="chance (most frequent class)")
    ax.set_xticks(range(len(rows)), [r["variant"] for r in rows])
    ax.set(ylabel="test accuracy", ylim=(0, 1.0), title=f"Controls (n={rows[0]['n']} repeats)")
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
