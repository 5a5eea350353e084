"""The report on the hyperparameter search (1.6): the Optuna study, its best configuration retrained on the
report's repeats, and the search's trials as a figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cnnlab.report.compare import acc, change
from cnnlab.report.figures.layout import PRINT
from cnnlab.report.latex import comment, esc, figure
from cnnlab.report.sections import diagnostics as sd
from cnnlab.report.supplement import place


# ----------------------------------------------------------------------------- 1.6 search
def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt_value(x) for x in v) + "]"
    return esc(v)


def storage_text(url: str) -> str:
    """An Optuna storage as the report names it: a file (an SQLite database, a journal) by its name alone,
    never by the machine's absolute path; a server URL as it is (its password already masked)."""
    from pathlib import PurePath

    if "://" not in url:
        return PurePath(url).name or url
    scheme, rest = url.split("://", 1)
    if scheme.split("+")[0] == "sqlite":
        return f"{scheme}:///{PurePath(rest.lstrip('/')).name}"
    return url


def search_origin(s: Mapping[str, Any]) -> str:
    """Which study the 1.6 search is, and where it is stored (the URL's password masked): LaTeX."""
    from cnnlab.art.sweep.storage import mask_url

    study = esc(s.get("study") or "search")
    if s.get("shared"):
        done = f", {s['n_finished']} of {s['target']} trials finished" if s.get("target") else ""
        return f"study \\texttt{{{study}}} read from \\texttt{{{esc(storage_text(mask_url(str(s.get('storage') or '?'))))}}}{done}"
    return f"study \\texttt{{{study}}} in the runs folder's \\texttt{{optuna.db}}"


PARAM_COLUMNS = 3  # (parameter, value) pairs side by side in the best configuration's table (full text width)


def best_table(ctx: dict) -> str:
    """The best configuration's sampled hyperparameters (label tab:best): a table of the full text width,
    PARAM_COLUMNS (parameter, value) pairs per row, so its height is a third of the parameters' number."""
    params = ctx["suites"]["search"].get("best_params") or {}
    prow = [[esc(k), _fmt_value(v)] for k, v in params.items()]
    rows = -(-len(prow) // PARAM_COLUMNS)  # ceil: the parameters fill the columns top to bottom
    cols = [prow[i * rows : (i + 1) * rows] for i in range(PARAM_COLUMNS)]
    body = [
        " & ".join(c for col in cols for c in (col[r] if r < len(col) else ["", ""])) + r" \\" for r in range(rows)
    ] or [rf"\multicolumn{{{2 * PARAM_COLUMNS}}}{{l}}{{(no parameters recorded)}} \\"]
    spec = "@{}" + "@{\\hspace{1.5em}}".join(["ll"] * PARAM_COLUMNS) + "@{}"
    return "\n".join(
        [
            "\\begin{table}[t]",
            "\\centering",
            "\\caption{Best configuration found by the search (its sampled hyperparameters).}\\label{tab:best}",
            "\\scriptsize",
            f"\\begin{{tabular}}{{{spec}}}",
            "\\toprule",
            " & ".join(["parameter & value"] * PARAM_COLUMNS) + r" \\",
            "\\midrule",
            *body,
            "\\bottomrule",
            "\\end{tabular}",
            "\\end{table}",
        ]
    )


def search_figure(figs: Mapping[str, str]) -> str:
    """The search's trials (label fig:search), drawn only when a trial completed; "" otherwise."""
    if "search" not in figs:
        return ""
    return figure(
        figs["search"],
        "Search: validation accuracy of each trial and the best so far.",
        "fig:search",
        width=PRINT["search"].tex,
    )


def section_search(ctx: dict, figs: Mapping[str, str]) -> str:
    s = ctx["suites"]["search"]
    r = s["rows"][0]
    starter = ctx["suites"]["baseline"]["rows"][0]
    trials = s.get("trials") or []
    status = {}
    for t in trials:
        status[t.get("status", "?")] = status.get(t.get("status", "?"), 0) + 1
    counts = ", ".join(f"{v} {esc(k)}" for k, v in sorted(status.items(), key=lambda kv: -kv[1])) or "no trial record"
    trials_ref = " (Figure~\\ref{fig:search})" if "search" in figs else ""
    return rf"""
\subsection{{The best configuration}}
An Optuna search ({search_origin(s)}; TPE sampler, median pruning on validation accuracy; {len(trials)} trials: {counts}{trials_ref}) explored the
architecture, optimizer, regularisation and augmentation together, each trial trained on the first repeat's split and scored by
\emph{{validation}} accuracy only. The best configuration (Table~\ref{{tab:best}}) was then retrained on the same {r["n"]}
repeat{"s" if r["n"] > 1 else ""} as the starter network: it reaches {acc(r)} validation and \textbf{{{acc(r, "test_acc")} test accuracy}},
against {acc(starter, "test_acc")} test accuracy for the starter network ({change(r, starter, "test_acc")}, paired). Its validation
accuracy is optimistic (the search chose it on the first repeat's validation split); the test split was used once, for these final numbers.

{comment("best configuration runs: " + " ".join(r["run_ids"]))}
{place(ctx, best_table(ctx))}
{place(ctx, search_figure(figs))}

{place(ctx, sd.confusion_block(ctx))}
"""
