"""Part 1 of the report, questions 1.5-1.7 (sections1.py: 1.1-1.4): LaTeX text and tables from the context.

As in sections1.py: verdicts are `cnnlab.core.stats.compare`, suite rows are found by the suites'
labels, and figures are drawn beforehand (the sections receive their file names). The robustness
text words the facts of `cnnlab.art.robustness.robustness_facts`, the same facts the suite's
findings state.
"""

from __future__ import annotations

from typing import Any, Mapping

from cnnlab.art.robustness import GEOMETRIC, ORIGINAL, PHOTOMETRIC, robustness_facts
from cnnlab.art.suites import labels
from cnnlab.art.suites.labels import find_variant
from cnnlab.core.stats import BETTER, WITHIN_NOISE, compare_records
from cnnlab.report.compare import acc, change, grouped, id_comments, seeds_note
from cnnlab.report.latex import comment, esc, figure_pair, num, pct, pm, pp, split_table, table


# ----------------------------------------------------------------------------- 1.5 architecture
def section_architecture(ctx: dict) -> str:
    rows = ctx["suites"]["architecture"]["rows"]
    base = find_variant(rows, labels.ARCH_STARTER, "architecture")

    def said(*names: str) -> str:
        """'kernel 3 51.7 % (+20.5 points (better, ...))' for each named variant, joined by '; '."""
        found = [find_variant(rows, n, "architecture") for n in names]
        return "; ".join(f"{esc(r['variant'])} {acc(r)} ({change(r, base)})" for r in found)

    shapes = [r for r in rows if r["group"] == labels.SHAPE]
    best_shape = max(shapes, key=lambda r: r["val_acc_mean"]) if shapes else None
    others = sorted((r for r in rows if r is not base), key=lambda r: r["val_acc_mean"])
    up, down = others[-1], others[0]
    shape_text = ""
    if shapes:
        ds = ", ".join(f"{esc(r['variant'])} {acc(r)} with {num(r['params'])} parameters" for r in shapes)
        verdict = compare_records(best_shape, min(shapes, key=lambda r: r["val_acc_mean"])).verdict
        margin = {BETTER: "by more than the seed noise over the worst shape", WITHIN_NOISE:
                  "but within seed noise of the worst shape"}.get(verdict, "from a single seed")
        kind = best_shape["variant"].split()[0]
        theory = ("A pyramid spends few filters on the large early maps (generic edges and colours, cheap there) and many on the "
                  "small late maps, where the combinations that identify a style are formed")
        if kind == "pyramidal":
            why = theory + "; the inverted shape does the opposite and leaves the final representation thin."
        else:
            why = ("The usual argument for pyramids (few filters on the large early maps, many on the small late ones, where "
                   f"style-specific combinations form) did not pay off here: the {esc(kind)} shape did better on this data.")
        shape_text = (f"With the same spatial schedule (three $3\\times3$ convolutions, each followed by $2\\times2$ pooling), the shapes "
                      f"compare as {ds}. The {esc(kind)} network is best, {margin}. {why}")
    cells = lambda r: [esc(r["variant"]), num(r["params"]), acc(r, unit=False),  # noqa: E731
                       "" if r is base else pp(r["val_acc_mean"] - base["val_acc_mean"])]
    tab = split_table(f"Architecture changes, one at a time from the starter network: validation accuracy in \\%, {seeds_note(rows)}. "
                      "$\\Delta$: validation change against the starter.", "tab:arch",
                      ["variant", "params", "validation", r"$\Delta$"], grouped(rows, cells, 4, base["variant"]),
                      "@{}lrrr@{}", comments=id_comments(rows))
    return rf"""
\subsection{{Architecture}}
Table~\ref{{tab:arch}} and Figure~\ref{{fig:deltas}} (right) change one property of the starter network at a time (starter: {acc(base)} validation accuracy).
(a)~\textbf{{Filter size}}: {said(*map(labels.kernel_label, labels.KERNEL_SIZES))}.
(b)~\textbf{{Stride}}: {said(*map(labels.stride_label, labels.STRIDES))}. A larger stride skips positions and shrinks the maps (and the
fully connected layer) quickly, a smaller one keeps detail but multiplies the parameters of the first fully connected layer.
(c)~\textbf{{Depth}}: {said(*labels.DEPTHS)}.
The biggest increase came from {esc(up['variant'])} ({change(up, base)}) and the biggest decrease from
{esc(down['variant'])} ({change(down, base)}). {shape_text}

{tab}
"""


# ----------------------------------------------------------------------------- 1.6 search
def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt_value(x) for x in v) + "]"
    return esc(v)


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
    d_test = r["test_acc_mean"] - starter["test_acc_mean"]
    return rf"""
\subsection{{The best configuration}}
An Optuna search (TPE sampler, median pruning on validation accuracy; {len(trials)} trials: {counts}) explored the
architecture, optimizer, regularisation and augmentation together, scoring each trial by \emph{{validation}} accuracy only.
The best configuration (Table~\ref{{tab:best}}) was then retrained with {r['n']} seed{'s' if r['n'] > 1 else ''}: it reaches
{acc(r)} validation and \textbf{{{acc(r, 'test_acc')} test accuracy}}, against {acc(starter, 'test_acc')} test accuracy for
the starter network ({pp(d_test)} points). The test split was used once, for these final numbers.

{comment('best configuration runs: ' + ' '.join(r['run_ids']))}
\begin{{figure}}[t]
\begin{{minipage}}[b]{{0.50\linewidth}}
\centering\footnotesize
\captionof{{table}}{{Best configuration found by the search (its sampled hyperparameters).}}\label{{tab:best}}
{ptable}
\end{{minipage}}\hfill
\begin{{minipage}}[b]{{0.47\linewidth}}
\centering
{right}
\end{{minipage}}
\end{{figure}}
"""


