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

from cnnlab.art.config import RunConfig
from cnnlab.art.transforms.course import COURSE_ORDER
from cnnlab.core.errors import CnnlabError
from cnnlab.core.stats import Comparison, compare, summarize

EVAL_SEED = 1234  # fixes the random parts of the transforms (translate directions) for evaluation
ORIGINAL = "original"  # the clean test split, severity 0
COURSE_SEVERITY_LEVEL = 1.0  # the one strength at which a course transform is recorded in the table


def evaluate_robustness(
    models: Mapping[str, Sequence[str]], config: RunConfig, severities: Mapping[str, Sequence[float]] | None = None
) -> list[dict]:
    """Test accuracy of each run's reported model, clean, under every course transform and every graded transform and severity.

    `models` maps a label to run folders (one per repeat, the same repeats in the same order for
    every model). Returns rows: model, transform, severity, acc_mean, acc_std, n, accs (per run).
    Severity 0 of any graded transform is the clean test split ("original"); course transforms
    have the single severity COURSE_SEVERITY_LEVEL.
    """
    import torch

    from cnnlab.art.run import load_run_model, prepare_data
    from cnnlab.art.transforms import SEVERITIES, apply_transform
    from cnnlab.art.transforms.course import apply_course_transform
    from cnnlab.core.train.trainer import Trainer

    severities = severities or SEVERITIES
    x_test, y_test = prepare_data(config).test  # (N, 3, H, W), (N,)
    trainer = Trainer()
    rows = []
    for label, paths in models.items():
        nets = [load_run_model(p) for p in paths]

        def accuracy(x: torch.Tensor, nets: list = nets) -> list[float]:  # nets bound now: this label's networks
            return [trainer.evaluate(net, x, y_test)[1] for net in nets]

        clean = accuracy(x_test)
        rows.append(_row(label, ORIGINAL, 0.0, clean))
        for name in COURSE_ORDER:
            rows.append(_row(label, name, COURSE_SEVERITY_LEVEL, accuracy(apply_course_transform(name, x_test))))
        for name, levels in severities.items():
            for severity in levels:
                if severity == 0:
                    continue
                gen = torch.Generator().manual_seed(EVAL_SEED)
                rows.append(
                    _row(label, name, float(severity), accuracy(apply_transform(name, x_test, float(severity), gen)))
                )
    return rows


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
