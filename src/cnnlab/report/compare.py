"""Comparisons of suite rows for the report's sentences and tables, in LaTeX.

The verdict (better, worse, within seed noise, single seed) is `cnnlab.core.stats.compare`, the
same rule the suite findings and the report's plots use; suite rows are found by their label with
`cnnlab.art.suites.labels.find_variant`.
"""

from __future__ import annotations

from cnnlab.core.stats import NOISE_SE, compare_records
from cnnlab.report.latex import esc, pm, pp


def change(row: dict, base: dict, metric: str = "val_acc") -> str:
    """'+3.2 points (within seed noise, 2 SE 4.1)' as LaTeX: row minus base, with the verdict."""
    c = compare_records(row, base, metric)
    se = f", {NOISE_SE:g}\\,SE {100 * c.margin:.1f}" if c.has_error_bar else ""
    return f"{pp(c.diff)} points ({c.verdict}{se})"


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
