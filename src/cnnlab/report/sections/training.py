"""The report on training: pooling (1.3) and regularisation (1.4), with the regime the suites train in.

Every sentence that states a result is computed from the suite rows, and every verdict (better, worse,
no clear difference, single repeat, no effect at this setting) is the paired rule of `cnnlab.core.stats`
(through report.compare). A conclusion is drawn only where that rule supports it, and each names its
effect size.
"""

from __future__ import annotations

from collections.abc import Mapping

from cnnlab.art.suites import labels
from cnnlab.art.suites.labels import find_variant
from cnnlab.core.stats import BETTER, NO_EFFECT, WORSE, compare_records
from cnnlab.core.train.config import MONITOR_NAMES, OPTIMIZER_NAMES
from cnnlab.report.compare import (
    QUIET_NOTE,
    acc,
    change,
    delta_cell,
    delta_note,
    diff_text,
    gap,
    gap_comparison,
    grouped,
    id_comments,
    repeats_note,
    short_change,
)
from cnnlab.report.context import ReportContext
from cnnlab.report.figures.layout import PRINT
from cnnlab.report.latex import esc, figure, num, pct, split_table, table
from cnnlab.report.supplement import place


# ----------------------------------------------------------------------------- 1.3 pooling
def regime_text(suite: Mapping) -> str:
    """The training regime a suite recorded (suite.json "regime"), in words."""
    t = suite.get("regime", {}).get("train", {})
    if not t:
        return "the starter's training settings"
    opt, es = t["optimizer"], t["early_stopping"]
    name = OPTIMIZER_NAMES.get(opt["name"], opt["name"])
    text = f"{name} at learning rate {opt['lr']:g}"
    if es.get("patience"):
        what = MONITOR_NAMES["val_acc" if es["monitor"] == "val_acc" else "val_loss"]
        return (
            text + f", until {es['patience']} epochs pass without a new best {what} (at most {t['epochs']}; "
            "the best epoch's weights are kept)"
        )
    return text + f" for {t['epochs']} epochs"


def verdict_counts(rows: list[dict], base: Mapping, metric: str = "val_acc") -> dict[str, list[dict]]:
    """The rows other than `base` by verdict of their paired difference from it."""
    out: dict[str, list[dict]] = {}
    for r in rows:
        if r is not base:
            out.setdefault(compare_records(r, base, metric).verdict, []).append(r)
    return out


def section_pooling(ctx: ReportContext) -> str:
    suite = ctx.part1.suites["pooling"]
    rows = suite["rows"]
    base = find_variant(rows, labels.NO_POOLING, "pooling")
    pooled = [r for r in rows if r is not base]
    best = max(pooled, key=lambda r: r["val_acc_mean"])
    by = verdict_counts(rows, base)
    gaps = {r["variant"]: gap_comparison(r, base) for r in pooled}
    narrower = [
        r for r in pooled if gaps[r["variant"]].verdict == WORSE
    ]  # gap minus the reference's gap: clearly below 0
    cells = lambda r: [
        esc(r["variant"]),
        num(r["params"]),
        f"{r['epochs_run_mean']:.0f}",
        acc(r, "train_acc", False),
        acc(r, unit=False),  # noqa: E731
        pct(gap(r)),
        delta_cell(r, base),
        delta_cell(r, base, "test_acc"),
    ]
    tab = table(
        f"Max-pooling after each convolution (size/stride), accuracy in \\%, {repeats_note(rows)}; every network trained to its "
        "validation plateau (epochs: mean epochs run; accuracies of the kept epoch). Gap: train minus validation. "
        f"{delta_note()} (validation and test).",
        "tab:pooling",
        ["variant", "params", "epochs", "train", "validation", "gap", r"$\Delta$ val.", r"$\Delta$ test"],
        [cells(r) for r in rows],
        "@{}lrrrrrrr@{}",
        comments=id_comments(rows),
        size=r"\footnotesize",
    )
    if by.get(BETTER):
        verdict = (
            f"Pooling improves validation accuracy clearly in {len(by[BETTER])} of {len(pooled)} settings; the best, "
            f"{esc(best['variant'])}, by {change(best, base)}."
        )
    elif by.get(WORSE) and len(by[WORSE]) == len(pooled):
        verdict = "Every pooling setting lowers validation accuracy beyond the repeat noise."
    else:
        verdict = (
            f"No pooling setting changes validation accuracy beyond the repeat noise: the best, {esc(best['variant'])}, differs from no "
            f"pooling by {change(best, base)}"
            + (f", and {len(by[WORSE])} setting(s) are clearly worse" if by.get(WORSE) else "")
            + "."
        )
    smaller = min(pooled, key=lambda r: r["params"])
    gaps_text = (
        f"The train--validation gap at the kept epoch is {pct(gap(base))} points without pooling and "
        + ", ".join(f"{pct(gap(r))} ({esc(r['variant'])})" for r in pooled)
        + f" with it; it narrows clearly (paired, by the rule) in {len(narrower)} of {len(pooled)} settings."
    )
    if len(narrower) >= max(1, len(pooled) / 2):
        effect = (
            " Max-pooling acts as a regulariser here: it discards the exact position of each response and shrinks the maps, "
            f"so the fully connected layer has far fewer weights to overfit with ({num(smaller['params'])} parameters instead of "
            f"{num(base['params'])} for {esc(smaller['variant'])})."
        )
    elif narrower:
        effect = (
            " So there is some evidence that pooling curbs overfitting, but not in every setting; it always shrinks the model "
            f"({num(smaller['params'])} instead of {num(base['params'])} parameters for {esc(smaller['variant'])})."
        )
    else:
        effect = (
            " So this experiment shows no clear effect of pooling on overfitting; it does shrink the model "
            f"({num(smaller['params'])} instead of {num(base['params'])} parameters for {esc(smaller['variant'])})."
        )
    effect = gaps_text + effect
    return rf"""
\subsection{{Max-pooling}}
Table~\ref{{tab:pooling}} adds a max-pooling layer after each convolution. So that each network is compared once it has
finished learning, every variant and the reference without pooling train with {regime_text(suite)}. {verdict}
{effect}

{place(ctx, tab)}
"""


