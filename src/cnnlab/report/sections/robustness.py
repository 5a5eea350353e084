"""The report on robustness (1.7): the course's transformations at test time, the severity curves, and
training with augmentation. The text words the facts of `cnnlab.art.robustness.robustness_facts`, the
same facts the suite's findings state.
"""

from __future__ import annotations

from collections.abc import Mapping

from cnnlab.art.robustness import ORIGINAL, robustness_facts
from cnnlab.art.suites import labels
from cnnlab.art.transforms.course import COURSE_LABELS, GEOMETRIC, PHOTOMETRIC
from cnnlab.core.stats import BETTER, NO_CLEAR_DIFFERENCE, WORSE
from cnnlab.report.compare import acc, diff_text, id_comments, repeats_note, short_diff
from cnnlab.report.context import ReportContext
from cnnlab.report.figures.layout import PRINT
from cnnlab.report.latex import comment, esc, pct, pm, pp
from cnnlab.report.supplement import place


# ----------------------------------------------------------------------------- 1.7 robustness
def _course_name(t: str) -> str:
    return esc(COURSE_LABELS.get(t, t.replace("_", " ")))


def _change_from_clean(drop) -> str:
    """The accuracy change a transformation causes, transformed minus clean: '$-$12.3\\,$\\pm$\\,2.1 points'."""
    return pp(-drop.diff) + (f"\\,$\\pm$\\,{100 * drop.se:.1f}" if drop.has_error_bar else "") + " points"


