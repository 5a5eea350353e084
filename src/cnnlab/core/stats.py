"""The one home of the statistics cnnlab reports: mean, sample std, standard error over repeats.

Suites, findings, the report and the CLI all summarise repeated runs through these functions, so a
number printed anywhere is computed the same way everywhere.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence


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


def format_mean_std(mean: float, std: float, n: int, digits: int = 3) -> str:
    """'0.607 ± 0.009 (n=3)'."""
    return f"{mean:.{digits}f} ± {std:.{digits}f} (n={n})"
