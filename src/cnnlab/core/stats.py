"""The one home of the statistics cnnlab reports: mean, sample std, standard error over repeats, and
THE rule that calls a difference between two variants better, worse or within seed noise.

Suites, findings, the report's text and its plots all summarise repeated runs and compare variants
through these functions, so a number or a verdict printed anywhere is computed the same way
everywhere. Records ("rows") follow one convention: "<key>_mean", "<key>_std" and "n" (see
`aggregate`), which `summary_of` reads back.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

# The verdicts `compare` can return.
BETTER = "better"
WORSE = "worse"
WITHIN_NOISE = "within seed noise"
SINGLE_SEED = "single seed, no error bar"

NOISE_SE = 2.0  # a difference counts only beyond this many standard errors of the difference
VERDICT_RULE = (
    "unpaired comparison of two means: difference a - b, standard error sqrt(std_a^2/n_a + std_b^2/n_b) "
    f"(sample stds); '{BETTER}' or '{WORSE}' only when |difference| > {NOISE_SE:g} standard errors, "
    f"else '{WITHIN_NOISE}'; '{SINGLE_SEED}' when either side has n < 2"
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
    """Variant a against variant b: the difference of means, its standard error and the verdict."""

    diff: float
    se: float
    verdict: str

    @property
    def margin(self) -> float:
        """The noise margin of the rule: NOISE_SE standard errors of the difference."""
        return NOISE_SE * self.se

    @property
    def has_error_bar(self) -> bool:
        """False when a side has a single seed (no spread measured)."""
        return self.verdict != SINGLE_SEED


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


def compare(a: Summary, b: Summary) -> Comparison:
    """a minus b under VERDICT_RULE (the one place the rule lives; a paired test would replace this body)."""
    diff = a.mean - b.mean
    se = math.sqrt(a.std**2 / a.n + b.std**2 / b.n) if a.n > 0 and b.n > 0 else math.nan
    if a.n < 2 or b.n < 2:
        verdict = SINGLE_SEED
    elif abs(diff) <= NOISE_SE * se:
        verdict = WITHIN_NOISE
    else:
        verdict = BETTER if diff > 0 else WORSE
    return Comparison(diff, se, verdict)


def compare_records(a: Mapping[str, float], b: Mapping[str, float], key: str = "val_acc") -> Comparison:
    """`compare` of `key` between two aggregated records (suite rows), a minus b."""
    return compare(summary_of(a, key), summary_of(b, key))


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
