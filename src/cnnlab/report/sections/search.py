"""The report on the hyperparameter search (1.6): the Optuna study, its best configuration retrained on the
report's repeats, and the search's trials as a figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cnnlab.report.compare import acc, change, id_comments, short_change
from cnnlab.report.context import ReportContext
from cnnlab.report.figures.layout import PRINT
from cnnlab.report.latex import comment, esc, figure, pct
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


def search_method(s: Mapping[str, Any]) -> str:
    """How the search sampled and pruned (batches and the pruning rule, when the suite recorded them): LaTeX."""
    batch, rule = s.get("batch"), s.get("prune") or {}
    sampled = (
        f"TPE sampler in synchronous batches of {batch} trials, so any number of workers gives the same study"
        if batch
        else "TPE sampler"
    )
    if not rule:
        return f"{sampled}; median pruning on validation accuracy"
    return (
        f"{sampled}; a trial stops at epoch $e \\geq {rule['warmup']}$ when its best validation accuracy is below the median "
        f"at epoch $e$ of the complete trials of earlier batches (once there are {rule['startup']})"
    )


def seeded_text(trials: list[dict]) -> str:
    """'Trials 0--4 started from what 1.3--1.5 found: trial 0 the starter network, ...' (LaTeX), or ''."""
    seeded = [t for t in trials if t.get("seeded")]
    if not seeded:
        return ""
    items = ", ".join(f"{t['number']} {esc(t['seeded'])}" for t in seeded)
    first = "The first trial was" if len(seeded) == 1 else f"The first {len(seeded)} trials were"
    return f"{first} seeded with what is already known (trial {items}); the rest were drawn by the sampler."


def candidates_text(s: Mapping[str, Any], starter: Mapping[str, Any]) -> tuple[str, str]:
    """The choice on every fold (a sentence) and its table (LaTeX), or ('', '') for a suite without candidates."""
    rows = s["rows"]
    cands = [r for r in rows if "trial" in r]
    ref = next((r for r in rows if r.get("group") == "reference"), None)
    if not cands or ref is None:
        return "", ""
    n = rows[0]["n"]
    win = next((c for c in cands if c["variant"] == s.get("winner")), max(cands, key=lambda c: c["val_acc_mean"]))
    origin = f"seeded: {esc(win['seeded'])}" if win.get("seeded") else "drawn by the sampler"
    verdict = change(win, ref, "val_acc")
    if s.get("answer") == "starter":
        outcome = (
            f"The best of them by mean validation accuracy, {esc(win['variant'])} ({origin}), does not beat the starter network "
            f"at the same budget on paired validation accuracy ({verdict}), so \\textbf{{the 1.6 answer is the starter network}}"
        )
    else:
        outcome = (
            f"The winner by mean validation accuracy is {esc(win['variant'])} ({origin}), {verdict} against the starter network "
            "at the same budget (paired): it is the 1.6 answer"
        )
    sentence = (
        f"The {len(cands)} best trials by that one-split score were retrained on all {n} repeat{'s' if n > 1 else ''} (Table~\\ref{{tab:candidates}}). "
        f"{outcome}."
    )
    body = [
        f"{esc(c['variant'])}{' (' + esc(c['seeded']) + ')' if c.get('seeded') else ''} & {pct(c['one_fold_val_acc'])} & {acc(c, unit=False)} & {short_change(c, ref)} \\\\"
        for c in cands
    ]
    body.append(f"{esc(ref['variant'])} & -- & {acc(ref, unit=False)} & \\\\")
    table = "\n".join(
        [
            "\\begin{table}[t]\\centering\\scriptsize",
            *(comment(c) for c in id_comments([*cands, ref])),  # the runs behind every row, wherever the table goes
            f"\\caption{{The search's top {len(cands)} retrained on every repeat: validation accuracy in \\% (one split, then mean\\,$\\pm$\\,std over {n} repeats) and the paired difference from the starter network in points.}}\\label{{tab:candidates}}",
            "\\begin{tabular}{@{}lrrr@{}}",
            "\\toprule",
            "trial & one split & all repeats & vs starter \\\\",
            "\\midrule",
            *body,
            "\\bottomrule",
            "\\end{tabular}",
            "\\end{table}",
        ]
    )
    return sentence, table


PARAM_COLUMNS = 3  # (parameter, value) pairs side by side in the best configuration's table (full text width)


def best_table(ctx: ReportContext) -> str:
    """The best configuration's sampled hyperparameters (label tab:best): a table of the full text width,
    PARAM_COLUMNS (parameter, value) pairs per row, so its height is a third of the parameters' number."""
    params = ctx.part1.suites["search"].get("best_params") or {}
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


def section_search(ctx: ReportContext, figs: Mapping[str, str]) -> str:
    s = ctx.part1.suites["search"]
    r = s["rows"][0]
    starter = ctx.part1.suites["baseline"]["rows"][0]
    trials = s.get("trials") or []
    status = {}
    for t in trials:
        status[t.get("status", "?")] = status.get(t.get("status", "?"), 0) + 1
    counts = ", ".join(f"{v} {esc(k)}" for k, v in sorted(status.items(), key=lambda kv: -kv[1])) or "no trial record"
    trials_ref = " (Figure~\\ref{fig:search})" if "search" in figs else ""
    chosen, ctable = candidates_text(s, starter)
    kept = s.get("answer") == "starter"
    what = "The starter network" if kept else "The chosen configuration"
    return rf"""
\subsection{{The best configuration}}
An Optuna search ({search_origin(s)}; {search_method(s)}; {len(trials)} trials: {counts}{trials_ref}) explored the
architecture, optimizer, regularisation and augmentation together, each trial trained on the first repeat's split and scored by
\emph{{validation}} accuracy only. {seeded_text(trials)} {chosen}
{what} (Table~\ref{{tab:best}} lists the winning trial's hyperparameters{", which did not beat it" if kept else ""}) reaches on
the report's {r["n"]} repeat{"s" if r["n"] > 1 else ""} {acc(r)} validation and \textbf{{{acc(r, "test_acc")} test accuracy}},
against {acc(starter, "test_acc")} test accuracy for the starter network of 1.2 ({change(r, starter, "test_acc")}, paired). Its validation
accuracy is optimistic (it was chosen on validation); the test split was used once, for these final numbers.
{place(ctx, ctable) if ctable else ""}
{comment("best configuration runs: " + " ".join(r["run_ids"]))}
{place(ctx, best_table(ctx))}
{place(ctx, search_figure(figs))}

{place(ctx, sd.confusion_block(ctx))}
"""