# ----------------------------------------------------------------------------- 1.4 regularisation
def _group(rows: list[dict], group: str) -> list[dict]:
    return [r for r in rows if r["group"] == group]


def section_regularization(ctx: ReportContext, figs: Mapping[str, str]) -> str:
    suite = ctx.part1.suites["regularization"]
    rows = suite["rows"]
    base = find_variant(rows, labels.REG_BASELINE, "regularization")
    others = [r for r in rows if r is not base]
    g0 = gap(base)
    fit = (
        f"it clearly overfits ({acc(base, 'train_acc')} training against {acc(base)} validation accuracy, a gap of {pct(g0)} points)"
        if g0 > 0.1
        else f"it reaches {acc(base, 'train_acc')} training and {acc(base)} validation accuracy (gap {pct(g0)} points)"
    )
    best_of = lambda members: max(members, key=lambda r: r["val_acc_mean"])  # noqa: E731
    lines = []
    drop = _group(rows, labels.DROPOUT)
    if drop:
        lines.append(
            r"\textbf{Dropout} (\texttt{nn.Dropout(p)} before the fully connected layers): "
            + ", ".join(f"$p={r['variant'].split()[-1]}$ {short_change(r, base)}" for r in drop)
            + "."
        )
    lr_pick = suite.get("lr_pick") or {}
    opt, sched = _group(rows, labels.OPTIMIZER), _group(rows, labels.SCHEDULE)
    if opt:
        picked = ", ".join(f"{OPTIMIZER_NAMES.get(k, k)} {v:g}" for k, v in lr_pick.items())
        lines.append(
            f"\\textbf{{Optimizers}} over small learning-rate grids (best on validation: {esc(picked)}): best "
            f"{esc(best_of(opt)['variant'])} {short_change(best_of(opt), base)}"
            + (
                f"; \\textbf{{LR schedules}}: best {esc(best_of(sched)['variant'])} {short_change(best_of(sched), base)}."
                if sched
                else "."
            )
        )
    decay = _group(rows, labels.WEIGHT_DECAY)
    if decay:
        parts = []
        for name in dict.fromkeys(r["variant"].split()[0] for r in decay):
            members = [r for r in decay if r["variant"].split()[0] == name]
            ref = find_variant(rows, members[0].get("decay_reference", labels.REG_BASELINE), "regularization")
            best, strongest = best_of(members), members[-1]
            text = f"{esc(name)} best {esc(best['variant'].split(' ', 1)[1])} {short_change(best, ref)}"
            if strongest is not best:
                text += f", strongest {esc(strongest['variant'].split()[-1])} {short_change(strongest, ref)}"
            parts.append(text)
        lines.append(
            r"\textbf{Weight decay}, from hardly any to clearly too strong, against the same optimizer and rate without it: "
            + "; ".join(parts)
            + "."
        )
    stop = _group(rows, labels.EARLY_STOPPING)
    if stop:
        best = best_of(stop)
        ep, kept = [r["epochs_run_mean"] for r in stop], [r["best_epoch_mean"] for r in stop]
        lines.append(
            f"\\textbf{{Early stopping}} (on validation accuracy unless noted; the best epoch is kept) stopped after "
            f"{min(ep):.0f}--{max(ep):.0f} epochs on average (kept epochs {min(kept):.0f}--{max(kept):.0f}) instead of "
            f"{base['epochs_run_mean']:.0f}; the best, {esc(best['variant'])}, changes validation accuracy by "
            f"{short_change(best, base)} but test accuracy by {short_change(best, base, 'test_acc')}: the validation number is "
            "optimistic, as the kept epoch is chosen on it."
        )
    comps = {r["variant"]: compare_records(r, base) for r in others}
    # A variant whose kept epoch was chosen on validation accuracy (early stopping) is judged on test accuracy: its
    # validation number is the maximum over epochs, optimistic against a baseline that reports its last epoch.
    chosen = lambda r: bool(r.get("selected_on_validation")) and not base.get("selected_on_validation")  # noqa: E731
    fair = {r["variant"]: compare_records(r, base, "test_acc") if chosen(r) else comps[r["variant"]] for r in others}
    better = sorted((r for r in others if fair[r["variant"]].verdict == BETTER), key=lambda r: -fair[r["variant"]].diff)
    worst = min(others, key=lambda r: comps[r["variant"]].diff)
    on = lambda r: "test" if chosen(r) else "validation"  # noqa: E731
    if better:
        top = better[0]
        winner = (
            f"{len(better)} of {len(others)} variants beat the baseline clearly; the most effective was \\textbf{{{esc(top['variant'])}}} "
            f"({esc(top['group'])}, {on(top)} accuracy {diff_text(fair[top['variant']])})."
        )
    else:
        top = max(others, key=lambda r: comps[r["variant"]].diff)
        caveat = (
            f", but its epoch was chosen on that validation accuracy: on test the change is {short_change(top, base, 'test_acc')}"
            if chosen(top)
            else ""
        )
        winner = (
            f"No variant beat the baseline clearly (early stopping judged on test accuracy). The largest validation gain is "
            f"{esc(top['variant'])}'s ({diff_text(comps[top['variant']])}){caveat}. At this budget no single regulariser stands out "
            "from the repeat-to-repeat noise."
        )
    inert = [r for r in others if comps[r["variant"]].verdict == NO_EFFECT]
    inert_text = (
        (
            " Flagged \\emph{no effect at this setting} (every per-repeat number equals the baseline's): "
            + ", ".join(esc(r["variant"]) for r in inert)
            + "."
        )
        if inert
        else ""
    )
    cells = lambda r: [
        esc(r["variant"]),
        acc(r, unit=False),
        pct(gap(r)),
        f"{r['epochs_run_mean']:.0f}",
        delta_cell(r, base),
    ]  # noqa: E731
    tab = split_table(
        f"Each regulariser alone against the baseline ({esc(regime_text(suite))}, no regulariser): validation accuracy in \\%, "
        f"{repeats_note(rows)}. Gap: training minus validation; ep.: epochs run; {delta_note()}.",
        "tab:reg",
        ["variant", "val.", "gap", "ep.", r"$\Delta$ val."],
        grouped(rows, cells, 5, base["variant"]),
        "@{}lrrrr@{}",
        comments=id_comments(rows),
        size=r"\scriptsize",
    )
    fig = figure(
        figs["deltas"],
        "Validation accuracy of each variant of 1.4 and 1.5 minus its reference (the baseline and the "
        "starter network), paired per repeat, in points, coloured by group; error bars: the 95\\,\\% paired $t$ interval "
        "(a bar whose interval misses 0 is a clear difference). Early-stopping bars of 1.4 show the validation accuracy of the "
        "epoch chosen on it, an optimistic number.",
        "fig:deltas",
        width=PRINT["deltas"].tex,
    )
    return rf"""
\subsection{{Regularisation}}
Regularisation can only help where there is overfitting to curb, so the baseline of Table~\ref{{tab:reg}} trains with
{regime_text(suite)}: {fit}. Every variant changes one thing and runs on the same repeats (Figure~\ref{{fig:deltas}};
{QUIET_NOTE.format(n=base["n"])}).
{" ".join(lines)}

{winner} The most harmful: {esc(worst["variant"])}, {short_change(worst, base)}.{inert_text}

{place(ctx, tab)}

{fig}
"""
