"""The controls suite (question 1.7, "what has the network learned to use?"): colour alone, and no colour.

On the same repeats as the CNN it controls (the best configuration of the search suite, else the base
configuration), three rows:
  colour CNN      the configuration as it is (the same runs as the robustness suite's "as trained")
  grayscale CNN   the same network trained and tested on grayscale images (data.grayscale)
  colour only     per-channel colour histograms + logistic regression (cnnlab.art.controls; C on validation)
Both controls are compared with the colour CNN paired by repeat (`paired`, the verdict rule of
cnnlab.core.stats applied to the per-repeat differences): colour only vs CNN says how much of the
CNN's accuracy global colour statistics explain (and how much needs spatial structure); grayscale vs
CNN what removing colour costs.

A repeat is a (data config, seed) pair (`Repeat`): `run_controls` takes the list, so the suite runs on
whatever repeats the other suites use (`suite_repeats`: today every seed on the one split of
data.split_seed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

from cnnlab.art.config import DataConfig, RunConfig
from cnnlab.art.suites.common import METRICS, SUITES, SuiteOptions, SuiteResult, run_configs, write_suite
from cnnlab.core.stats import (BETTER, NOISE_SE, WITHIN_NOISE, WORSE, Comparison, Summary, aggregate, compare, format_record,
                               summarize)

__all__ = ["COLOUR_CNN", "GRAYSCALE_CNN", "COLOUR_ONLY", "Repeat", "suite_repeats", "repeat_config", "run_controls", "paired",
           "ControlsFacts", "controls_facts", "controls_findings", "chance_accuracy"]

log = logging.getLogger(__name__)

COLOUR_CNN = "colour CNN"
GRAYSCALE_CNN = "grayscale CNN"
COLOUR_ONLY = "colour only"
GROUP = "controls"
PER_REPEAT = ("train_acc", "val_acc", "test_acc")

Repeat = tuple[DataConfig, int]  # (the data config of the repeat: its split; the training seed)


def suite_repeats(config: RunConfig, options: SuiteOptions) -> list[Repeat]:
    """The repeats every suite runs: each of options.run_seeds on config's data split."""
    return [(config.data, seed) for seed in options.run_seeds]


def repeat_config(config: RunConfig, repeat: Repeat, epochs: int | None = None) -> RunConfig:
    """`config` on one repeat: its data config and seed (and the suite's epoch budget, if any)."""
    data, seed = repeat
    train = replace(config.train, seed=seed, **({"epochs": epochs} if epochs is not None else {}))
    return replace(config, data=data, train=train)


def _row(label: str, repeats: Sequence[Repeat], summaries: Sequence[Mapping], params: int, macs: int, overrides: str) -> dict:
    """A suite row (as common.run_variants writes them) plus the per-repeat values paired comparisons read."""
    row = {"group": GROUP, "variant": label, **aggregate(summaries, METRICS), "params": params, "macs": macs,
           "overrides": overrides, "repeats": [seed for _, seed in repeats],
           "per_repeat": {k: [float(s[k]) for s in summaries] for k in PER_REPEAT},
           "run_ids": [s["run_id"] for s in summaries], "run_paths": [s["path"] for s in summaries]}
    return row


def paired(a: Mapping, b: Mapping, key: str = "test_acc") -> Comparison:
    """a minus b on `key`, paired by repeat: the per-repeat differences d against 0 under the one verdict rule
    (`cnnlab.core.stats.compare`): SE = sample std of d / sqrt(n)."""
    if a["repeats"] != b["repeats"]:
        raise ValueError(f"rows {a['variant']!r} and {b['variant']!r} ran different repeats: no paired comparison")
    d = summarize(x - y for x, y in zip(a["per_repeat"][key], b["per_repeat"][key]))
    return compare(d, Summary(0.0, 0.0, d.n))


def run_controls(config: RunConfig, repeats: Sequence[Repeat], options: SuiteOptions) -> list[dict]:
    """The three rows (colour CNN, grayscale CNN, colour only) on `repeats`, each control with its paired
    difference from the colour CNN under "vs_reference" ({"reference": COLOUR_CNN, "val_acc": {diff, se, n,
    verdict, margin}, "test_acc": ...})."""
    from cnnlab.art.controls import colour_only_run
    from cnnlab.art.run import prepare_data

    colour = [repeat_config(config, r, options.n_epochs) for r in repeats]
    gray = [replace(c, data=replace(c.data, grayscale=True)) for c in colour]
    cnn = run_configs(colour + gray, options)
    data_cache: dict = {}
    only = []
    for c in colour:
        if c.data not in data_cache:
            data_cache[c.data] = prepare_data(c)
        result = colour_only_run(c, options.out_root, data=data_cache[c.data])
        only.append({**result.summary, "path": str(result.path)})
    k = len(next(iter(data_cache.values())).dataset.class_names)
    n = len(repeats)
    rows = [
        _row(COLOUR_CNN, repeats, cnn[:n], cnn[0]["params"], cnn[0]["macs"], ""),
        _row(GRAYSCALE_CNN, repeats, cnn[n:], cnn[n]["params"], cnn[n]["macs"], "data.grayscale=true"),
        _row(COLOUR_ONLY, repeats, only, (only[0]["features"] + 1) * k, 0, "colour histograms + logistic regression"),
    ]
    for r in rows[1:]:
        r["vs_reference"] = {"reference": COLOUR_CNN, **{key: _comparison_dict(paired(r, rows[0], key), n) for key in ("val_acc", "test_acc")}}
    return rows


