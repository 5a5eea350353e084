"""Part 1 of the report, questions 1.5-1.7 (sections1.py: 1.1-1.4): LaTeX text and tables from the context.

As in sections1.py: verdicts are the paired rule of `cnnlab.core.stats`, suite rows are found by
the suites' labels, and figures are drawn beforehand (the sections receive their file names). The
robustness text words the facts of `cnnlab.art.robustness.robustness_facts` about the course's
transformations, the same facts the suite's findings state.
"""

from __future__ import annotations

from typing import Any, Mapping

from cnnlab.art.course_transforms import COURSE_LABELS, GEOMETRIC, PHOTOMETRIC
from cnnlab.art.robustness import ORIGINAL, robustness_facts
from cnnlab.art.suites import labels
from cnnlab.art.suites.labels import find_variant
from cnnlab.core.stats import BETTER, NO_CLEAR_DIFFERENCE, WORSE, compare_records
from cnnlab.report.compare import (QUIET_NOTE, acc, change, delta_cell, delta_note, diff_text, grouped, id_comments, repeats_note,
                                   short_change, short_diff)
from cnnlab.report import sections_diag as sd
from cnnlab.report.latex import comment, esc, num, pct, pm, pp, split_table
from cnnlab.report.sections1 import regime_text, verdict_counts


# ----------------------------------------------------------------------------- 1.5 architecture
def section_architecture(ctx: dict) -> str:
    suite = ctx["suites"]["architecture"]
    rows = suite["rows"]
    base = find_variant(rows, labels.ARCH_STARTER, "architecture")

    def said(*names: str) -> str:
        """'kernel 3 +2.5 ± 1.0 (better)' for each named variant, joined by '; '."""
        found = [find_variant(rows, n, "architecture") for n in names]
        return "; ".join(f"{esc(r['variant'])} {short_change(r, base)}" for r in found)

    by = verdict_counts(rows, base)
    clear = by.get(BETTER, []) + by.get(WORSE, [])
    others = sorted((r for r in rows if r is not base), key=lambda r: compare_records(r, base).diff)
    up, down = others[-1], others[0]
    if clear:
        extremes = (f"{len(clear)} of {len(others)} changes move{'s' if len(clear) == 1 else ''} validation accuracy beyond the repeat "
                    f"noise (bold in the table); the biggest increase is {esc(up['variant'])}, {short_change(up, base)}, and the biggest "
                    f"decrease {esc(down['variant'])}, {short_change(down, base)}.")
    else:
        extremes = (f"No single change moves validation accuracy beyond the repeat noise: the largest increase, {esc(up['variant'])}, "
                    f"is {change(up, base)}, and the largest decrease, {esc(down['variant'])}, {change(down, base)}.")
    shapes = [r for r in rows if r["group"] == labels.SHAPE]
    shape_text = ""
    if shapes:
        best_shape = max(shapes, key=lambda r: r["val_acc_mean"])
        worst_shape = min(shapes, key=lambda r: r["val_acc_mean"])
        c = compare_records(best_shape, worst_shape)
        ds = ", ".join(f"{esc(r['variant'])} {acc(r)} ({num(r['params'])} parameters)" for r in shapes)
        kind = best_shape["variant"].split()[0]
        if c.verdict == BETTER:
            why = {"pyramidal": " A pyramid spends few filters on the large early maps (generic edges and colours, cheap there) and many on "
                                "the small late maps, where the combinations that identify a style are formed.",
                   "inverted": " The usual argument for pyramids (few filters on the large early maps, many on the small late ones) did not "
                               "pay off on this data: many early filters helped more."}.get(kind, "")
            shape_text = (f"With the same spatial schedule (three $3\\times3$ convolutions, each followed by $2\\times2$ pooling), the shapes "
                          f"compare as {ds}. The {esc(kind)} network beats the {esc(worst_shape['variant'].split()[0])} one by "
                          f"{diff_text(c)}.{why}")
        else:
            shape_text = (f"With the same spatial schedule (three $3\\times3$ convolutions, each followed by $2\\times2$ pooling), the shapes "
                          f"compare as {ds}: the best ({esc(best_shape['variant'])}) and the worst ({esc(worst_shape['variant'])}) differ by "
                          f"{diff_text(c)}, so this data does not separate pyramidal, flat and inverted networks.")
    cells = lambda r: [esc(r["variant"]), num(r["params"]), f"{r['epochs_run_mean']:.0f}", acc(r, unit=False), delta_cell(r, base)]  # noqa: E731
    tab = split_table(f"Architecture changes, one at a time from the starter network, each trained to its validation plateau: validation "
                      f"accuracy in \\%, {repeats_note(rows)}; ep.: epochs run (mean). {delta_note()}.", "tab:arch",
                      ["variant", "params", "ep.", "val.", r"$\Delta$ val."], grouped(rows, cells, 5, base["variant"]),
                      "@{}lrrrr@{}", comments=id_comments(rows), size=r"\scriptsize")
    return rf"""
\subsection{{Architecture}}
Table~\ref{{tab:arch}} and Figure~\ref{{fig:deltas}} (right) change one property of the starter network at a time. So that a
deeper or larger network does not lose merely for being undertrained, every variant trains with {regime_text(suite)}; the
epochs each used are in the table (starter: {acc(base)} validation accuracy after {base['epochs_run_mean']:.0f} epochs;
{QUIET_NOTE.format(n=base['n'])}).
(a)~\textbf{{Filter size}}: {said(*map(labels.kernel_label, labels.KERNEL_SIZES))}.
(b)~\textbf{{Stride}}: {said(*map(labels.stride_label, labels.STRIDES))}; a larger stride skips positions and shrinks the maps and the
fully connected layer.
(c)~\textbf{{Depth}}: {said(*labels.DEPTHS)}.
{extremes} {shape_text}

{tab}
"""


