"""Part 1 of the report, questions 1.1-1.4 (sections1b.py: 1.5-1.7): LaTeX text and tables from the context.

Every sentence that states a result is computed from the suite rows, and every verdict (better,
worse, within seed noise, single seed) is `cnnlab.core.stats.compare`. Suite rows are found by the
labels the suites define (`cnnlab.art.suites.labels`). Figures are drawn beforehand
(`figures_tex.make_figures`); the sections receive their file names. Run ids go into .tex comments
next to each table row.
"""

from __future__ import annotations

import re
from typing import Mapping

from cnnlab.art.suites import labels
from cnnlab.art.suites.labels import find_variant
from cnnlab.core.stats import BETTER, compare_records
from cnnlab.report.compare import acc, change, gap, grouped, id_comments, seeds_note
from cnnlab.report.latex import comment, esc, figure, num, pct, pp, split_table, table


# ----------------------------------------------------------------------------- 1.1 and 1.2
def section_receptive(ctx: dict) -> str:
    net = ctx["network"]
    q = net["receptive_question"]
    starter = net["receptive_starter"]
    steps = ", then ".join(f"${f['size']}\\times{f['size']}$ after {esc(f['layer'])} (jump {f['jump']})" for f in starter)
    last = starter[-1]
    return rf"""
\subsection{{Receptive field of a convolutional node}}
A node of $Z_1$ sees a $5\times5$ patch of the image. A node of $Z_2$ combines a $3\times3$ patch of $Z_1$ whose
centres are one pixel apart (stride 1), so it sees $5 + (3-1)\cdot 1 = {q[-1]['size']}$ pixels in each direction:
its receptive field is $\mathbf{{{q[-1]['size']}\times{q[-1]['size']}}}$. In general a layer with kernel $k$ on a map whose
adjacent units are $j$ input pixels apart (the product of the strides below it) grows the field as
$r' = r + (k-1)\,j$ and the jump as $j' = j\,s$. The starter network of 1.2 (two $5\times5$ convolutions, stride 2)
therefore sees {steps}: its last convolutional units look at ${last['size']}\times{last['size']}$ of the
${net['input'][1]}\times{net['input'][2]}$ input. Depth is effective because (i) every layer enlarges the field, so deep units can
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


def section_network(ctx: dict, figs: Mapping[str, str]) -> str:
    net = ctx["network"]
    base = ctx["suites"]["baseline"]["rows"][0]
    layers = net["layers"]
    n_conv = sum(lay["type"].endswith("Conv2d") for lay in layers)
    n_fc = sum(lay["type"] == "Linear" for lay in layers)
    fc_sizes = [lay["detail"].split("->")[-1] for lay in layers if lay["type"] == "Linear"]
    convs = [lay for lay in layers if lay["type"].endswith("Conv2d")]
    words = [_conv_words(c["detail"]) for c in convs]
    conv_text = ("each " + words[0]) if len(set(words)) == 1 and len(words) > 1 else "; ".join(words)
    act_name = {"relu": "ReLU", "leaky_relu": "leaky ReLU", "elu": "ELU", "gelu": "GELU"}.get(net["activation"], net["activation"])
    opt = net["optimizer"]
    opt_name = {"adam": "Adam", "sgd": "SGD", "adamw": "AdamW", "rmsprop": "RMSprop"}.get(opt["name"], opt["name"])
    chance = 1 / max(1, len(ctx["art"]["counts"]))
    g = gap(base)
    if g > 0.1:
        meaning = (f"The network fits its training images far better than unseen ones: a gap of {pct(g)} points means it is "
                   "overfitting, memorising the small training set (and {0} parameters for {1} training images) rather than "
                   "learning only what generalises; validation accuracy is still well above the {2}\\,\\% of chance, so part "
                   "of what it learns is real.").format(num(net["params"]), ctx["art"]["split"]["train"], pct(chance))
    elif base["val_acc_mean"] < chance + 0.05:
        meaning = (f"Both accuracies are close to the {pct(chance)}\\,\\% of chance: at this budget the network has not "
                   "learned much yet (underfitting), so there is no overfitting to speak of.")
    else:
        meaning = (f"The gap of {pct(g)} points is small: at this budget the network generalises about as well as it fits, "
                   "with little overfitting.")
    rows: list[list[str]] = []
    for lay in layers:
        if lay["type"] in _MERGED and rows:
            rows[-1][0] += f" + {esc(lay['type'])}"  # an activation does not change the shape: same row
        else:
            rows.append(_layer_cells(lay))
    layer_table = "\n".join([
        "\\begin{tabular}{@{}lrr@{}}", "\\toprule", r"layer & output & params \\", "\\midrule",
        *[" & ".join(r) + r" \\" for r in rows], "\\midrule", f"total & & {num(net['params'])} \\\\", "\\bottomrule", "\\end{tabular}"])
    return rf"""
