"""The one home of the statistics cnnlab reports: mean, sample std, standard error over repeats, and
THE rule that calls a difference between two variants better, worse or no clear difference.

Suites, findings, the report's text and its plots all summarise repeated runs and compare variants
through these functions, so a number or a verdict printed anywhere is computed the same way
everywhere. Records ("rows") follow one convention: "<key>_mean", "<key>_std" and "n" (see
`aggregate`), which `summary_of` reads back, plus, for paired comparisons, "repeats" (the repeat
ids, e.g. [0, 1, 2, 3, 4]) and "per_repeat" ({key: [value of each repeat, in that order]}).

Comparisons are paired: two variants ran on the same repeats (the same validation fold, seed and
test split), so the difference is taken repeat by repeat and the split and seed noise that both
share cancels out (`compare`, `compare_records`; the rule is VERDICT_RULE).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cnnlab.core.errors import CnnlabError

# The verdicts `compare` can return.
BETTER = "better"
WORSE = "worse"
NO_CLEAR_DIFFERENCE = "no clear difference"
SINGLE_REPEAT = "single repeat"
NO_EFFECT = "no effect at this setting"

CONFIDENCE = 0.95  # of the two-sided paired t interval
# A variant whose per-repeat values of all these keys equal its reference's changed nothing.
IDENTITY_KEYS = ("train_acc", "val_acc", "test_acc", "val_loss", "epochs_run")
VERDICT_RULE = (
    "paired over repeats (each repeat: the same validation fold, seed and test split for both variants): per-repeat "
    "difference d = a - b, reported as mean(d) ± SE, SE = sample std of d / sqrt(n); "
    f"'{BETTER}' or '{WORSE}' when the two-sided {CONFIDENCE:.0%} t interval mean(d) ± t(0.975, n - 1) SE excludes 0, "
    f"else '{NO_CLEAR_DIFFERENCE}'; '{SINGLE_REPEAT}' when n < 2; '{NO_EFFECT}' when every per-repeat number equals the reference's"
)


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (0 for one value) and count of repeated measurements."""

    mean: float
    std: float
    n: int

    @property
    def se(self) -> float:
        """Standard error of the mean: std / sqrt(n)."""
        return self.std / math.sqrt(self.n) if self.n > 0 else math.nan


@dataclass(frozen=True)
class Comparison:
    """Variant a against variant b, paired over n repeats: mean difference, its SE, the interval, the verdict."""

    diff: float  # mean over repeats of a - b
    se: float  # standard error of that mean (nan for n < 2)
    n: int
    low: float  # the CONFIDENCE t interval of the mean difference (nan for n < 2)
    high: float
    verdict: str

    @property
    def margin(self) -> float:
        """Half the width of the t interval (nan for n < 2)."""
        return (self.high - self.low) / 2

    @property
    def has_error_bar(self) -> bool:
        """False for a single repeat (no spread measured)."""
        return self.n >= 2

    @property
    def no_effect(self) -> bool:
        return self.verdict == NO_EFFECT


def summarize(values: Iterable[float]) -> Summary:
    """Summary of `values` (at least one)."""
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("summarize needs at least one value")
    return Summary(statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0, len(vals))


def aggregate(records: Sequence[Mapping[str, float]], keys: Sequence[str]) -> dict[str, float]:
    """{"<key>_mean", "<key>_std"} for each key present in every record, plus "n" (the number of records)."""
    out: dict[str, float] = {"n": len(records)}
    for key in keys:
        if records and all(key in r for r in records):
            s = summarize(r[key] for r in records)
            out[f"{key}_mean"], out[f"{key}_std"] = s.mean, s.std
    return out


def summary_of(record: Mapping[str, float], key: str) -> Summary:
    """The Summary of `key` stored in an aggregated record ("<key>_mean", "<key>_std", "n"; a missing std is 0)."""
    return Summary(float(record[f"{key}_mean"]), float(record.get(f"{key}_std") or 0.0), int(record["n"]))