def _comparison_dict(c: Comparison, n: int) -> dict:
    finite = lambda v: v if v == v else None  # noqa: E731  (nan, for one repeat, is null in JSON)
    return {"diff": c.diff, "se": finite(c.se), "n": n, "verdict": c.verdict, "margin": finite(c.margin)}


def chance_accuracy(config: RunConfig) -> float:
    """The test accuracy of always predicting the most frequent test class."""
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
    def spatial(self) -> float:
        """The CNN's test accuracy beyond colour alone (colour CNN minus colour only, mean of the paired differences)."""
        return -self.only_vs_cnn.diff


def controls_facts(rows: Sequence[Mapping], chance: float) -> ControlsFacts:
    """The facts of the three rows of `run_controls` (in its order) and the chance level."""
    cnn, gray, only = rows
    return ControlsFacts(cnn, gray, only, chance, paired(only, cnn), paired(gray, cnn))


def controls_findings(facts: ControlsFacts) -> list[str]:
    """The suite's findings: each row's test accuracy, the paired differences and what they imply."""
    f = facts
    out = [f"{r['variant']}: test accuracy {format_record(r, 'test_acc')}" for r in (f.cnn, f.gray, f.only)]
    out.append(f"chance (most frequent test class): {f.chance:.3f}")
    c = f.only_vs_cnn
    text = f"colour only minus colour CNN, paired: {c.diff:+.3f} ± {c.se:.3f} SE ({c.verdict})"
    if f.share is None:
        text += "; the CNN is not above chance, so there is nothing to split between colour and spatial structure"
    elif c.diff >= 0:
        text += f"; colour alone does at least as well as the CNN ({f.share:.0%} of its accuracy above chance): nothing is left for spatial structure"
    else:
        text += (f"; colour alone reaches {f.share:.0%} of the CNN's accuracy above chance, and the CNN's {f.spatial:+.3f} "
                 "beyond it needs more than global colour statistics (spatial structure)")
    out.append(text)
    g = f.gray_vs_cnn
    meaning = {BETTER: "the network does better without colour", WORSE: "removing colour costs accuracy",
               WITHIN_NOISE: f"removing colour changes accuracy by less than {NOISE_SE:g} standard errors"}
    out.append(f"grayscale minus colour CNN, paired: {g.diff:+.3f} ± {g.se:.3f} SE ({g.verdict}): "
               + meaning.get(g.verdict, "one repeat, no error bar"))
    return out


@SUITES.register("controls")
def controls_suite(options: SuiteOptions) -> SuiteResult:
    """1.7: a colour-only classifier and the CNN on grayscale images, paired with the colour CNN."""
    from cnnlab.art.suites.definitions import best_config

    config, origin = best_config(options)
    rows = run_controls(config, suite_repeats(config, options), options)
    chance = chance_accuracy(config)
    findings = [f"model: {origin}"] + controls_findings(controls_facts(rows, chance))
    result = write_suite("controls", options, rows, findings, extra={"chance": chance, "origin": origin},
                         columns=("train_acc", "val_acc", "test_acc"))
    plot_controls(rows, chance, result.path / "controls.png")
    return result


def plot_controls(rows: Sequence[Mapping], chance: float, path: Path) -> Path:
    """Test accuracy per row (mean ± std over repeats, each repeat a dot), with the chance level."""
    from cnnlab.core.plotting import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    for i, r in enumerate(rows):
        ax.bar(i, r["test_acc_mean"], yerr=r.get("test_acc_std", 0.0), color=["#3182bd", "#969696", "#e6550d"][i % 3], capsize=3)
        ax.plot([i] * len(r["per_repeat"]["test_acc"]), r["per_repeat"]["test_acc"], "k.", ms=4)
    ax.axhline(chance, color="k", ls=":", lw=0.8, label="chance (most frequent class)")
    ax.set_xticks(range(len(rows)), [r["variant"] for r in rows])
    ax.set(ylabel="test accuracy", ylim=(0, 1.0), title=f"Controls (n={rows[0]['n']} repeats)")
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
