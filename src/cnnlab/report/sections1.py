"""Part 1 of the report (questions 1.1-1.7): LaTeX text, tables and plots from the context.

Every sentence that states a result is computed from the suite rows: a difference is called better
or worse only when it exceeds two standard errors of the seed-to-seed spread, else "within seed
noise" (or "single seed" when n = 1). Run ids go into .tex comments next to each table row.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cnnlab.report import plots
from cnnlab.report.compare import acc, change, delta, find, gap, grouped, id_comments, seeds_note
from cnnlab.report.latex import comment, esc, figure, figure_pair, num, pct, pm, pp, split_table, table

STARTER = "starter (k5 s2, 2x16)"
REG_BASE = "baseline (Adam 1e-4)"


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


def section_network(ctx: dict, fig_dir: Path) -> str:
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
    plots.plot_curves(ctx["curves"]["baseline"], fig_dir / "baseline_curves.pdf", f"starter network, n={base['n']}")
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
\includegraphics[width=\linewidth]{{figures/baseline_curves.pdf}}
\captionof{{figure}}{{Starter network: accuracy per epoch (line: mean, band: $\pm$1 std over {base['n']} seed{'s' if base['n'] > 1 else ''}).}}\label{{fig:baseline}}
\end{{minipage}}
\end{{figure}}
"""