def t_quantile(n: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided `confidence` quantile of Student's t with n - 1 degrees of freedom (n >= 2)."""
    from scipy.stats import t

    return float(t.ppf(0.5 + confidence / 2, n - 1))


def compare(a: Sequence[float], b: Sequence[float], identical: bool | None = None) -> Comparison:
    """a minus b under VERDICT_RULE, paired: a[i] and b[i] come from the same repeat.

    `identical`: whether the two variants' runs gave the same numbers in every repeat (default: a == b
    here); then the verdict is NO_EFFECT whatever n is.
    """
    if len(a) != len(b) or not len(a):
        raise ValueError(
            f"a paired comparison needs as many values on both sides (at least one), got {len(a)} and {len(b)}"
        )
    d = [float(x) - float(y) for x, y in zip(a, b)]
    n, mean = len(d), statistics.fmean(d)
    if identical is None:
        identical = all(x == 0 for x in d)
    if n < 2:
        return Comparison(mean, math.nan, n, math.nan, math.nan, NO_EFFECT if identical else SINGLE_REPEAT)
    se = statistics.stdev(d) / math.sqrt(n)
    half = t_quantile(n) * se
    low, high = mean - half, mean + half
    if identical:
        verdict = NO_EFFECT
    elif low > 0:
        verdict = BETTER
    elif high < 0:
        verdict = WORSE
    else:
        verdict = NO_CLEAR_DIFFERENCE
    return Comparison(mean, se, n, low, high, verdict)


def per_repeat(record: Mapping, key: str) -> dict[int, float]:
    """{repeat id: value of `key`} of a record with "repeats" and "per_repeat" (see the module docstring)."""
    values = (record.get("per_repeat") or {}).get(key)
    repeats = record.get("repeats")
    if values is None or repeats is None or len(values) != len(repeats):
        raise CnnlabError(
            f"row {record.get('variant', '?')!r} has no per-repeat {key} values "
            "(written by an older cnnlab: rerun its suite to get paired comparisons)"
        )
    return dict(zip((int(r) for r in repeats), (float(v) for v in values)))


def compare_records(a: Mapping, b: Mapping, key: str = "val_acc") -> Comparison:
    """`compare` of `key` between two rows (a minus b), paired by repeat id; both must have run the same repeats.

    The verdict is NO_EFFECT when every IDENTITY_KEYS value that both rows record is equal in every repeat.
    """
    va, vb = per_repeat(a, key), per_repeat(b, key)
    if set(va) != set(vb):
        raise CnnlabError(
            f"rows {a.get('variant', '?')!r} and {b.get('variant', '?')!r} ran different repeats "
            f"({sorted(va)} vs {sorted(vb)}): no paired comparison"
        )
    order = sorted(va)
    keys = [k for k in IDENTITY_KEYS if k in (a.get("per_repeat") or {}) and k in (b.get("per_repeat") or {})] or [key]
    identical = all(per_repeat(a, k) == per_repeat(b, k) for k in keys)
    return compare([va[r] for r in order], [vb[r] for r in order], identical=identical)


def mean_curves(histories: Sequence[Sequence[Mapping[str, float]]], keys: Sequence[str]) -> dict[str, list[float]]:
    """Per-epoch mean and sample std over runs of each key, truncated to the shortest run.

    `histories`: one list of per-epoch records (with "epoch") per run. Returns {"epoch": [...],
    "<key>_mean": [...], "<key>_std": [...]} for each key present in every record kept.
    """
    if not histories:
        raise ValueError("mean_curves needs at least one history")
    n = min(len(h) for h in histories)
    out: dict[str, list[float]] = {"epoch": [float(h["epoch"]) for h in histories[0][:n]]}
    for key in keys:
        if not all(key in row for h in histories for row in h[:n]):
            continue
        per_epoch = [summarize(h[e][key] for h in histories) for e in range(n)]
        out[f"{key}_mean"] = [s.mean for s in per_epoch]
        out[f"{key}_std"] = [s.std for s in per_epoch]
    return out


def format_mean_std(mean: float, std: float, n: int, digits: int = 3) -> str:
    """'0.607 ± 0.009 (n=3)'."""
    return f"{mean:.{digits}f} ± {std:.{digits}f} (n={n})"


def format_record(record: Mapping[str, float], key: str, digits: int = 3) -> str:
    """`format_mean_std` of `key` in an aggregated record: '0.607 ± 0.009 (n=3)'."""
    s = summary_of(record, key)
    return format_mean_std(s.mean, s.std, s.n, digits)


def format_comparison(c: Comparison, digits: int = 3) -> str:
    """'+0.032 ± 0.011 SE (n=5, better)': the mean paired difference, its standard error, n and the verdict."""
    if not c.has_error_bar:
        return f"{c.diff:+.{digits}f} (n={c.n}, {c.verdict})"
    return f"{c.diff:+.{digits}f} ± {c.se:.{digits}f} SE (n={c.n}, {c.verdict})"