\subsection{{The starter network}}
The \texttt{{SimpleCNN}} has {n_conv + n_fc} layers with weights (Table~\ref{{tab:layers}}): {n_conv} convolutional layers
({conv_text}) and {n_fc} fully connected layers ({', '.join(esc(s) for s in fc_sizes)}
units); the last gives one logit per artist. Not all layers are convolutional: after the convolutions the feature
maps are flattened into a vector for the fully connected part. Every hidden layer uses the \textbf{{{esc(act_name)}}}
activation. The loss is the \textbf{{cross-entropy}} of the softmax of the logits, minimised by \textbf{{{opt_name}}}
(mini-batch stochastic gradient descent with adaptive per-parameter steps; learning rate {opt['lr']:g}, weight decay
{opt['weight_decay']:g}) on mini-batches of {net['batch_size']} images for {net['epochs']} epochs.

After training, the starter network reaches {acc(base, 'train_acc')} training and {acc(base)} validation accuracy
({seeds_note([base])}; Figure~\ref{{fig:baseline}}). {meaning}

{comment('baseline runs: ' + ' '.join(base['run_ids']))}
\begin{{figure}}[t]
\begin{{minipage}}[b]{{0.53\linewidth}}
\centering\footnotesize
\captionof{{table}}{{Layers of the starter network on ${net['input'][1]}\times{net['input'][2]}$ RGB inputs.}}\label{{tab:layers}}
{layer_table}
\end{{minipage}}\hfill
\begin{{minipage}}[b]{{0.44\linewidth}}
\centering
\includegraphics[width=\linewidth]{{figures/{figs['baseline_curves']}}}
\captionof{{figure}}{{Starter network: accuracy per epoch (line: mean, band: $\pm$1 std over {base['n']} seed{'s' if base['n'] > 1 else ''}).}}\label{{fig:baseline}}
\end{{minipage}}
\end{{figure}}
"""


# ----------------------------------------------------------------------------- 1.3 pooling
def section_pooling(ctx: dict) -> str:
    rows = ctx["suites"]["pooling"]["rows"]
    base = find_variant(rows, labels.NO_POOLING, "pooling")
    pooled = [r for r in rows if r is not base]
    best = max(pooled, key=lambda r: r["val_acc_mean"])
    narrower = sum(gap(r) < gap(base) for r in pooled)
    cells = lambda r: [esc(r["variant"]), num(r["params"]), acc(r, "train_acc", False), acc(r, unit=False), pct(gap(r)),  # noqa: E731
                       "" if r is base else pp(r["val_acc_mean"] - base["val_acc_mean"])]
    tab = table(f"Max-pooling after each convolution (size/stride), accuracy in \\%, {seeds_note(rows)}. "
                "Gap: train minus validation; $\\Delta$: validation change against no pooling.", "tab:pooling",
                ["variant", "params", "train", "validation", "gap", r"$\Delta$"], [cells(r) for r in rows], "@{}lrrrrr@{}",
                comments=id_comments(rows))
    if narrower >= max(1, len(pooled) / 2):
        effect = (f"In {narrower} of {len(pooled)} settings the train--validation gap shrank (from {pct(gap(base))} points without pooling): "
                  "max-pooling acts as a regulariser. It makes the features tolerant to small shifts, discards the exact position "
                  "of each response and shrinks the maps, so the fully connected layer has far fewer weights to overfit with "
                  f"({num(best['params'])} parameters instead of {num(base['params'])} for {esc(best['variant'])}).")
    else:
        effect = (f"The train--validation gap did not shrink in most settings ({narrower} of {len(pooled)}): here pooling mainly "
                  f"reduced the size of the model ({num(best['params'])} instead of {num(base['params'])} parameters for "
                  f"{esc(best['variant'])}) and the resolution of the features, rather than curbing overfitting.")
    return rf"""