# ----------------------------------------------------------------------------- 1.6 search
def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt_value(x) for x in v) + "]"
    return esc(v)


def search_origin(s: Mapping[str, Any]) -> str:
    """Which study the 1.6 search is, and where it is stored (the URL's password masked): LaTeX."""
    from cnnlab.art.sweep.storage import mask_url

    study = esc(s.get("study") or "search")
    if s.get("shared"):
        done = f", {s['n_finished']} of {s['target']} trials finished" if s.get("target") else ""
        return f"study \\texttt{{{study}}} read from \\texttt{{{esc(mask_url(str(s.get('storage') or '?')))}}}{done}"
    return f"study \\texttt{{{study}}} in the runs folder's \\texttt{{optuna.db}}"


def section_search(ctx: dict, figs: Mapping[str, str]) -> str:
    s = ctx["suites"]["search"]
    r = s["rows"][0]
    starter = ctx["suites"]["baseline"]["rows"][0]
    trials = s.get("trials") or []
    status = {}
    for t in trials:
        status[t.get("status", "?")] = status.get(t.get("status", "?"), 0) + 1
    counts = ", ".join(f"{v} {esc(k)}" for k, v in sorted(status.items(), key=lambda kv: -kv[1])) or "no trial record"
    params = s.get("best_params") or {}
    prow = [[esc(k), _fmt_value(v)] for k, v in params.items()]
    half = (len(prow) + 1) // 2
    pairs = [prow[i] + (prow[i + half] if i + half < len(prow) else ["", ""]) for i in range(half)]
    body = [" & ".join(c) + r" \\" for c in pairs] or [r"\multicolumn{4}{l}{(no parameters recorded)} \\"]
    ptable = "\n".join(["\\begin{tabular}{@{}ll@{\\hspace{1.2em}}ll@{}}", "\\toprule", r"parameter & value & parameter & value \\",
                        "\\midrule", *body, "\\bottomrule", "\\end{tabular}"])
    right = ""
    if "search" in figs:  # drawn only when a trial completed
        right = (f"\\includegraphics[width=\\linewidth]{{figures/{figs['search']}}}\n\\captionof{{figure}}{{Search: validation accuracy of each "
                 "trial and the best so far.}\\label{fig:search}")
    return rf"""
\subsection{{The best configuration}}
An Optuna search ({search_origin(s)}; TPE sampler, median pruning on validation accuracy; {len(trials)} trials: {counts}) explored the
architecture, optimizer, regularisation and augmentation together, each trial trained on the first repeat's split and scored by
\emph{{validation}} accuracy only. The best configuration (Table~\ref{{tab:best}}) was then retrained on the same {r['n']}
repeat{'s' if r['n'] > 1 else ''} as the starter network: it reaches {acc(r)} validation and \textbf{{{acc(r, 'test_acc')} test accuracy}},
against {acc(starter, 'test_acc')} test accuracy for the starter network ({change(r, starter, 'test_acc')}, paired). Its validation
accuracy is optimistic (the search chose it on the first repeat's validation split); the test split was used once, for these final numbers.

{comment('best configuration runs: ' + ' '.join(r['run_ids']))}
\begin{{figure}}[t]
\begin{{minipage}}[b]{{0.50\linewidth}}
\centering\scriptsize
\captionof{{table}}{{Best configuration found by the search (its sampled hyperparameters).}}\label{{tab:best}}
{ptable}
{sd.toplosses_block(ctx)}
\end{{minipage}}\hfill
\begin{{minipage}}[b]{{0.47\linewidth}}
\centering
{right}
{sd.confusion_block(ctx)}
\end{{minipage}}
\end{{figure}}
"""