# ----------------------------------------------------------------------------- 1.7 robustness
def section_robustness(ctx: dict, figs: Mapping[str, str]) -> str:
    s = ctx["suites"]["robustness"]
    facts = robustness_facts(s["robustness"], labels.AS_TRAINED, labels.AUGMENTED)
    models, plain, get = facts.models, facts.reference, facts.row
    clean, drops, transforms = facts.clean, facts.drops, facts.transforms
    chance = 1 / max(1, len(ctx["art"]["counts"]))
    name = lambda t: t.replace("_", " ")  # noqa: E731
    invariant = ", ".join(f"{name(t)} ({pct(get(plain, t)['acc_mean'])}\\,\\%)" for t in facts.most_invariant())
    damaging = ", ".join(f"{name(t)} ({pct(get(plain, t)['acc_mean'])}\\,\\%)" for t in facts.most_damaging())
    geo, pho = facts.mean_drop(GEOMETRIC), facts.mean_drop(PHOTOMETRIC)
    if pho is not None and geo is not None and pho > geo + 0.02:
        features = ("Photometric changes hurt far more than geometric ones (mean drop {0} against {1} points): the network "
                    "identifies an artist mostly by colour and intensity statistics (palette, brightness, contrast of the "
                    "strokes) and much less by where things are in the picture.").format(pct(pho), pct(geo))
    elif pho is not None and geo is not None and geo > pho + 0.02:
        features = ("Geometric changes hurt more than photometric ones (mean drop {0} against {1} points): the network relies "
                    "on the spatial layout of the picture (composition, position of the subject) more than on its "
                    "palette.").format(pct(geo), pct(pho))
    else:
        features = ("Geometric and photometric changes hurt about equally (mean drops {0} and {1} points): the network uses "
                    "both the layout and the colour statistics of the images.").format(pct(geo or 0.0), pct(pho or 0.0))
    surprising = []
    if "hflip" in drops and abs(drops["hflip"]) < 0.03:
        surprising.append("mirroring costs almost nothing, as a style should not depend on left and right")
    if "invert" in drops and get(plain, "invert")["acc_mean"] < chance + 0.1:
        surprising.append(f"the negative image falls to near chance ({pct(chance)}\\,\\%), although it keeps every edge and shape")
    if "translate" in drops and drops["translate"] > 0.1:
        surprising.append("a shift of a few pixels already costs much, although convolutions are translation-equivariant (the fully connected layer is not)")
    surprise = ("Notable: " + "; ".join(surprising) + ".") if surprising else ""
    aug_text = ""
    if facts.augmented:
        aug, gains = facts.augmented, facts.gains
        top = sorted(gains, key=lambda t: -gains[t])[:2]
        clean_change = pp(facts.clean_change)
        if gains[top[0]] > 0.02:
            aug_text = (f"Retraining with random transforms ({esc(aug)}) changes the clean test accuracy by {clean_change} points "
                        "and helps most on " + ", ".join(f"{name(t)} ({pp(gains[t])})" for t in top)
                        + ": an invariance that the training images do not show has to be taught.")
        else:
            aug_text = (f"Retraining with random transforms ({esc(aug)}) changes the clean test accuracy by {clean_change} points "
                        f"and does not make the network measurably more robust (largest gain {pp(gains[top[0]])} points, on {name(top[0])}).")
    header = ["transform", "severity"] + [esc(m) for m in models] + ([r"$\Delta$"] if facts.augmented else [])
    rows = []
    for t in (ORIGINAL,) + transforms:
        cells = [name(t), f"{facts.strongest[t]:g}"] + [pm(get(m, t)["acc_mean"], get(m, t)["acc_std"], n=get(m, t)["n"]) for m in models]
        if facts.augmented:
            cells.append(pp(get(facts.augmented, t)["acc_mean"] - get(plain, t)["acc_mean"]))
        rows.append(cells)
    tab = table(f"Test accuracy (\\%) on transformed test images at the strongest severity, {seeds_note(s['rows'])}; "
                "$\\Delta$: augmented minus as trained.", "tab:robust", header, rows, "@{}lr" + "r" * (len(models) + (len(models) > 1)) + "@{}",
                comments=id_comments(s["rows"]))
    fig = figure_pair((figs["robust_bars"], "strongest severity"), (figs["robust_curves"], "accuracy against severity"),
                      "Test accuracy under the 1.7 transformations (mean $\\pm$ std over seeds).", "fig:robust")
    return rf"""
\subsection{{Robustness to transformed images}}
The best model of 1.6 was evaluated on the test split transformed as in the handout's Figure~3 (examples in
Figure~\ref{{fig:data}}): translated, brightened, darkened, with higher and lower contrast, mirrored and inverted, each
at increasing severity (Table~\ref{{tab:robust}}, Figure~\ref{{fig:robust}}). On clean test images it scores {acc(clean, 'acc')}.
It is most invariant to {invariant} and least to {damaging}. {surprise} {features} {aug_text}

{tab}

{fig}
"""
