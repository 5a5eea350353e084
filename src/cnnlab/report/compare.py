"""Comparisons of suite rows for the report's sentences and tables.

A difference is called better or worse only when it exceeds two standard errors of the
seed-to-seed spread, else "within seed noise" (or "single seed" when n = 1).
"""

from __future__ import annotations

import math

from cnnlab.report.latex import esc, pm, pp

def find(rows: list[dict], variant: str) -> dict:
    for r in rows:
        if r["variant"] == variant:
            return r
    return rows[0]


def delta(row: dict, base: dict, metric: str = "val_acc") -> tuple[float, float, str]:
    """(difference of means, 2 standard errors, verdict) of `metric` between two rows."""
    d = row[f"{metric}_mean"] - base[f"{metric}_mean"]
    two_se = 2 * math.sqrt(row.get(f"{metric}_std", 0) ** 2 / row["n"] + base.get(f"{metric}_std", 0) ** 2 / base["n"])
    if row["n"] < 2 or base["n"] < 2:
        verdict = "single seed, no error bar"
    elif abs(d) <= two_se:
        verdict = "within seed noise"
    else:
        verdict = "better" if d > 0 else "worse"
    return d, two_se, verdict


def change(row: dict, base: dict, metric: str = "val_acc") -> str:
    """'+3.2 points (within seed noise, 2 SE 4.1)' as LaTeX."""
    d, two_se, verdict = delta(row, base, metric)
    se = f", 2\\,SE {100 * two_se:.1f}" if row["n"] > 1 and base["n"] > 1 else ""
    return f"{pp(d)} points ({verdict}{se})"


def acc(row: dict, metric: str = "val_acc", unit: bool = True) -> str:
    """Mean +- std of an accuracy in percent (the std only when n > 1)."""
    return pm(row[f"{metric}_mean"], row.get(f"{metric}_std"), n=row["n"]) + (r"\,\%" if unit else "")


def gap(row: dict) -> float:
    return row["train_acc_mean"] - row["val_acc_mean"]


def id_comments(rows: list[dict]) -> list[str]:
    return [f"{r['variant']}: runs {' '.join(r['run_ids'])}" for r in rows]


def seeds_note(rows: list[dict]) -> str:
    ns = sorted({r["n"] for r in rows})
    n = "/".join(map(str, ns))
    return f"mean\\,$\\pm$\\,std over $n={n}$ seed{'s' if ns != [1] else ''}"


def grouped(rows: list[dict], cells, ncols: int, base_variant: str | None = None) -> list[list[str]]:
    """Table lines per group, each group led by an italic header line (the baseline alone, first)."""
    groups: list[list[str]] = []
    current = None
    for r in rows:
        line = " & ".join(cells(r)) + r" \\"
        if r["variant"] == base_variant:
            groups.insert(0, [line])
            continue
        if r["group"] != current:
            current = r["group"]
            groups.append([f"\\multicolumn{{{ncols}}}{{@{{}}l}}{{\\emph{{{esc(current)}}}}} \\\\"])
        groups[-1].append(line)
    return groups
