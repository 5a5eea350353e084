"""The report on the network: receptive fields and the starter network (1.1-1.2), the architecture suite (1.5).

Every verdict is the paired rule of `cnnlab.core.stats` (through report.compare); suite rows are found by
the labels the suites define (`cnnlab.art.suites.labels`); figures are drawn beforehand and the sections
receive their file names; run ids go into .tex comments next to each table row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from cnnlab.art.suites import labels
from cnnlab.art.suites.labels import find_variant
from cnnlab.core.stats import BETTER, WORSE, compare_records
from cnnlab.core.train.config import OPTIMIZER_NAMES
from cnnlab.report.compare import (
    QUIET_NOTE,
    acc,
    change,
    delta_cell,
    delta_note,
    diff_text,
    gap,
    grouped,
    id_comments,
    repeats_note,
    short_change,
)
from cnnlab.report.context import ReportContext
from cnnlab.report.figures.layout import PRINT
from cnnlab.report.latex import comment, esc, num, pct, split_table
from cnnlab.report.sections.diagnostics import filters_block
from cnnlab.report.sections.training import regime_text, verdict_counts
from cnnlab.report.supplement import place


# ----------------------------------------------------------------------------- 1.1 and 1.2
def section_receptive(ctx: ReportContext) -> str:
    net = ctx.part1.network
    q = net["receptive_question"]
    starter = net["receptive_starter"]
    steps = ", then ".join(
        f"${f['size']}\\times{f['size']}$ after {esc(f['layer'])} (jump {f['jump']})" for f in starter
    )
    last = starter[-1]
    return rf"""
\subsection{{Receptive field of a convolutional node}}
A node of $Z_1$ sees a $5\times5$ patch of the image. A node of $Z_2$ combines a $3\times3$ patch of $Z_1$ whose
centres are one pixel apart (stride 1), so it sees $5 + (3-1)\cdot 1 = {q[-1]["size"]}$ pixels in each direction:
its receptive field is $\mathbf{{{q[-1]["size"]}\times{q[-1]["size"]}}}$. In general a layer with kernel $k$ on a map whose
adjacent units are $j$ input pixels apart (the product of the strides below it) grows the field as
$r' = r + (k-1)\,j$ and the jump as $j' = j\,s$. The starter network of 1.2 (two $5\times5$ convolutions, stride 2)
therefore sees {steps}: its last convolutional units look at ${last["size"]}\times{last["size"]}$ of the
${net["input"][1]}\times{net["input"][2]}$ input. Depth is effective because (i) every layer enlarges the field, so deep units can
respond to large structures (composition, objects) while each layer keeps few weights; (ii) a stack of small
filters covers the field of one large filter with fewer parameters ($2\cdot 3^2C^2$ for two $3\times3$ layers
against $5^2C^2$ for one $5\times5$ layer with $C$ channels) and adds a non-linearity per layer; and (iii)
each layer composes the features of the one below (edges, then textures and motifs), a hierarchy a single layer cannot express.
"""


def _conv_words(detail: str) -> str:
    """'3->16, k5 s2 p0' -> '16 filters of $5\\times5$, stride 2, no padding'."""
    m = re.match(r"\s*(\d+)->(\d+), k(\d+) s(\d+) p(\d+)", detail)
    if not m:
        return esc(detail)
    _cin, cout, k, stride, pad = m.groups()
    return f"{cout} filters of ${k}\\times{k}$, stride {stride}, " + ("no padding" if pad == "0" else f"padding {pad}")


_MERGED = {"ReLU", "LeakyReLU", "ELU", "GELU", "Tanh", "Sigmoid", "Dropout"}


def _layer_cells(layer: dict) -> list[str]:
    kind = esc(layer["type"])
    detail = esc(re.sub(r" p0\b", "", layer["detail"])) if layer["detail"] else ""  # no padding: not worth a mention
    shape = r"$\times$".join(str(d) for d in layer["output"])
    return [kind + (f" {detail}" if detail else ""), shape, num(layer["params"]) if layer["params"] else ""]


def section_network(ctx: ReportContext, figs: Mapping[str, str]) -> str:
    net = ctx.part1.network
    base = ctx.part1.suites["baseline"]["rows"][0]
    layers = net["layers"]
    n_conv = sum(lay["type"].endswith("Conv2d") for lay in layers)
    n_fc = sum(lay["type"] == "Linear" for lay in layers)
    fc_sizes = [lay["detail"].split("->")[-1] for lay in layers if lay["type"] == "Linear"]
    convs = [lay for lay in layers if lay["type"].endswith("Conv2d")]
    words = [_conv_words(c["detail"]) for c in convs]
    conv_text = ("each " + words[0]) if len(set(words)) == 1 and len(words) > 1 else "; ".join(words)
    act_name = {"relu": "ReLU", "leaky_relu": "leaky ReLU", "elu": "ELU", "gelu": "GELU"}.get(
        net["activation"], net["activation"]
    )
    opt = net["optimizer"]
    opt_name = OPTIMIZER_NAMES.get(opt["name"], opt["name"])
    chance = 1 / max(1, len(ctx.part1.art["counts"]))
    g = gap(base)
    if g > 0.1:
        meaning = (
            f"The network fits its training images far better than unseen ones: a gap of {pct(g)} points means it is "
            "overfitting, memorising the small training set (and {0} parameters for {1} training images) rather than "
            "learning only what generalises; validation accuracy is still well above the {2}\\,\\% of chance, so part "
            "of what it learns is real."
        ).format(num(net["params"]), ctx.part1.art["split"]["train"], pct(chance))
    elif base["val_acc_mean"] < chance + 0.05:
        meaning = (
            f"Both accuracies are close to the {pct(chance)}\\,\\% of chance: at this budget the network has not "
            "learned much yet (underfitting), so there is no overfitting to speak of."
        )
    else:
        meaning = (
            f"The gap of {pct(g)} points is small: at this budget the network generalises about as well as it fits, "
            "with little overfitting."
        )
    rows: list[list[str]] = []
    for lay in layers:
        if lay["type"] in _MERGED and rows:
            rows[-1][0] += f" + {esc(lay['type'])}"  # an activation does not change the shape: same row
        else:
            rows.append(_layer_cells(lay))
    layer_table = "\n".join(
        [
            "\\begin{tabular}{@{}lrr@{}}",
            "\\toprule",
            r"layer & output & params \\",
            "\\midrule",
            *[" & ".join(r) + r" \\" for r in rows],
            "\\midrule",
            f"total & & {num(net['params'])} \\\\",
            "\\bottomrule",
            "\\end{tabular}",
        ]
    )
    return rf"""
