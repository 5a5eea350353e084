"""Part 2 beyond the handout, from the context: the small CNN paired with the MLP, and the accuracy of the 2.2 head on
each AlexNet depth. (2.1's recipe choice is part of the MLP's section, cnnlab.report.sections.faces.)"""

from __future__ import annotations

from cnnlab.core.stats import BETTER, WORSE, compare
from cnnlab.report.context import MAIN_MLP, ReportContext, RunGroup
from cnnlab.report.latex import esc, pct, pp
from cnnlab.report.sections.faces import acc


def _paired(a: RunGroup, b: RunGroup, key: str = "test_acc") -> tuple[str, str]:
    """a minus b, paired by seed: (text with mean +- SE in points, n and the verdict of core.stats; the verdict)."""
    c = compare(a.per_seed[key], b.per_seed[key])
    if not c.has_error_bar:
        return f"{pp(c.diff)} points ($n=1$: no error bar, no verdict)", c.verdict
    text = (
        f"{pp(c.diff)}\\,$\\pm$\\,{pct(c.se)} points (mean\\,$\\pm$\\,SE of the per-seed differences, $n={c.n}$): "
        f"\\textbf{{{esc(c.verdict)}}}"
    )
    return text, c.verdict


WHY = (
    "a $3\\times3$ filter is learned once and applied at every position, where the MLP needs a separate weight for "
    "every pixel and every shift of a feature"
)


def _cnn_text(cnn: RunGroup) -> str:
    """The small CNN in a few words, from its run config: its conv layers, then a linear layer."""
    c = (cnn.config or {}).get("cnn") or {}
    widths, k = [int(w) for w in c.get("widths", (16, 32))], int(c.get("kernel_size", 3))
    return (
        f"{len(widths)} ${k}\\times{k}$ conv layers of {', '.join(map(str, widths))} channels, each with ReLU and "
        "$2\\times2$ max-pooling, then a linear layer"
    )


def section_cnn(ctx: ReportContext) -> str:
    """Beyond the handout: the small CNN against 2.1's MLP (MAIN_MLP hidden units), paired by seed on the same faces and recipe."""
    cnn, mlp = ctx.part2.cnn, ctx.part2.main_mlp
    cp, mp = cnn.summary.get("params"), mlp.summary.get("params")
    params = f" with {cp:,} parameters against the MLP's {mp:,}".replace(",", "{,}") if cp and mp else ""
    diff, verdict = _paired(cnn, mlp)
    fewer = f"{mp / cp:.0f} times fewer weights" if cp and mp else "far fewer weights"
    if verdict == BETTER:
        meaning = f"Weight sharing and local receptive fields are why, with {fewer}: {WHY}."
    elif verdict == WORSE:
        meaning = (
            f"Weight sharing and local receptive fields ({WHY}) did not pay here: with {fewer} and a recipe chosen "
            "for the MLP, the CNN fits these few faces less well."
        )
    else:
        meaning = (
            f"Weight sharing and local receptive fields let it work with {fewer} ({WHY}), but on these $28\\times28$ faces, "
            "with a recipe chosen for the MLP, they add no accuracy that these seeds can resolve."
        )
    return rf"""
\textbf{{Beyond the handout: what convolution adds.}} With the same faces, splits, seeds and recipe, a small CNN ({_cnn_text(cnn)}) reaches \textbf{{{acc(cnn.stats)} test accuracy}}{params}. Paired by seed against the {MAIN_MLP}-unit MLP, the difference in test
accuracy is {diff} (the verdict rule of Part~1). {meaning}
"""


def depth_text(ctx: ReportContext) -> str:
    """The layer sweep: the same head on conv1..conv5 and pool5 (its figure is beside the learning curves)."""
    d = ctx.part2.depth
    rows, grid = d["rows"], d["grid"]
    best = max(rows, key=lambda r: r["val_acc_mean"])
    n = rows[0]["n"]
    curve = ", ".join(f"{esc(r['layer'])} {pct(r['test_acc_mean'])}" for r in rows)
    if ctx.part2.pretrained:
        meaning = (
            "With ImageNet weights this is the classic transfer curve: early layers hold generic edges, the middle "
            "layers the parts that identify a face, and the last ones are specialised to ImageNet's classes."
        )
    else:
        meaning = (
            "Untrained, this measures how much identity survives random convolutions at each depth: a baseline for "
            "what ImageNet weights (\\texttt{-{}-weights PATH}) add."
        )
    return rf"""
\textbf{{Which depth?}} The same head and seeds on conv1 to conv5 and pool5 of the same AlexNet, all read in one forward
pass and each average-pooled to ${grid}\times{grid}$ (comparable input sizes; Figure~\ref{{fig:depth}}), give test accuracies of
{curve}\,\% ($n={n}$); validation is highest at {esc(best["layer"])}. {meaning}
"""