\subsection{{Max-pooling}}
Table~\ref{{tab:pooling}} adds a max-pooling layer after each convolution. The best setting, {esc(best['variant'])},
reaches {acc(best)} validation accuracy, {change(best, base)} against no pooling, with training accuracy
{acc(best, 'train_acc')}. {effect}

{tab}
"""


# ----------------------------------------------------------------------------- 1.4 regularisation
def section_regularization(ctx: dict, figs: Mapping[str, str]) -> str:
    rows = ctx["suites"]["regularization"]["rows"]
    base = find_variant(rows, labels.REG_BASELINE, "regularization")
    groups = list(dict.fromkeys(r["group"] for r in rows if r is not base))
    lines, ranking = [], []
    for g in groups:
        members = [r for r in rows if r["group"] == g]
        best = max(members, key=lambda r: r["val_acc_mean"])
        c = compare_records(best, base)
        ranking.append((c.diff, c.verdict, g, best))
        extra = ""
        if g == labels.EARLY_STOPPING:
            extra = f"; it stopped after {best['epochs_run_mean']:.0f} of {ctx['network']['epochs']} epochs on average"
        lines.append(f"\\textbf{{{esc(g).capitalize()}}}: best {esc(best['variant'])} at {acc(best)}, {change(best, base)}{extra}.")
    ranking.sort(key=lambda t: -t[0])
    d, verdict, g, best = ranking[0]
    if verdict == BETTER:
        winner = (f"The most effective regulariser was \\textbf{{{esc(g)}}} ({esc(best['variant'])}, {pp(d)} points of validation "
                  "accuracy beyond seed noise).")
    else:
        winner = (f"The largest gain came from {esc(g)} ({esc(best['variant'])}, {pp(d)} points), but it is {verdict}: "
                  "no single regulariser clearly beat the baseline at this budget.")
    worst = min(((compare_records(r, base).diff, r) for r in rows if r is not base), key=lambda t: t[0])
    cells = lambda r: [esc(r["variant"]), acc(r, unit=False), pct(gap(r)),  # noqa: E731
                       "" if r is base else pp(r["val_acc_mean"] - base["val_acc_mean"])]
    tab = split_table(f"Each regulariser alone against the baseline (Adam, lr $10^{{-4}}$, no regularisation): validation accuracy in \\%, "
                      f"{seeds_note(rows)}. Gap: training minus validation accuracy; $\\Delta$: validation change against the baseline.",
                      "tab:reg", ["variant", "validation", "gap", r"$\Delta$"],
                      grouped(rows, cells, 4, base["variant"]), "@{}lrrr@{}", comments=id_comments(rows))
    fig = figure(figs["deltas"], "Validation accuracy of each variant of 1.4 and 1.5 minus its reference (the baseline and the "
                 "starter network), in points, coloured by group; error bars: $\\pm$2 standard errors over seeds.", "fig:deltas")
    return rf"""
\subsection{{Regularisation}}
We trained the baseline with each regulariser alone (Table~\ref{{tab:reg}}, Figure~\ref{{fig:deltas}}): dropout before
the fully connected layers with drop probability $p$ (PyTorch's \texttt{{nn.Dropout(p)}}, active in training only),
four optimizers with weight decay (L2), early stopping on the validation loss with several patiences (the weights of
the best epoch are restored), and learning-rate schedules. {' '.join(lines)}

{winner} The most harmful change was {esc(worst[1]['variant'])} ({pp(worst[0])} points). Regularisers that reduce
the train--validation gap without lowering validation accuracy trade memorisation for generalisation; those that
also lower training accuracy a lot (large weight decay, strong dropout at a small budget) underfit instead.

{tab}

{fig}
"""
