"""The report's diagnostics: what the best model confuses, with the starter network's first-layer filters (1.6), the
colour controls (1.7), and what the best face model confuses (a subfigure beside 2.3's hidden units).

Every number comes from the manifest's diagnostics facts (cnnlab.report.figures.key_runs, computed from the
models' predictions) or from the controls suite's rows (worded from `cnnlab.art.suites.controls.
controls_facts`, the same facts as the suite's findings); nothing is asserted that they do not show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cnnlab.art.suites.controls import COLOUR_CNN, COLOUR_ONLY, GRAYSCALE_CNN, controls_facts
from cnnlab.art.suites.labels import find_variant
from cnnlab.core.stats import BETTER, NO_CLEAR_DIFFERENCE, WORSE, Comparison
from cnnlab.faces.run_configs import WEIGHT_STUDY_HIDDEN
from cnnlab.report.compare import acc, diff_text, id_comments
from cnnlab.report.context import MAIN_MLP, ReportContext, mlp_group
from cnnlab.report.figures.confusion import face_width
from cnnlab.report.figures.layout import PRINT
from cnnlab.report.figures.names import abbreviations, needs_key
from cnnlab.report.latex import comment, esc, pct, pp

FACE_GROUPS = {  # the Part 2 groups the best face model is chosen from (cnnlab.report.figures.key_runs)
    **{mlp_group(h): f"MLP with {h} hidden units ({'2.1' if h == MAIN_MLP else '2.3'})" for h in WEIGHT_STUDY_HIDDEN},
    "features": "head on AlexNet conv4 features (2.2)",
    "finetune": "fine-tuned AlexNet (2.4)",
}


def _pairs(pairs: Sequence[Mapping[str, Any]], first_verb: str = "is most often taken for") -> str:
    """'Turner is most often taken for Cozens (4 of 11), then Rembrandt for Romney (3 of 6)'."""
    if not pairs:
        return ""
    head, *rest = pairs
    text = f"{esc(head['true'])} {first_verb} {esc(head['predicted'])} ({head['count']} of {head['of']})"
    if rest:
        text += ", then " + " and ".join(
            f"{esc(p['true'])} for {esc(p['predicted'])} ({p['count']} of {p['of']})" for p in rest
        )
    return text


def _worst(worst: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(
        f"{esc(w['class'])} ({pct(w['accuracy'], 0)}\\,\\%, {w['correct']} of {w['support']})" for w in worst
    )


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _pooled(d: Mapping[str, Any], what: str) -> str:
    models = d["models"]
    return f"pooled over its {models} {what}" if models > 1 else f"on its {d['n']} test images"


# ----------------------------------------------------------------------------- 1.2 filters
def filters_caption(ctx: ReportContext) -> str:
    """The caption of the starter network's first-layer filters, with their colour share against initialisation."""
    f = ctx.part1.diagnostics["filters"]
    share, init = f["colour_share"], f["colour_share_init"]
    moved = (
        "moved them towards colour contrasts"
        if share > init + 0.05
        else "moved them towards luminance patterns"
        if share < init - 0.05
        else "left this share near its initial value"
    )
    return (
        f"The starter network's first-layer filters (each scaled to its range, grey = 0): {pct(share, 0)}\\,\\% of their "
        f"squared weights lie in colour differences between channels (0\\,\\%: luminance only), {pct(init, 0)}\\,\\% at "
        f"initialisation: training {moved}."
    )


