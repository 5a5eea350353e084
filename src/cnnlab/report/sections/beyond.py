"""Part 2 beyond the handout, from the context: the small CNN paired with the MLP, and the accuracy of the 2.2 head on
each AlexNet depth. (2.1's recipe choice is part of the MLP's section, cnnlab.report.sections.faces.)"""

from __future__ import annotations

from collections.abc import Mapping

from cnnlab.core.stats import BETTER, WORSE, compare
from cnnlab.report.latex import esc, pct, pp
from cnnlab.report.sections.faces import acc


def _paired(a: dict, b: dict, key: str = "test_acc") -> tuple[str, str]:
    """a minus b, paired by seed: (text with mean +- SE in points, n and the verdict of core.stats; the verdict)."""
    c = compare(a["per_seed"][key], b["per_seed"][key])
    if not c.has_error_bar:
        return f"{pp(c.diff)} points ($n=1$: no error bar, no verdict)", c.verdict
    text = (
        f"{pp(c.diff)}\\,$\\pm$\\,{pct(c.se)} points (mean\\,$\\pm$\\,SE of the per-seed differences, $n={c.n}$): "
        f"\\textbf{{{esc(c.verdict)}}}"
    )
    return text, c.verdict


WHY = (
    "each $3\\times3$ filter is one small set of weights applied at every position, so an edge of an eye or a mouth is "
    "learned once and recognised wherever it falls, while the MLP must learn a separate weight for every pixel and every "
    "shift of the same feature"
)


def section_cnn(ctx: dict) -> str:
    """Beyond the handout: the small CNN against the 300-unit MLP, paired by seed on the same faces and recipe."""
    p2 = ctx["part2"]
    cnn, mlp = p2["cnn"], p2["mlp300"]
    cp, mp = cnn["summary"].get("params"), mlp["summary"].get("params")
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
\subsection{{Beyond the handout: what convolution adds}}
On the same $28\times28$ faces, splits, seeds and training recipe, a small CNN ({esc(cnn["summary"].get("description", ""))})
reaches \textbf{{{acc(cnn)} test accuracy}}{params}. Paired by seed against the 300-unit MLP, the difference in test
accuracy is {diff} (the verdict rule of Part~1). {meaning}
"""


def depth_text(ctx: dict, figs: Mapping[str, str]) -> str:
    """The layer sweep: the same head on conv1..conv5 and pool5, with its figure."""
    d = ctx["depth"]
    rows, grid = d["rows"], d["grid"]
    best = max(rows, key=lambda r: r["val_acc_mean"])
    n = rows[0]["n"]
    curve = ", ".join(f"{esc(r['layer'])} {pct(r['test_acc_mean'])}" for r in rows)
    if ctx["alexnet"].get("pretrained"):
        meaning = (
            "With ImageNet weights this is the classic transfer curve: early layers hold generic edges, the middle "
            "layers the parts that identify a face, and the last ones are specialised to ImageNet's classes."
        )
    else:
        meaning = (
            "With untrained weights the curve measures how much identity survives random convolutions and pooling at "
            "each depth: a baseline for what ImageNet weights (\\texttt{-{}-weights PATH}) add at each layer."
        )
    return rf"""
\textbf{{Which depth?}} The same head, with the same seeds, was trained on every depth of the same AlexNet: conv1 to conv5
(after their ReLU) and pool5, all read in one forward pass per face and cached, each average-pooled to a ${grid}\times{grid}$
grid so that the head sees a comparable number of inputs at every depth (Figure~\ref{{fig:depth}}). Test accuracy by
layer ({n} seed{"s" if n > 1 else ""}): {curve}\,\%; validation is highest at {esc(best["layer"])}. {meaning}

\begin{{figure}}[t]
\centering
\includegraphics[width=0.6\linewidth]{{figures/{figs["depth"]}}}
\caption{{Accuracy of the 2.2 head on each layer of the {"pretrained" if ctx["alexnet"].get("pretrained") else "untrained"} AlexNet
(each layer pooled to ${grid}\times{grid}$; test mean\,$\pm$\,SE and validation mean over $n={n}$ seeds); dashed: the pixel MLP of 2.1.}}
\label{{fig:depth}}
\end{{figure}}
"""