def section_robustness(ctx: ReportContext, figs: Mapping[str, str]) -> str:
    s = ctx.part1.suites["robustness"]
    facts = robustness_facts(s["robustness"], labels.AS_TRAINED, labels.AUGMENTED)
    models, plain, get = facts.models, facts.reference, facts.row
    clean, drops = facts.clean, facts.drops
    chance = 1 / max(1, len(ctx.part1.art["counts"]))
    drop_text = lambda t: f"{_course_name(t)} ({pct(get(plain, t)['acc_mean'])}\\,\\%, {_change_from_clean(drops[t])})"  # noqa: E731
    invariant = "; ".join(drop_text(t) for t in facts.most_invariant())
    damaging = "; ".join(drop_text(t) for t in facts.most_damaging())
    unharmed = [t for t in facts.ranked if drops[t].verdict in (NO_CLEAR_DIFFERENCE,) or drops[t].no_effect]
    unharmed_text = (
        "Within the repeat noise it is invariant to " + ", ".join(_course_name(t) for t in unharmed) + "."
        if unharmed
        else "Every one of these transformations lowers its accuracy beyond the repeat noise."
    )
    geo, pho = facts.mean_drop(GEOMETRIC), facts.mean_drop(PHOTOMETRIC)
    c = facts.compare_drops(PHOTOMETRIC, GEOMETRIC)
    features = ""
    if c is not None:
        means = f"mean drop {pct(pho)} against {pct(geo)} points, paired difference {short_diff(c)}"
        features = {
            BETTER: f"Photometric changes cost clearly more than geometric ones ({means}): the network relies more on colour and "
            "intensity statistics than on where things are in the picture.",
            WORSE: f"Geometric changes cost clearly more than photometric ones ({means}): the network relies more on the "
            "layout of the picture than on its palette.",
        }.get(c.verdict, f"Photometric and geometric changes cost about the same ({means}).")
    surprising = []
    if "course_invert" in drops and get(plain, "course_invert")["acc_mean"] < chance + 0.1:
        surprising.append(
            f"the negative image falls to {pct(get(plain, 'course_invert')['acc_mean'])}\\,\\%, near chance "
            f"({pct(chance)}\\,\\%), although it keeps every edge and shape"
        )
    if (
        "course_translate" in drops and drops["course_translate"].verdict == BETTER
    ):  # clean minus translated > 0: a clear loss
        surprising.append(
            "a 10-pixel shift costs accuracy although convolutions are translation-equivariant (the fully connected "
            "layer is not)"
        )
    surprise = ("Notable: " + "; ".join(surprising) + ".") if surprising else ""
    aug_text = ""
    if facts.augmented:
        aug, gains = facts.augmented, facts.gains
        helped = sorted((t for t in facts.transforms if gains[t].verdict == BETTER), key=lambda t: -gains[t].diff)
        hurt = [t for t in facts.transforms if gains[t].verdict == WORSE]
        aug_text = (
            f"Retraining with random graded transforms ({esc(aug)}) changes the clean test accuracy by {diff_text(facts.clean_change)}"
            + (
                "; it clearly helps on " + ", ".join(f"{_course_name(t)}, {short_diff(gains[t])}" for t in helped)
                if helped
                else "; it helps on none of the course's transformations beyond the repeat noise"
            )
            + ("; it clearly hurts on " + ", ".join(_course_name(t) for t in hurt) if hurt else "")
            + "."
        )
    header = (
        ["transformation"] + [esc(m) for m in models] + (["$\\Delta$ aug."] if facts.augmented else []) + ["change"]
    )
    rows = []
    for t in (ORIGINAL,) + facts.transforms:
        cells = [_course_name(t) if t != ORIGINAL else "original (clean)"]
        cells += [pm(get(m, t)["acc_mean"], get(m, t)["acc_std"], n=get(m, t)["n"]) for m in models]
        if facts.augmented:
            g = facts.gains[t]
            cells.append(pp(g.diff) + (f"\\,$\\pm$\\,{100 * g.se:.1f}" if g.has_error_bar else ""))
        cells.append("" if t == ORIGINAL else _change_from_clean(drops[t]).replace(" points", ""))
        rows.append(cells)
    body = "\n".join(
        [
            f"\\begin{{tabular}}{{@{{}}l{'r' * (len(header) - 1)}@{{}}}}",
            "\\toprule",
            " & ".join(header) + r" \\",
            "\\midrule",
            *[" & ".join(c) + r" \\" for c in rows],
            "\\bottomrule",
            "\\end{tabular}",
        ]
    )
    ids = "\n".join(comment(c) for c in id_comments(s["rows"]))
    data_ref = ", Figure~\\ref{fig:data}"
    return rf"""
\subsection{{Robustness to transformed images}}
The best model of 1.6 was evaluated on the test split transformed with the course's own definitions, on the 8-bit images
(Table~\ref{{tab:robust}}{data_ref}; PIL's brightness and contrast enhancers, a wrap-around shift of 10 pixels, and
for ``flipped'' both a left--right mirror and the course code's 180\textdegree{{}} rotation, as the handout's figure does not say
which). On clean test images it scores {acc(clean, "acc")}. It is most invariant to {invariant}, and least to {damaging}. {unharmed_text} {features} {surprise}
Figure~\ref{{fig:robust}} adds graded versions at increasing severity. {aug_text}

{ids}
{place(ctx, _table(s, header, body))}
{place(ctx, _curves(figs))}
"""


def _table(s: Mapping, header: list[str], body: str) -> str:
    """The course's transformations' table (label tab:robust), of the full text width."""
    return rf"""\begin{{table}}[t]
\centering\scriptsize\setlength{{\tabcolsep}}{{4pt}}
\caption{{Test accuracy (\%) under the course's transformations (8-bit, as in the course code), {repeats_note(s["rows"])}.
$\Delta$ aug.: augmented minus as trained; change: transformed minus clean, as trained; both paired per repeat, mean\,$\pm$\,SE in points.}}\label{{tab:robust}}
{body}
\end{{table}}"""


def _curves(figs: Mapping[str, str]) -> str:
    """The graded transformations' severity curves (label fig:robust)."""
    return rf"""\begin{{figure}}[t]
\centering
\includegraphics[width={PRINT["robust_curves"].tex}]{{figures/{figs["robust_curves"]}}}
\caption{{Test accuracy against the severity of the graded transformations (mean\,$\pm$\,std over repeats); a star marks the
course's transformation on its curve.}}\label{{fig:robust}}
\end{{figure}}"""