# ----------------------------------------------------------------------------- 1.6 confusion
def section_confusion(ctx: ReportContext) -> str:
    """What the best configuration confuses (named, counted) and its most confident mistakes, with the Part 1
    diagnostics figure (confusion, first-layer filters of the starter network, top losses)."""
    diag = ctx.part1.diagnostics
    b = diag["best"]
    pairs = _pairs(b["pairs"])
    confused = f"{pairs}." if pairs else "It makes no mistake on the test split."
    strip = ""
    t = diag.get("top_losses")
    if t:
        common = t["common_pair"]
        repeated = (
            f"; {common['count']} are {esc(common['true'])} taken for {esc(common['predicted'])}"
            if common["count"] > 1
            else ""
        )
        strip = (
            f" Its {t['shown']} most confident mistakes (Figure~\\ref{{fig:toplosses}}) give the wrong artist "
            f"{t['p_min']:.2f}--{t['p_max']:.2f}, the true one {t['mean_p_true']:.2f} on average{repeated}."
        )
    return rf"""
\paragraph{{What the best model confuses.}} {_cap(_pooled(b, "repeats"))}, the best configuration classifies
{pct(b["accuracy"])}\,\% of the test paintings correctly (Figure~\ref{{fig:confusion}}). {confused} Worst recognised:
{_worst(b["worst"])}.{strip}
"""


def filters_block(ctx: ReportContext) -> str:
    """The starter network's first-layer filters under its layer table in the 1.2 figure (label fig:filters), with
    their colour share in the caption (`filters_caption`)."""
    f = ctx.part1.diagnostics["filters"]
    return "\n".join(
        [
            r"\par\vspace{6pt}",
            comment("filters: run " + f["run"]),
            rf"\includegraphics[width=\linewidth]{{figures/{f['figure']}}}",
            rf"\captionof{{figure}}{{{filters_caption(ctx)}}}\label{{fig:filters}}",
        ]
    )


def _confusion_note(d: Mapping[str, Any], what: str) -> str:
    """The caption's reading guide of a confusion figure (`report.figures.confusion`): colours, counts, tags."""
    names = d.get("classes") or []
    tags = abbreviations(names)
    shown = d.get("shown")
    parts = [f"colour: share of the true {what}'s images" + ("; numbers: counts" if d.get("numbers") else "")]
    if shown:
        parts.insert(0, f"the {len(shown)} of {len(names)} classes with the most errors")
    if needs_key(tags):
        parts.append("key: the tags' names")
    return "; ".join(parts)


def confusion_block(ctx: ReportContext) -> str:
    """The best configuration's pooled test confusion with its key and, under the key, its most confidently
    wrong test paintings: one figure of the full text width (labels fig:confusion and fig:toplosses)."""
    b = ctx.part1.diagnostics["best"]
    t = ctx.part1.diagnostics.get("top_losses")
    models = f"{b['models']} repeat{'s' if b['models'] > 1 else ''}"
    strip = (
        r" Under the key: its most confidently wrong test paintings (first repeat), true \ensuremath{\rightarrow} "
        r"predicted artist and the probability of the prediction.\label{fig:toplosses}"
        if t
        else ""
    )
    return "\n".join(
        [
            comment("confusion pooled over runs: " + " ".join(b["runs"])),
            *([comment("top losses: run " + t["run"])] if t else []),
            "\\begin{figure}[t]",
            "\\centering",
            rf"\includegraphics[width={PRINT['confusion_best'].tex}]{{figures/{b['figure']}}}",
            rf"\caption{{Test confusion of the best configuration, {models} pooled ({_confusion_note(b, 'artist')})."
            rf"{strip}}}\label{{fig:confusion}}",
            "\\end{figure}",
        ]
    )