\subsection{{The starter network}}
The \texttt{{SimpleCNN}} has {n_conv + n_fc} layers with weights (Table~\ref{{tab:layers}}): {n_conv} convolutional layers
({conv_text}) and {n_fc} fully connected layers ({", ".join(esc(s) for s in fc_sizes)}
units); the last gives one logit per artist. Not all layers are convolutional: after the convolutions the feature
maps are flattened into a vector for the fully connected part. Every hidden layer uses the \textbf{{{esc(act_name)}}}
activation. The loss is the \textbf{{cross-entropy}} of the softmax of the logits, minimised by \textbf{{{opt_name}}}
(mini-batch stochastic gradient descent with adaptive per-parameter steps; learning rate {opt["lr"]:g}, weight decay
{opt["weight_decay"]:g}) on mini-batches of {net["batch_size"]} images for {net["epochs"]} epochs.

After training, the starter network reaches {acc(base, "train_acc")} training and {acc(base)} validation accuracy
({repeats_note([base])}; Figure~\ref{{fig:baseline}}). {meaning}

{comment("baseline runs: " + " ".join(base["run_ids"]))}
\begin{{figure}}[t]
\begin{{minipage}}[b]{{{PRINT["filters_starter"].tex}}}
\centering\footnotesize
\captionof{{table}}{{Layers of the starter network on ${net["input"][1]}\times{net["input"][2]}$ RGB inputs.}}\label{{tab:layers}}
{layer_table}
{filters_block(ctx)}
\end{{minipage}}\hfill
\begin{{minipage}}[b]{{{PRINT["baseline_curves"].tex}}}
\centering
\includegraphics[width=\linewidth]{{figures/{figs["baseline_curves"]}}}
\captionof{{figure}}{{Starter network: accuracy per epoch (line: mean, band: $\pm$1 std over {base["n"]} repeat{"s" if base["n"] > 1 else ""}).}}\label{{fig:baseline}}
\end{{minipage}}
\end{{figure}}
"""


def section_architecture(ctx: ReportContext) -> str:
    suite = ctx.part1.suites["architecture"]
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
        extremes = (
            f"{len(clear)} of {len(others)} changes move{'s' if len(clear) == 1 else ''} validation accuracy beyond the repeat "
            f"noise (bold in the table); the biggest increase is {esc(up['variant'])}, {short_change(up, base)}, and the biggest "
            f"decrease {esc(down['variant'])}, {short_change(down, base)}."
        )
    else:
        extremes = (
            f"No single change moves validation accuracy beyond the repeat noise: the largest increase, {esc(up['variant'])}, "
            f"is {change(up, base)}, and the largest decrease, {esc(down['variant'])}, {change(down, base)}."
        )
    shapes = [r for r in rows if r["group"] == labels.SHAPE]
    shape_text = ""
    if shapes:
        best_shape = max(shapes, key=lambda r: r["val_acc_mean"])
        worst_shape = min(shapes, key=lambda r: r["val_acc_mean"])
        c = compare_records(best_shape, worst_shape)
        ds = ", ".join(f"{esc(r['variant'])} {acc(r)} ({num(r['params'])} parameters)" for r in shapes)
        kind = best_shape["variant"].split()[0]
        if c.verdict == BETTER:
            why = {
                "pyramidal": " A pyramid spends few filters on the large early maps (generic edges and colours, cheap there) and many on "
                "the small late maps, where the combinations that identify a style are formed.",
                "inverted": " The usual argument for pyramids (few filters on the large early maps, many on the small late ones) did not "
                "pay off on this data: many early filters helped more.",
            }.get(kind, "")
            shape_text = (
                f"With the same spatial schedule (three $3\\times3$ convolutions, each followed by $2\\times2$ pooling), the shapes "
                f"compare as {ds}. The {esc(kind)} network beats the {esc(worst_shape['variant'].split()[0])} one by "
                f"{diff_text(c)}.{why}"
            )
        else:
            shape_text = (
                f"With the same spatial schedule (three $3\\times3$ convolutions, each followed by $2\\times2$ pooling), the shapes "
                f"compare as {ds}: the best ({esc(best_shape['variant'])}) and the worst ({esc(worst_shape['variant'])}) differ by "
                f"{diff_text(c)}, so this data does not separate pyramidal, flat and inverted networks."
            )
    cells = lambda r: [
        esc(r["variant"]),
        num(r["params"]),
        f"{r['epochs_run_mean']:.0f}",
        acc(r, unit=False),
        delta_cell(r, base),
    ]  # noqa: E731
    tab = split_table(
        f"Architecture changes, one at a time from the starter network, each trained to its validation plateau: validation "
        f"accuracy in \\%, {repeats_note(rows)}; ep.: epochs run (mean). {delta_note()}.",
        "tab:arch",
        ["variant", "params", "ep.", "val.", r"$\Delta$ val."],
        grouped(rows, cells, 5, base["variant"]),
        "@{}lrrrr@{}",
        comments=id_comments(rows),
        size=r"\scriptsize",
    )
    return rf"""
\subsection{{Architecture}}
Table~\ref{{tab:arch}} and Figure~\ref{{fig:deltas}} (right) change one property of the starter network at a time. So that a
deeper or larger network does not lose merely for being undertrained, every variant trains with {regime_text(suite)}; the
epochs each used are in the table (starter: {acc(base)} validation accuracy after {base["epochs_run_mean"]:.0f} epochs;
{QUIET_NOTE.format(n=base["n"])}).
(a)~\textbf{{Filter size}}: {said(*map(labels.kernel_label, labels.KERNEL_SIZES))}.
(b)~\textbf{{Stride}}: {said(*map(labels.stride_label, labels.STRIDES))}; a larger stride skips positions and shrinks the maps and the
fully connected layer.
(c)~\textbf{{Depth}}: {said(*labels.DEPTHS)}.
{extremes} {shape_text}

{place(ctx, tab)}
"""
