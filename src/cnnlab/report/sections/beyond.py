"""Part 2 beyond the handout, from the context: 2.1's recipe chosen on validation (text and grid table), the small
CNN paired with the MLP, and the accuracy of the 2.2 head on each AlexNet depth."""

from __future__ import annotations

from collections.abc import Mapping

from cnnlab.core.stats import BETTER, WORSE, compare
from cnnlab.report.figures.layout import PRINT
from cnnlab.report.latex import esc, pct, pm, pp

ROW_NAMES = {  # (per-image standardisation, augmentation) -> the grid table's row label
    (False, False): "pixel std., no augm.",
    (False, True): "pixel std., flips + shifts",
    (True, False): "per-image std., no augm.",
    (True, True): "per-image std., flips + shifts",
}


def recipe_text(ctx: dict) -> str:
    """How 2.1's recipe was chosen: the grid, the rule, the choice (validation only), and test once."""
    r = ctx["recipes"]
    rows = r["rows"]
    chosen = next(row for row in rows if row["chosen"])
    n = chosen["n"]
    val = pm(chosen["val_acc_mean"], chosen["val_acc_se"], n=n)
    return (
        r"\textbf{Choosing the recipe.} The preprocessing, augmentation and optimiser settings above were chosen on "
        f"validation alone, from a grid of {len(rows)} recipes ({esc(r['grid'])}; 300 hidden units throughout), each "
        f"trained on the same {n} seed{'s' if n > 1 else ''} without ever evaluating the test split. "
        f"Rule: {esc(r['rule'])}. The chosen recipe, \\emph{{{esc(chosen['recipe'])}}}, reaches {val}\\,\\% validation "
        r"accuracy (mean\,$\pm$\,SE; Table~\ref{tab:recipes}); only its runs below evaluate the test split, once."
    )


def recipe_table(ctx: dict) -> str:
    """The 2.1 grid as a compact table: rows preprocessing x augmentation, columns L2 x learning rate, cells the
    mean validation accuracy over the seeds; the chosen recipe in bold."""
    rows = ctx["recipes"]["rows"]
    if not all(k in rows[0] for k in ("per_image", "augment", "weight_decay", "lr")):
        return ""
    row_keys = list(dict.fromkeys((r["per_image"], r["augment"]) for r in rows))
    col_keys = sorted({(r["weight_decay"], r["lr"]) for r in rows})
    cell = {((r["per_image"], r["augment"]), (r["weight_decay"], r["lr"])): r for r in rows}
    header = " & ".join(f"L2 {wd:g}, lr {lr:g}" for wd, lr in col_keys)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        f"\\caption{{2.1's recipe grid: mean validation accuracy (\\%) of the 300-unit MLP over $n={rows[0]['n']}$ "
        "seeds; bold: the recipe chosen by the rule. The test split is never evaluated for these runs.}",
        r"\label{tab:recipes}",
        r"\small",
        f"\\begin{{tabular}}{{@{{}}l{'r' * len(col_keys)}@{{}}}}",
        r"\toprule",
        f" & {header} \\\\",
        r"\midrule",
    ]
    for rk in row_keys:
        cells = []
        for ck in col_keys:
            r = cell.get((rk, ck))
            text = pct(r["val_acc_mean"]) if r else "--"
            cells.append(f"\\textbf{{{text}}}" if r and r["chosen"] else text)
        lines.append(f"{ROW_NAMES.get(rk, esc(str(rk)))} & " + " & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines)


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
    from cnnlab.report.sections.faces import acc

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
\includegraphics[width={PRINT["depth"].tex}]{{figures/{figs["depth"]}}}
\caption{{Accuracy of the 2.2 head on each layer of the {"pretrained" if ctx["alexnet"].get("pretrained") else "untrained"} AlexNet
(each layer pooled to ${grid}\times{grid}$; test mean\,$\pm$\,SE and validation mean over $n={n}$ seeds); dashed: the pixel MLP of 2.1.}}
\label{{fig:depth}}
\end{{figure}}
"""