# ----------------------------------------------------------------------------- 1.7 controls
def section_controls(ctx: ReportContext) -> str:
    """The colour-only and grayscale controls, paired with the colour CNN over the same repeats."""
    s = ctx.part1.suites["controls"]
    rows = s["rows"]
    cnn, gray, only = (find_variant(rows, v, "controls") for v in (COLOUR_CNN, GRAYSCALE_CNN, COLOUR_ONLY))
    f = controls_facts([cnn, gray, only], float(s["chance"]))
    c, g = f.only_vs_cnn, f.gray_vs_cnn
    share = (
        f"Colour alone reaches {pct(f.share, 0)}\\,\\% of the CNN's accuracy above chance"
        if f.share is not None
        else ""
    )
    colour = {
        "not above chance": "The CNN is not above chance here, so there is nothing to divide between colour and spatial structure.",
        "spatial": f"{share}; the CNN's advantage, {_paired_text(_mirror(c))}, needs spatial structure (strokes, edges, composition).",
        "colour better": f"{share}: colour alone does better than the CNN, {_paired_text(c)}.",
        "colour enough": f"{share}, {_paired_text(c)}: the colour statistics explain the CNN's accuracy as far as {c.n} repeats tell.",
        "unclear": f"{share} ({_paired_text(c, bare=True)}; one repeat: no conclusion).",
    }[f.colour_finding]
    gray_text = {
        WORSE: "colour is used",
        BETTER: "colour does not help",
        NO_CLEAR_DIFFERENCE: "no clear need for colour",
    }.get(g.verdict, "one repeat: no conclusion")
    return rf"""
\paragraph{{Controls: colour alone, and no colour.}} On the CNN's repeats, a logistic regression on colour histograms of the
painted pixels (C chosen on validation) reaches {acc(only, "test_acc")} test accuracy, the CNN {acc(cnn, "test_acc")}, chance
{pct(f.chance)}\,\%. {colour} On grayscale images the CNN reaches {acc(gray, "test_acc")}: {_paired_text(g)},
{gray_text}.
{chr(10).join(comment(c) for c in id_comments(rows))}
"""


def _paired_text(c: Comparison, bare: bool = False) -> str:
    """`diff_text` with the pairing said: '+21.5\\,$\\pm$\\,0.9 points (paired, $n=5$, better)'; `bare`: the
    difference alone ('+16.4 points, paired')."""
    if bare:
        return f"{pp(c.diff)} points, paired"
    return diff_text(c).replace(" points (", " points (paired, ", 1)


def _mirror(c: Comparison) -> Comparison:
    """The comparison the other way round (b minus a): the same SE and interval, mirrored, and the verdict mirrored."""
    from dataclasses import replace

    return replace(
        c, diff=-c.diff, low=-c.high, high=-c.low, verdict={BETTER: WORSE, WORSE: BETTER}.get(c.verdict, c.verdict)
    )


# ----------------------------------------------------------------------------- 2.4 face confusion
def face_confusion_sentence(ctx: ReportContext) -> str:
    """What the face confusion says, in one sentence, with a reference to its matrix (`face_confusion_figure`)."""
    d = ctx.part2.face_diagnostics
    pairs = _pairs(d["pairs"][:2])
    return (
        f"The best face model by validation accuracy ({esc(FACE_GROUPS.get(d['group'], d['group']))}; test confusion of "
        f"{d['models']} seed{'s' if d['models'] > 1 else ''} pooled, {pct(d['accuracy'])}\\,\\% correct, "
        "Figure~\\ref{fig:faceconfusion})" + (f": {pairs}." if pairs else " makes no mistake.")
    )


def face_confusion_figure(ctx: ReportContext) -> str:
    """The best face model's pooled test confusion (label fig:faceconfusion), as wide as `confusion.face_width`
    says (the full text width with its key, or narrower when the names need no key); its caption says which model
    it is (chosen on validation accuracy), how accurate it is and the pair it confuses most."""
    d = ctx.part2.face_diagnostics
    pairs = _pairs(d["pairs"][:1])
    width = face_width(d.get("classes") or [])
    return "\n".join(
        [
            comment("face confusion pooled over runs: " + " ".join(d["runs"])),
            "\\begin{figure}[t]",
            "\\centering",
            rf"\includegraphics[width={width.tex}]{{figures/{d['figure']}}}",
            rf"\caption{{Best face model by validation accuracy ({esc(FACE_GROUPS.get(d['group'], d['group']))}): test confusion, "
            rf"{d['models']} seed{'s' if d['models'] > 1 else ''} pooled, {pct(d['accuracy'])}\,\% correct"
            rf"{'; ' + pairs if pairs else ''} ({_confusion_note(d, 'person')}).}}\label{{fig:faceconfusion}}",
            "\\end{figure}",
        ]
    )
