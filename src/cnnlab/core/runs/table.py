"""What `cnnlab runs` prints of the catalogue: the runs table (`format_table`) and the difference of two runs
(`diff_runs`: config keys and metrics). Torch-free, like the catalogue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.core.config import flatten
from cnnlab.core.runs.catalog import RunRow, iso_time, values_equal

# ----------------------------------------------------------------------------- show and diff
METRIC_KEYS = (
    "train_acc",
    "val_acc",
    "test_acc",
    "train_loss",
    "val_loss",
    "test_loss",
    "epochs_run",
    "best_epoch",
    "train_seconds",
    "wall_seconds",
)


@dataclass(frozen=True)
class RunDiff:
    """Two runs compared: config keys that differ and metric deltas (b - a)."""

    a: RunRow
    b: RunRow
    config: list[tuple[str, Any, Any]]  # (dotted key, value in a, value in b); missing = None
    metrics: list[tuple[str, float, float, float]]  # (key, a, b, b - a)


def _comparable_config(rec: RunRow) -> dict[str, Any]:
    """The resolved config's dotted keys, plus config.json's other fields (kind, seed, data, version) as run.*."""
    meta = flatten({k: v for k, v in rec.meta.items() if k != "config"})
    return {**flatten(rec.meta.get("config") or {}), **{f"run.{k}": v for k, v in meta.items()}}


def diff_runs(a: RunRow, b: RunRow) -> RunDiff:
    """The resolved-config keys (and kind, seed, data, version) that differ, and every metric's delta."""
    ca, cb = _comparable_config(a), _comparable_config(b)
    config = [(k, ca.get(k), cb.get(k)) for k in sorted(set(ca) | set(cb)) if not values_equal(ca.get(k), cb.get(k))]
    numeric = lambda s: {k: float(v) for k, v in s.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}  # noqa: E731
    sa, sb = numeric(a.summary), numeric(b.summary)
    keys = [k for k in METRIC_KEYS if k in sa and k in sb]
    keys += sorted(k for k in set(sa) & set(sb) if k not in keys and sa[k] != sb[k])
    return RunDiff(a, b, config, [(k, sa[k], sb[k], sb[k] - sa[k]) for k in keys])


# ----------------------------------------------------------------------------- printing


def _cell(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_table(records: Sequence[RunRow]) -> str:
    """The runs as an aligned text table, one line per run (problem runs say why in place of numbers)."""
    header = ["id", "kind", "data", "seed", "epochs", "train", "val", "test", "seconds", "when"]
    rows = []
    for r in records:
        data = Path(r.data).name if r.data else "-"
        data = data if len(data) <= 20 else data[:19] + "…"
        if r.ok:
            rows.append(
                [
                    r.run_id,
                    r.kind,
                    data,
                    _cell(r.seed),
                    _cell(r.epochs),
                    _cell(r.train_acc),
                    _cell(r.val_acc),
                    _cell(r.test_acc),
                    _cell(r.seconds, 1),
                    iso_time(r.when) or "-",
                ]
            )
        else:
            rows.append([r.run_id, r.status, f"({r.problem})"])
    widths = [
        max([len(header[i])] + [len(row[i]) for row in rows if len(row) == len(header)]) for i in range(len(header))
    ]
    right = {3, 4, 5, 6, 7, 8}
    line = lambda cells: "  ".join(
        c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
    ).rstrip()  # noqa: E731
    out = [line(header)]
    for row in rows:
        out.append(line(row) if len(row) == len(header) else "  ".join([row[0].ljust(widths[0]), row[1], row[2]]))
    return "\n".join(out)