# ----------------------------------------------------------------------------- 1.7 robustness
def _course_name(t: str) -> str:
    return esc(COURSE_LABELS.get(t, t.replace("_", " ")))


def _change_from_clean(drop) -> str:
    """The accuracy change a transformation causes, transformed minus clean: '$-$12.3\\,$\\pm$\\,2.1 points'."""
    return pp(-drop.diff) + (f"\\,$\\pm$\\,{100 * drop.se:.1f}" if drop.has_error_bar else "") + " points"


def section_robustness(ctx: dict, figs: Mapping[str, str]) -> str:
    s = ctx["suites"]["robustness"]
    facts = robustness_facts(s["robustness"], labels.AS_TRAINED, labels.AUGMENTED)
    models, plain, get = facts.models, facts.reference, facts.row
    clean, drops = facts.clean, facts.drops
    chance = 1 / max(1, len(ctx["art"]["counts"]))
    drop_text = lambda t: f"{_course_name(t)} ({pct(get(plain, t)['acc_mean'])}\\,\\%, {_change_from_clean(drops[t])})"  # noqa: E731
    invariant = "; ".join(drop_text(t) for t in facts.most_invariant())
    damaging = "; ".join(drop_text(t) for t in facts.most_damaging())
    unharmed = [t for t in facts.ranked if drops[t].verdict in (NO_CLEAR_DIFFERENCE,) or drops[t].no_effect]
    unharmed_text = ("Within the repeat noise it is invariant to " + ", ".join(_course_name(t) for t in unharmed) + "."
                     if unharmed else "Every one of these transformations lowers its accuracy beyond the repeat noise.")
    geo, pho = facts.mean_drop(GEOMETRIC), facts.mean_drop(PHOTOMETRIC)
    c = facts.compare_drops(PHOTOMETRIC, GEOMETRIC)
    features = ""
    if c is not None:
        means = f"mean drop {pct(pho)} against {pct(geo)} points, paired difference {short_diff(c)}"
        features = {BETTER: f"Photometric changes cost clearly more than geometric ones ({means}): the network relies more on colour and "
                            "intensity statistics than on where things are in the picture.",
                    WORSE: f"Geometric changes cost clearly more than photometric ones ({means}): the network relies more on the "
                           "layout of the picture than on its palette."}.get(
            c.verdict, f"Photometric and geometric changes cost about the same ({means}).")
    surprising = []
    if "course_invert" in drops and get(plain, "course_invert")["acc_mean"] < chance + 0.1:
        surprising.append(f"the negative image falls to {pct(get(plain, 'course_invert')['acc_mean'])}\\,\\%, near chance "
                          f"({pct(chance)}\\,\\%), although it keeps every edge and shape")
    if "course_translate" in drops and drops["course_translate"].verdict == BETTER:  # clean minus translated > 0: a clear loss
        surprising.append("a 10-pixel shift costs accuracy although convolutions are translation-equivariant (the fully connected "
                          "layer is not)")
    surprise = ("Notable: " + "; ".join(surprising) + ".") if surprising else ""
    aug_text = ""
    if facts.augmented:
        aug, gains = facts.augmented, facts.gains
        helped = sorted((t for t in facts.transforms if gains[t].verdict == BETTER), key=lambda t: -gains[t].diff)
        hurt = [t for t in facts.transforms if gains[t].verdict == WORSE]
        aug_text = (f"Retraining with random graded transforms ({esc(aug)}) changes the clean test accuracy by {diff_text(facts.clean_change)}"
                    + ("; it clearly helps on " + ", ".join(f"{_course_name(t)}, {short_diff(gains[t])}" for t in helped) if helped else
                       "; it helps on none of the course's transformations beyond the repeat noise")
                    + ("; it clearly hurts on " + ", ".join(_course_name(t) for t in hurt) if hurt else "") + ".")
    header = ["transformation"] + [esc(m) for m in models] + (["$\\Delta$ aug."] if facts.augmented else []) + ["change"]
    rows = []
    for t in (ORIGINAL,) + facts.transforms:
        cells = [_course_name(t) if t != ORIGINAL else "original (clean)"]
        cells += [pm(get(m, t)["acc_mean"], get(m, t)["acc_std"], n=get(m, t)["n"]) for m in models]
        if facts.augmented:
            g = facts.gains[t]
            cells.append(pp(g.diff) + (f"\\,$\\pm$\\,{100 * g.se:.1f}" if g.has_error_bar else ""))
        cells.append("" if t == ORIGINAL else _change_from_clean(drops[t]).replace(" points", ""))
        rows.append(cells)
    body = "\n".join([f"\\begin{{tabular}}{{@{{}}l{'r' * (len(header) - 1)}@{{}}}}", "\\toprule", " & ".join(header) + r" \\", "\\midrule",
                      *[" & ".join(c) + r" \\" for c in rows], "\\bottomrule", "\\end{tabular}"])
    ids = "\n".join(comment(c) for c in id_comments(s["rows"]))
    return rf"""
\subsection{{Robustness to transformed images}}
The best model of 1.6 was evaluated on the test split transformed with the course's own definitions, on the 8-bit images
(Table~\ref{{tab:robust}}, Figure~\ref{{fig:data}}; PIL's brightness and contrast enhancers, a wrap-around shift of 10 pixels, and
for ``flipped'' both a left--right mirror and the course code's 180\textdegree{{}} rotation, as the handout's figure does not say
which). On clean test images it scores {acc(clean, 'acc')}. It is most invariant to {invariant}, and least to {damaging}. {unharmed_text} {features} {surprise}
Figure~\ref{{fig:robust}} adds graded versions at increasing severity. {aug_text}

{ids}
\begin{{figure}}[t]
\begin{{minipage}}[b]{{0.56\linewidth}}
\centering\scriptsize\setlength{{\tabcolsep}}{{3pt}}
\captionof{{table}}{{Test accuracy (\%) under the course's transformations (8-bit, as in the course code), {repeats_note(s['rows'])}.
$\Delta$ aug.: augmented minus as trained; change: transformed minus clean, as trained; both paired per repeat, mean\,$\pm$\,SE in points.}}\label{{tab:robust}}
{body}
\end{{minipage}}\hfill
\begin{{minipage}}[b]{{0.42\linewidth}}
\centering
\includegraphics[width=\linewidth]{{figures/{figs['robust_curves']}}}
\captionof{{figure}}{{Test accuracy against the severity of the graded transformations (mean\,$\pm$\,std over repeats); a star marks the
course's transformation on its curve.}}\label{{fig:robust}}
\end{{minipage}}
\end{{figure}}
"""