# ----------------------------------------------------------------------------- 1.3 pooling
def section_pooling(ctx: dict) -> str:
    rows = ctx["suites"]["pooling"]["rows"]
    base = find(rows, "no pooling")
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
def section_regularization(ctx: dict, fig_dir: Path) -> str:
    rows = ctx["suites"]["regularization"]["rows"]
    base = find(rows, REG_BASE)
    groups = list(dict.fromkeys(r["group"] for r in rows if r is not base))
    lines, ranking = [], []
    for g in groups:
        members = [r for r in rows if r["group"] == g]
        best = max(members, key=lambda r: r["val_acc_mean"])
        d, _, verdict = delta(best, base)
        ranking.append((d, verdict, g, best))
        extra = ""
        if g == "early stopping":
            extra = f"; it stopped after {best['epochs_run_mean']:.0f} of {ctx['network']['epochs']} epochs on average"
        lines.append(f"\\textbf{{{esc(g).capitalize()}}}: best {esc(best['variant'])} at {acc(best)}, {change(best, base)}{extra}.")
    ranking.sort(key=lambda t: -t[0])
    d, verdict, g, best = ranking[0]
    if verdict == "better":
        winner = (f"The most effective regulariser was \\textbf{{{esc(g)}}} ({esc(best['variant'])}, {pp(d)} points of validation "
                  "accuracy beyond seed noise).")
    else:
        winner = (f"The largest gain came from {esc(g)} ({esc(best['variant'])}, {pp(d)} points), but it is {verdict}: "
                  "no single regulariser clearly beat the baseline at this budget.")
    worst = min(((delta(r, base)[0], r) for r in rows if r is not base), key=lambda t: t[0])
    cells = lambda r: [esc(r["variant"]), acc(r, unit=False), pct(gap(r)),  # noqa: E731
                       "" if r is base else pp(r["val_acc_mean"] - base["val_acc_mean"])]
    tab = split_table(f"Each regulariser alone against the baseline (Adam, lr $10^{{-4}}$, no regularisation): validation accuracy in \\%, "
                      f"{seeds_note(rows)}. Gap: training minus validation accuracy; $\\Delta$: validation change against the baseline.",
                      "tab:reg", ["variant", "validation", "gap", r"$\Delta$"],
                      grouped(rows, cells, 4, base["variant"]), "@{}lrrr@{}", comments=id_comments(rows))
    arch_rows = ctx["suites"]["architecture"]["rows"]
    plots.plot_deltas([(rows, base["variant"], "regularisation, each alone (1.4)"),
                       (arch_rows, find(arch_rows, STARTER)["variant"], "architecture, one change at a time (1.5)")],
                      fig_dir / "deltas.pdf")
    fig = figure(("deltas.pdf"), "Validation accuracy of each variant of 1.4 and 1.5 minus its reference (the baseline and the "
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


# ----------------------------------------------------------------------------- 1.5 architecture
def section_architecture(ctx: dict) -> str:
    rows = ctx["suites"]["architecture"]["rows"]
    base = find(rows, STARTER)

    def said(label: str) -> str:
        r = find(rows, label)
        if r["variant"] != label:
            return f"{esc(label)}: not run"
        return f"{esc(label)} {acc(r)} ({change(r, base)})"

    shapes = [r for r in rows if r["group"] == "shape"]
    best_shape = max(shapes, key=lambda r: r["val_acc_mean"]) if shapes else None
    others = sorted((r for r in rows if r is not base), key=lambda r: r["val_acc_mean"])
    up, down = others[-1], others[0]
    shape_text = ""
    if shapes:
        ds = ", ".join(f"{esc(r['variant'])} {acc(r)} with {num(r['params'])} parameters" for r in shapes)
        verdict = delta(best_shape, min(shapes, key=lambda r: r["val_acc_mean"]))[2]
        margin = {"better": "by more than the seed noise over the worst shape", "within seed noise":
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
(a)~\textbf{{Filter size}}: {said('kernel 3')}; {said('kernel 7')}.
(b)~\textbf{{Stride}}: {said('stride 1')}; {said('stride 3')}. A larger stride skips positions and shrinks the maps (and the
fully connected layer) quickly, a smaller one keeps detail but multiplies the parameters of the first fully connected layer.
(c)~\textbf{{Depth}}: {said('1 conv layer')}; {said('3 conv layers')}; {said('4 conv layers (k3)')}.
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


def section_search(ctx: dict, fig_dir: Path) -> str:
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
    has_plot = any(t.get("status") == "complete" for t in trials)
    if has_plot:
        plots.plot_search(trials, fig_dir / "search.pdf")
        right = ("\\includegraphics[width=\\linewidth]{figures/search.pdf}\n\\captionof{figure}{Search: validation accuracy of each "
                 "trial and the best so far.}\\label{fig:search}")
    else:
        right = ""
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
GEOMETRIC = ("translate", "hflip")
PHOTOMETRIC = ("brighten", "darken", "contrast_high", "contrast_low", "invert")


def section_robustness(ctx: dict, fig_dir: Path) -> str:
    s = ctx["suites"]["robustness"]
    tab_rows = s["robustness"]
    models = list(dict.fromkeys(r["model"] for r in tab_rows))
    strongest = {t: max(r["severity"] for r in tab_rows if r["transform"] == t) for t in dict.fromkeys(r["transform"] for r in tab_rows)}
    get = lambda m, t: next(r for r in tab_rows if r["model"] == m and r["transform"] == t and r["severity"] == strongest[t])  # noqa: E731
    plain = models[0]
    clean = get(plain, "original")
    transforms = [t for t in strongest if t != "original"]
    drops = {t: clean["acc_mean"] - get(plain, t)["acc_mean"] for t in transforms}
    ranked = sorted(transforms, key=lambda t: drops[t])
    chance = 1 / max(1, len(ctx["art"]["counts"]))
    name = lambda t: t.replace("_", " ")  # noqa: E731
    invariant = ", ".join(f"{name(t)} ({pct(get(plain, t)['acc_mean'])}\\,\\%)" for t in ranked[:2])
    damaging = ", ".join(f"{name(t)} ({pct(get(plain, t)['acc_mean'])}\\,\\%)" for t in ranked[::-1][:2])
    geo = [drops[t] for t in transforms if t in GEOMETRIC]
    pho = [drops[t] for t in transforms if t in PHOTOMETRIC]
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    if pho and geo and mean(pho) > mean(geo) + 0.02:
        features = ("Photometric changes hurt far more than geometric ones (mean drop {0} against {1} points): the network "
                    "identifies an artist mostly by colour and intensity statistics (palette, brightness, contrast of the "
                    "strokes) and much less by where things are in the picture.").format(pct(mean(pho)), pct(mean(geo)))
    elif pho and geo and mean(geo) > mean(pho) + 0.02:
        features = ("Geometric changes hurt more than photometric ones (mean drop {0} against {1} points): the network relies "
                    "on the spatial layout of the picture (composition, position of the subject) more than on its "
                    "palette.").format(pct(mean(geo)), pct(mean(pho)))
    else:
        features = ("Geometric and photometric changes hurt about equally (mean drops {0} and {1} points): the network uses "
                    "both the layout and the colour statistics of the images.").format(pct(mean(geo)), pct(mean(pho)))
    surprising = []
    if "hflip" in drops and abs(drops["hflip"]) < 0.03:
        surprising.append("mirroring costs almost nothing, as a style should not depend on left and right")
    if "invert" in drops and get(plain, "invert")["acc_mean"] < chance + 0.1:
        surprising.append(f"the negative image falls to near chance ({pct(chance)}\\,\\%), although it keeps every edge and shape")
    if "translate" in drops and drops["translate"] > 0.1:
        surprising.append("a shift of a few pixels already costs much, although convolutions are translation-equivariant (the fully connected layer is not)")
    surprise = ("Notable: " + "; ".join(surprising) + ".") if surprising else ""
    aug_text = ""
    if len(models) > 1:
        aug = models[1]
        gains = {t: get(aug, t)["acc_mean"] - get(plain, t)["acc_mean"] for t in transforms}
        top = sorted(gains, key=lambda t: -gains[t])[:2]
        clean_change = pp(get(aug, "original")["acc_mean"] - clean["acc_mean"])
        if gains[top[0]] > 0.02:
            aug_text = (f"Retraining with random transforms ({esc(aug)}) changes the clean test accuracy by {clean_change} points "
                        "and helps most on " + ", ".join(f"{name(t)} ({pp(gains[t])})" for t in top)
                        + ": an invariance that the training images do not show has to be taught.")
        else:
            aug_text = (f"Retraining with random transforms ({esc(aug)}) changes the clean test accuracy by {clean_change} points "
                        f"and does not make the network measurably more robust (largest gain {pp(gains[top[0]])} points, on {name(top[0])}).")
    header = ["transform", "severity"] + [esc(m) for m in models] + ([r"$\Delta$"] if len(models) > 1 else [])
    rows = []
    for t in ["original"] + transforms:
        cells = [name(t), f"{strongest[t]:g}"] + [pm(get(m, t)["acc_mean"], get(m, t)["acc_std"], n=get(m, t)["n"]) for m in models]
        if len(models) > 1:
            cells.append(pp(get(models[1], t)["acc_mean"] - get(plain, t)["acc_mean"]))
        rows.append(cells)
    ids = [f"{r['variant']}: runs {' '.join(r['run_ids'])}" for r in s["rows"]]
    tab = table(f"Test accuracy (\\%) on transformed test images at the strongest severity, {seeds_note(s['rows'])}; "
                "$\\Delta$: augmented minus as trained.", "tab:robust", header, rows, "@{}lr" + "r" * (len(models) + (len(models) > 1)) + "@{}",
                comments=ids)
    plots.plot_robustness_bars(tab_rows, fig_dir / "robust_bars.pdf")
    plots.plot_robustness_curves(tab_rows, fig_dir / "robust_curves.pdf")
    fig = figure_pair(("robust_bars.pdf", "strongest severity"), ("robust_curves.pdf", "accuracy against severity"),
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
