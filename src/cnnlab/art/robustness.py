"""Robustness of trained models to the handout's transformations (question 1.7): the evaluation and
the facts the suite findings and the report both state about it (`robustness_facts`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from cnnlab.art.config import RunConfig
from cnnlab.core.errors import CnnlabError
from cnnlab.core.stats import summarize

EVAL_SEED = 1234  # fixes the random parts of the transforms (translate directions) for evaluation
ORIGINAL = "original"  # the clean test split, severity 0
GEOMETRIC = ("translate", "hflip")
PHOTOMETRIC = ("brighten", "darken", "contrast_high", "contrast_low", "invert")


def evaluate_robustness(models: Mapping[str, Sequence[str]], config: RunConfig, severities: Mapping[str, Sequence[float]] | None = None) -> list[dict]:
    """Test accuracy of each run's reported model under every transform and severity.

    `models` maps a label to run folders (one per seed). Returns rows: model, transform, severity,
    acc_mean, acc_std, n, accs. Severity 0 of any transform is the clean test split ("original").
    """
    import torch

    from cnnlab.art.run import load_run_model, prepare_data
    from cnnlab.core.trainer import Trainer
    from cnnlab.art.transforms import SEVERITIES, apply_transform

    severities = severities or SEVERITIES
    x_test, y_test = prepare_data(config).test  # (N, 3, H, W), (N,)
    trainer = Trainer()
    rows = []
    for label, paths in models.items():
        nets = [load_run_model(p) for p in paths]

        def accuracy(x: torch.Tensor) -> list[float]:
            return [trainer.evaluate(net, x, y_test)[1] for net in nets]

        clean = accuracy(x_test)
        rows.append(_row(label, ORIGINAL, 0.0, clean))
        for name, levels in severities.items():
            for severity in levels:
                if severity == 0:
                    continue
                gen = torch.Generator().manual_seed(EVAL_SEED)
                rows.append(_row(label, name, float(severity), accuracy(apply_transform(name, x_test, float(severity), gen))))
    return rows


def _row(model: str, transform: str, severity: float, accs: list[float]) -> dict:
    s = summarize(accs)
    return {"model": model, "transform": transform, "severity": severity, "acc_mean": s.mean, "acc_std": s.std, "n": s.n, "accs": accs}


# ----------------------------------------------------------------------------- reading a robustness table
def strongest_severities(table: Sequence[Mapping]) -> dict[str, float]:
    """transform -> its strongest severity in `table`, in table order ("original": 0)."""
    return {t: max(r["severity"] for r in table if r["transform"] == t) for t in dict.fromkeys(r["transform"] for r in table)}


def table_row(table: Sequence[Mapping], model: str, transform: str, severity: float) -> dict:
    """The row of (model, transform, severity); a CnnlabError when the table has none."""
    for r in table:
        if r["model"] == model and r["transform"] == transform and r["severity"] == severity:
            return dict(r)
    raise CnnlabError(f"the robustness table has no row for model {model!r}, transform {transform!r}, severity {severity:g}")


@dataclass(frozen=True)
class RobustnessFacts:
    """What a robustness table says, at each transform's strongest severity.

    drops: clean minus transformed accuracy of the reference model; ranked: the transforms from the
    smallest drop (most invariant) to the largest (most damaging); gains: augmented minus reference.
    """

    reference: str
    augmented: str | None
    strongest: dict[str, float]
    rows: dict[tuple[str, str], dict]  # (model, transform) -> table row at the strongest severity
    drops: dict[str, float]
    ranked: tuple[str, ...]
    gains: dict[str, float]

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
    def clean_change(self) -> float | None:
        """Augmented minus reference clean test accuracy (None without an augmented model)."""
        return self.row(self.augmented, ORIGINAL)["acc_mean"] - self.clean["acc_mean"] if self.augmented else None

    def most_invariant(self, k: int = 2) -> tuple[str, ...]:
        return self.ranked[:k]

    def most_damaging(self, k: int = 2) -> tuple[str, ...]:
        return self.ranked[::-1][:k]

    def mean_drop(self, kinds: Sequence[str]) -> float | None:
        """The mean drop over the transforms of `kinds` in the table (e.g. GEOMETRIC); None if there are none."""
        drops = [self.drops[t] for t in self.transforms if t in kinds]
        return sum(drops) / len(drops) if drops else None


def robustness_facts(table: Sequence[Mapping], reference: str, augmented: str | None = None) -> RobustnessFacts:
    """The facts of `table` (from `evaluate_robustness`) about model `reference`, and `augmented` against it."""
    strongest = strongest_severities(table)
    models = (reference,) + ((augmented,) if augmented else ())
    rows = {(m, t): table_row(table, m, t, s) for m in models for t, s in strongest.items()}
    transforms = [t for t in strongest if t != ORIGINAL]
    clean = rows[(reference, ORIGINAL)]["acc_mean"]
    drops = {t: clean - rows[(reference, t)]["acc_mean"] for t in transforms}
    gains = {t: rows[(augmented, t)]["acc_mean"] - rows[(reference, t)]["acc_mean"] for t in transforms} if augmented else {}
    return RobustnessFacts(reference, augmented, strongest, rows, drops, tuple(sorted(transforms, key=lambda t: drops[t])), gains)
