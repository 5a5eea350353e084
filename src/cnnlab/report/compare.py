"""Comparisons of suite rows for the report's sentences and tables, in LaTeX.

Every difference between two variants is paired over their repeats and judged by
`cnnlab.core.stats.compare_records` (the rule is `cnnlab.core.stats.VERDICT_RULE`), the same rule the
suite findings and the report's plots use; suite rows are found by their label with
`cnnlab.art.suites.labels.find_variant`.
"""

from __future__ import annotations

from collections.abc import Mapping

from cnnlab.core.stats import (
    BETTER,
    NO_CLEAR_DIFFERENCE,
    NO_EFFECT,
    WORSE,
    Comparison,
    compare,
    compare_records,
    per_repeat,
)
from cnnlab.report.latex import esc, pm, pp


def diff_text(c: Comparison) -> str:
    r"""'+3.2\,$\pm$\,1.1 points ($n=5$, better)': a paired difference (mean $\pm$ SE) with n and the verdict."""
    if c.verdict == NO_EFFECT:
        return f"{pp(c.diff)} points ({NO_EFFECT})"
    if not c.has_error_bar:
        return f"{pp(c.diff)} points ({c.verdict})"
    return f"{pp(c.diff)}\\,$\\pm$\\,{100 * c.se:.1f} points ($n={c.n}$, {c.verdict})"


def short_diff(c: Comparison) -> str:
    r"""'$-$7.2\,$\pm$\,1.6 (worse)': a paired difference in points without n, for lists whose sentence states n
    and says that only the marked differences are clear: "no clear difference" is left unsaid."""
    if c.verdict == NO_EFFECT or not c.has_error_bar:
        return f"{pp(c.diff)} ({c.verdict})"
    text = f"{pp(c.diff)}\\,$\\pm$\\,{100 * c.se:.1f}"
    return text if c.verdict == NO_CLEAR_DIFFERENCE else f"{text} ({c.verdict})"


QUIET_NOTE = "differences in points, mean\\,$\\pm$\\,SE over $n={n}$; only those marked better or worse are clear"


def short_change(row: Mapping, base: Mapping, metric: str = "val_acc") -> str:
    """`short_diff` of `metric`, row minus base, paired over their repeats."""
    return short_diff(compare_records(row, base, metric))


def change(row: Mapping, base: Mapping, metric: str = "val_acc") -> str:
    """`diff_text` of `metric`, row minus base, paired over their repeats."""
    return diff_text(compare_records(row, base, metric))


def delta_cell(row: Mapping, base: Mapping, metric: str = "val_acc") -> str:
    r"""A table cell: the paired difference '+3.2\,$\pm$\,1.1' in points, bold when the rule calls it better or
    worse, 'no effect' when every number equals the reference's, '' for the reference itself."""
    if row is base:
        return ""
    c = compare_records(row, base, metric)
    if c.verdict == NO_EFFECT:
        return "no effect"
    text = pp(c.diff) + (f"\\,$\\pm$\\,{100 * c.se:.1f}" if c.has_error_bar else "")
    return f"\\textbf{{{text}}}" if c.verdict in (BETTER, WORSE) else text


def gap_comparison(row: Mapping, base: Mapping) -> Comparison:
    """The train-validation gap of `row` minus that of `base`, paired per repeat."""

    def gaps(r: Mapping) -> dict[int, float]:
        tr, va = per_repeat(r, "train_acc"), per_repeat(r, "val_acc")
        return {k: tr[k] - va[k] for k in tr}

    a, b = gaps(row), gaps(base)
    order = sorted(a)
    return compare([a[k] for k in order], [b[k] for k in order])


def acc(row: Mapping, metric: str = "val_acc", unit: bool = True) -> str:
    """Mean +- std of an accuracy in percent (the std only when n > 1)."""
    return pm(row[f"{metric}_mean"], row.get(f"{metric}_std"), n=row["n"]) + (r"\,\%" if unit else "")


def gap(row: Mapping) -> float:
    return row["train_acc_mean"] - row["val_acc_mean"]


def id_comments(rows: list[dict]) -> list[str]:
    return [f"{r['variant']}: runs {' '.join(r['run_ids'])}" for r in rows]


def repeats_note(rows: list[dict]) -> str:
    """'mean\\,$\\pm$\\,std over $n=5$ repeats'."""
    ns = sorted({r["n"] for r in rows})
    n = "/".join(map(str, ns))
    return f"mean\\,$\\pm$\\,std over $n={n}$ repeat{'s' if ns != [1] else ''}"


def delta_note() -> str:
    r"""What a $\Delta$ column holds (for captions)."""
    return (
        "$\\Delta$: paired difference from the reference, mean\\,$\\pm$\\,SE over the repeats, in points; bold when the "
        "95\\,\\% paired $t$ interval excludes 0"
    )


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
