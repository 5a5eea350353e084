"""Robustness of trained models to the handout's transformations (question 1.7): the evaluation and
the facts the suite findings and the report both state about it (`robustness_facts`).

Two families are evaluated on the fixed test split: the course's own transformations
(cnnlab.art.transforms.course, one strength each: the headline) and the graded transforms of
cnnlab.art.transforms at several severities (the curves). Every table row keeps the accuracy of each
run ("accs", in repeat order), so drops and the augmented model's gains are paired per repeat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.art.config import RunConfig
from cnnlab.art.transforms.course import COURSE_ORDER
from cnnlab.core.errors import CnnlabError
from cnnlab.core.stats import Comparison, compare, summarize

EVAL_SEED = 1234  # fixes the random parts of the transforms (translate directions) for evaluation
ORIGINAL = "original"  # the clean test split, severity 0
COURSE_SEVERITY_LEVEL = 1.0  # the one strength at which a course transform is recorded in the table
CACHE_FORMAT = 1  # of the robustness cache's key: raise it when the evaluation's numbers change within a version


def evaluate_robustness(
    models: Mapping[str, Sequence[str]],
    config: RunConfig,
    severities: Mapping[str, Sequence[float]] | None = None,
    cache_dir: str | Path | None = None,
) -> list[dict]:
    """Test accuracy of each run's reported model, clean, under every course transform and every graded transform and severity.

    `models` maps a label to run folders (one per repeat, the same repeats in the same order for
    every model). Returns rows: model, transform, severity, acc_mean, acc_std, n, accs (per run).
    Severity 0 of any graded transform is the clean test split ("original"); course transforms
    have the single severity COURSE_SEVERITY_LEVEL.

    `cache_dir` (the runs folder's cache/robustness): the accuracies are read from there when a cache file
    for exactly these inputs is there (`robustness_key`), else evaluated and written there; a damaged or
    mismatched file costs one warning and is evaluated again (core.keyed_cache). The rows are the same.
    """
    from cnnlab.art.run import prepare_data
    from cnnlab.art.transforms import SEVERITIES
    from cnnlab.core.keyed_cache import cached

    severities = severities or SEVERITIES
    plan = [
        (label, len(paths), transform, severity)
        for label, paths in models.items()
        for _, transform, severity in _cells(severities)
    ]
    x_test, y_test = prepare_data(config).test  # (N, 3, H, W), (N,)
    evaluate = lambda: evaluate_accuracies(models, x_test, y_test, severities)  # noqa: E731
    if cache_dir is None:
        accs = evaluate()
    else:
        key = robustness_key(models, x_test, y_test, severities)
        accs = cached(cache_dir, key, evaluate, "robustness cache", lambda value: _accs_problem(value, plan))
    return [_row(label, transform, severity, a) for (label, _, transform, severity), a in zip(plan, accs)]


def _cells(severities: Mapping[str, Sequence[float]]) -> list[tuple[str, str, float]]:
    """(family, transform, severity) of every row of one model, in table order: the clean split, the course's
    transforms, then each graded transform at each non-zero severity."""
    cells = [("clean", ORIGINAL, 0.0)] + [("course", name, COURSE_SEVERITY_LEVEL) for name in COURSE_ORDER]
    return cells + [("graded", name, float(s)) for name, levels in severities.items() for s in levels if s != 0]


def evaluate_accuracies(
    models: Mapping[str, Sequence[str]], x_test: Any, y_test: Any, severities: Mapping[str, Sequence[float]]
) -> list[list[float]]:
    """The evaluation itself: per model and cell of `_cells` (in that order), the test accuracy of each run."""
    import torch

    from cnnlab.art.run import load_run_model
    from cnnlab.art.transforms import apply_transform
    from cnnlab.art.transforms.course import apply_course_transform
    from cnnlab.core.train.trainer import Trainer

    trainer = Trainer()
    out = []
    for paths in models.values():
        nets = [load_run_model(p) for p in paths]

        def accuracy(x: torch.Tensor, nets: list = nets) -> list[float]:  # nets bound now: this label's networks
            return [trainer.evaluate(net, x, y_test)[1] for net in nets]

        for family, name, severity in _cells(severities):
            if family == "clean":
                x = x_test
            elif family == "course":
                x = apply_course_transform(name, x_test)
            else:
                x = apply_transform(name, x_test, severity, torch.Generator().manual_seed(EVAL_SEED))
            out.append(accuracy(x))
    return out


def robustness_key(
    models: Mapping[str, Sequence[str]], x_test: Any, y_test: Any, severities: Mapping[str, Sequence[float]]
) -> dict:
    """What the accuracies of `evaluate_accuracies` depend on, exactly: each run (its id, config and the
    SHA-256 of the weights it reports), the test split's bytes, the cells (transforms, severities, order)
    and their seed, the evaluation device, and the cnnlab and torch versions."""
    import hashlib

    import torch

    from cnnlab.art.run import run_identity
    from cnnlab.core.train.trainer import Trainer
    from cnnlab.core.version import __version__

    def digest(t: torch.Tensor) -> str:
        return hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()

    return {
        "cache": "robustness",
        "format": CACHE_FORMAT,
        "cnnlab": __version__,
        "torch": torch.__version__,
        "device": str(Trainer().device),
        "models": [[label, [run_identity(p) for p in paths]] for label, paths in models.items()],
        "test": {
            "images": [list(x_test.shape), str(x_test.dtype), digest(x_test)],
            "labels": [list(y_test.shape), str(y_test.dtype), digest(y_test)],
        },
        "cells": [list(cell) for cell in _cells(severities)],
        "eval_seed": EVAL_SEED,
    }


def _accs_problem(value: Any, plan: Sequence[tuple[str, int, str, float]]) -> str | None:
    """None when `value` (read back from a cache) holds one list of `n` accuracies in [0, 1] per cell of `plan`."""
    if not isinstance(value, list) or len(value) != len(plan):
        return f"it holds no list of {len(plan)} accuracy lists"
    for (label, n, transform, severity), accs in zip(plan, value):
        if not (
            isinstance(accs, list) and len(accs) == n and all(isinstance(a, float) and 0.0 <= a <= 1.0 for a in accs)
        ):
            return f"its accuracies of {label!r} under {transform} {severity:g} are not {n} numbers in [0, 1]"
    return None


def _row(model: str, transform: str, severity: float, accs: list[float]) -> dict:
    s = summarize(accs)
    return {
        "model": model,
        "transform": transform,
        "severity": severity,
        "acc_mean": s.mean,
        "acc_std": s.std,
        "n": s.n,
        "accs": accs,
    }


# ----------------------------------------------------------------------------- reading a robustness table
def strongest_severities(table: Sequence[Mapping]) -> dict[str, float]:
    """transform -> its strongest severity in `table`, in table order ("original": 0)."""
    return {
        t: max(r["severity"] for r in table if r["transform"] == t)
        for t in dict.fromkeys(r["transform"] for r in table)
    }


def table_row(table: Sequence[Mapping], model: str, transform: str, severity: float) -> dict:
    """The row of (model, transform, severity); a CnnlabError when the table has none."""
    for r in table:
        if r["model"] == model and r["transform"] == transform and r["severity"] == severity:
            return dict(r)
    raise CnnlabError(
        f"the robustness table has no row for model {model!r}, transform {transform!r}, severity {severity:g}"
    )


def course_points(table: Sequence[Mapping], model: str, graded: str) -> list[tuple[float, float]]:
    """(severity, accuracy) of each course transform of `model` that sits on the graded transform
    `graded` (cnnlab.art.transforms.course.COURSE_SEVERITY): where a severity curve marks the course's point."""
    from cnnlab.art.transforms.course import COURSE_SEVERITY

    out = []
    for course, (name, severity) in COURSE_SEVERITY.items():
        rows = [r for r in table if r["model"] == model and r["transform"] == course]
        if name == graded and rows:
            out.append((severity, rows[0]["acc_mean"]))
    return out


@dataclass(frozen=True)
class RobustnessFacts:
    """What a robustness table says about `transforms` (by default the course's), each at its strongest severity.

    drops: clean minus transformed test accuracy of the reference model, paired per repeat (a
    Comparison of clean against transformed: diff, se, verdict); ranked: the transforms from the
    smallest mean drop (most invariant) to the largest (most damaging); gains: augmented minus
    reference accuracy under each transform, paired per repeat (and "original": the clean change).
    """

    reference: str
    augmented: str | None
    strongest: dict[str, float]
    rows: dict[tuple[str, str], dict]  # (model, transform) -> table row at the strongest severity
    drops: dict[str, Comparison]
    ranked: tuple[str, ...]
    gains: dict[str, Comparison]

    @property
    def models(self) -> tuple[str, ...]:
        return (self.reference,) + ((self.augmented,) if self.augmented else ())

    @property
    def transforms(self) -> tuple[str, ...]:
        """The transforms other than the clean split, in table order."""
        return tuple(t for t in self.strongest if t != ORIGINAL)

    def row(self, model: str, transform: str) -> dict:
        """The table row of `model` under `transform` at its strongest severity."""
        return self.rows[(model, transform)]

    @property
    def clean(self) -> dict:
        """The reference model on the clean test split."""
        return self.row(self.reference, ORIGINAL)

    @property
    def clean_change(self) -> Comparison | None:
        """Augmented minus reference clean test accuracy, paired (None without an augmented model)."""
        return self.gains.get(ORIGINAL)

    def most_invariant(self, k: int = 2) -> tuple[str, ...]:
        return self.ranked[:k]

    def most_damaging(self, k: int = 2) -> tuple[str, ...]:
        return self.ranked[::-1][:k]

    def mean_drop(self, kinds: Sequence[str]) -> float | None:
        """The mean drop over the transforms of `kinds` in the table (e.g. GEOMETRIC); None if there are none."""
        drops = [self.drops[t].diff for t in self.transforms if t in kinds]
        return sum(drops) / len(drops) if drops else None

    def compare_drops(self, kinds: Sequence[str], others: Sequence[str]) -> Comparison | None:
        """The mean drop over `kinds` minus that over `others`, paired per repeat (the reference model's runs); None if
        either has no transform in the table."""
        a, b = [t for t in self.transforms if t in kinds], [t for t in self.transforms if t in others]
        if not a or not b:
            return None
        clean = self.clean["accs"]

        def per_repeat(names: list[str]) -> list[float]:
            return [
                sum(clean[i] - self.row(self.reference, t)["accs"][i] for t in names) / len(names)
                for i in range(len(clean))
            ]

        return compare(per_repeat(a), per_repeat(b))


def robustness_facts(
    table: Sequence[Mapping],
    reference: str,
    augmented: str | None = None,
    transforms: Sequence[str] | None = COURSE_ORDER,
) -> RobustnessFacts:
    """The facts of `table` (from `evaluate_robustness`) about model `reference` under `transforms`
    (default: the course's, those of them in the table; None: every transform), and `augmented` against it."""
    all_strongest = strongest_severities(table)
    keep = set(all_strongest) if transforms is None else {ORIGINAL, *transforms}
    strongest = {t: s for t, s in all_strongest.items() if t in keep}
    models = (reference,) + ((augmented,) if augmented else ())
    rows = {(m, t): table_row(table, m, t, s) for m in models for t, s in strongest.items()}
    names = [t for t in strongest if t != ORIGINAL]
    clean = rows[(reference, ORIGINAL)]["accs"]
    drops = {t: compare(clean, rows[(reference, t)]["accs"]) for t in names}
    gains = (
        {t: compare(rows[(augmented, t)]["accs"], rows[(reference, t)]["accs"]) for t in [ORIGINAL, *names]}
        if augmented
        else {}
    )
    return RobustnessFacts(
        reference, augmented, strongest, rows, drops, tuple(sorted(names, key=lambda t: drops[t].diff)), gains
    )
