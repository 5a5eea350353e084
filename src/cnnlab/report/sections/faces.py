"""Part 2 of the report (questions 2.1-2.5) from the context: MLP, AlexNet features, fine-tuning,
weight pictures and guided backprop. An untrained AlexNet is named as such in every sentence,
caption and table row that involves it; its numbers are never called transfer learning."""

from __future__ import annotations

from collections.abc import Mapping

from cnnlab.core.train.config import MONITOR_BEST, MONITOR_NAMES, OPTIMIZER_NAMES
from cnnlab.faces.run_configs import WEIGHT_STUDY_HIDDEN
from cnnlab.report.context import MAIN_MLP, ReportContext, RunGroup, mlp_group
from cnnlab.report.figures.layout import PRINT
from cnnlab.report.latex import comment, esc, pct, pm, pp
from cnnlab.report.sections.diagnostics import face_confusion_figure, face_confusion_sentence
from cnnlab.report.supplement import place

MLP_NAMES = {mlp_group(h): f"MLP, {h} hidden" for h in WEIGHT_STUDY_HIDDEN}
ORDER = {  # the Part 2 groups in the report's order, as the run-id appendix names them
    **MLP_NAMES,
    "cnn": "small CNN",
    "features": "conv4 features + FC head",
    "finetune": "fine-tuned",
}


def alexnet_label(ctx: ReportContext) -> str:
    """'ImageNet-pretrained AlexNet' or 'untrained AlexNet (random weights)', for the text."""
    return "ImageNet-pretrained AlexNet" if ctx.part2.pretrained else "\\textbf{untrained AlexNet} (random weights)"


def short_alexnet(ctx: ReportContext) -> str:
    return "pretrained AlexNet" if ctx.part2.pretrained else "untrained AlexNet"


def acc(stats: Mapping[str, float], key: str = "test_acc", unit: bool = True) -> str:
    """mean +- std (n) of `key` in aggregated stats (`RunGroup.stats`, `RunGroup.start`)."""
    return pm(stats.get(f"{key}_mean"), stats.get(f"{key}_std"), n=int(stats["n"])) + (r"\,\%" if unit else "")


def seeds_text(group: RunGroup) -> str:
    return f"$n={group.n}$ seed{'s' if group.n > 1 else ''}"


def results_table(ctx: ReportContext) -> str:
    p2 = ctx.part2.groups
    short = short_alexnet(ctx)
    names = {
        **MLP_NAMES,
        "cnn": "small CNN (MLP recipe)",
        "features": f"{short}: conv4 + head",
        "finetune": f"{short}: fine-tuned",
    }
    size = ctx.part2.faces.get("alexnet_input", 227)
    inputs = {**{k: "$28^2$ gray" for k in MLP_NAMES}, "cnn": "$28^2$ gray"}
    ns = "/".join(sorted({str(p2[k].n) for k in ORDER if k in p2}))
    lines = [comment(f"{k}: runs {' '.join(p2[k].run_ids)}") for k in ORDER if k in p2]
    lines += [
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{Face classification accuracy (\\%; mean\\,$\\pm$\\,std over $n={ns}$ seed{'' if ns == '1' else 's'}). {_provenance_short(ctx)} "
        f"Epoch: the epoch kept ({_kept_by(p2)}){_epoch0_note(p2)}.}}",
        "\\label{tab:part2}",
        "\\small",
        "\\begin{tabular}{@{}llrrrr@{}}",
        "\\toprule",
        r"model & input & train & validation & test & epoch \\",
        "\\midrule",
    ]
    for k in ORDER:
        if k not in p2:
            continue
        g = p2[k]
        cells = [
            names[k],
            inputs.get(k, f"${size}^2$ RGB"),
            acc(g.stats, "train_acc", False),
            acc(g.stats, "val_acc", False),
            acc(g.stats, "test_acc", False),
            f"{g.summary.get('best_epoch', '')}/{g.summary.get('epochs_run', '')}",
        ]
        lines.append(" & ".join(cells) + r" \\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines)


def _kept_by(p2: Mapping[str, RunGroup]) -> str:
    """How the epochs in the table were chosen: by the monitor every Part 2 run used (or each model's)."""
    by = {p2[k].summary.get("selected_by", "val_acc") for k in ORDER if k in p2}
    return MONITOR_BEST.get(by.pop(), "by validation") if len(by) == 1 else "by each model's validation criterion"


def _epoch0_note(p2: Mapping[str, RunGroup]) -> str:
    started = "finetune" in p2 and p2["finetune"].start is not None
    return "; the fine-tuned model's epoch 0 is its 2.2 network" if started else ""


def _provenance_short(ctx: ReportContext) -> str:
    f = ctx.part2.faces
    people = len(f.get("people", []))
    data = "Olivetti faces" if f.get("kind") == "olivetti" else "FaceScrub faces"
    return f"{data}, $K={people}$ people."


INIT_TEXT = {
    "normal-0.01": "drawn from $\\mathcal{N}(0, 0.01^2)$, biases zero: small weights, so the pictures of 2.3 show what training put there",
    "xavier-uniform": "Glorot-uniform with the gain of the activation, biases zero",
    "xavier-normal": "Glorot-normal with the gain of the activation, biases zero",
    "kaiming-normal": "He-normal (fan-in), biases zero",
    "torch-default": "PyTorch's default $U(-1/\\sqrt{\\text{fan-in}}, 1/\\sqrt{\\text{fan-in}})$",
}


def _mlp_recipe(config: dict, arch: dict) -> dict[str, str]:
    """The 2.1 recipe in words, from the run's resolved config (config.json): preprocessing, augmentation,
    regularisation and how training ends."""
    m, train = config.get("mlp", {}), config.get("train", {})
    per_image = (
        (
            "each face is first standardised by its own mean and standard deviation over its pixels (this removes the "
            "brightness and contrast differences between photographs); "
        )
        if m.get("per_image")
        else ""
    )
    std = {
        "pixel": "the network then subtracts the training set's mean face and divides by each pixel's standard deviation",
        "channel": "the network then subtracts the training set's mean and divides by its standard deviation",
        "none": "the network uses the pixels as they are",
    }.get(m.get("standardize", "pixel"), "")
    aug = [
        a
        for a, on in (
            ("random left--right flips (faces are nearly symmetric)", m.get("flip")),
            (f"random shifts of up to {m.get('shift')} pixels", m.get("shift")),
        )
        if on
    ]
    augmentation = (
        "Each training mini-batch is augmented with " + " and ".join(aug) + "." if aug else "No data augmentation."
    )
    opt = train.get("optimizer", {})
    name = OPTIMIZER_NAMES.get(opt.get("name"), esc(opt.get("name", "")))
    stop = train.get("early_stopping", {})
    monitor = "val_acc" if stop.get("monitor", "val_acc") == "val_acc" else "val_loss"
    ends = (
        f"at most {train.get('epochs', '')} epochs, stopped early after {stop['patience']} epochs without improvement in {MONITOR_NAMES[monitor]}"
        if stop.get("patience")
        else f"{train.get('epochs', '')} epochs"
    )
    training = (
        (
            f"{name}, learning rate {opt.get('lr', 0):g}, L2 weight decay {opt.get('weight_decay', 0):g}, mini-batches of "
            f"{train.get('batch_size', '')}, {ends}; the weights of the epoch with the {MONITOR_BEST[monitor]} are kept"
        )
        if opt
        else ""
    )
    drop = f", dropout {m['dropout']:g} on the hidden units" if m.get("dropout") else ""
    return {
        "per_image": per_image,
        "standardize": std,
        "augmentation": augmentation,
        "training": training,
        "dropout": drop,
    }


def section_mlp(ctx: ReportContext, figs: Mapping[str, str]) -> str:
    g, g8 = ctx.part2.main_mlp, ctx.part2.wide_mlp
    arch = g.summary.get("architecture", {})
    config = g.config or {}
    size, ch = arch.get("image_size", 28), arch.get("channels", 1)
    k = arch.get("num_classes", len(ctx.part2.faces.get("people", [])))
    init = arch.get("init", g.summary.get("init", ""))
    r = _mlp_recipe(config, arch)
    training = r["training"] or esc(g.summary.get("description", ""))
    return rf"""
\subsection{{A multilayer perceptron on $28\times28$ faces}}
\textbf{{Preprocessing.}} Each face crop is converted to {"grayscale" if ch == 1 else "RGB"}, resized to ${size}\times{size}$
(bilinear) and scaled to $[0,1]$; {r["per_image"]}{r["standardize"]} (all of it inside the model, so a saved model takes raw
images), and the image is flattened to {arch.get("input_dim", ch * size * size)} inputs. {r["augmentation"]}
\textbf{{Architecture.}} One fully connected hidden layer of {arch.get("hidden", MAIN_MLP)} units and a linear output layer with
$K={k}$ logits, one per person ({ch * size * size}--{arch.get("hidden", MAIN_MLP)}--{k}){r["dropout"]}, softmax cross-entropy loss.
\textbf{{Activation.}} {esc(arch.get("activation", "tanh"))} on the hidden units.
\textbf{{Initialisation.}} Weights {INIT_TEXT.get(init, esc(init))}.
\textbf{{Training.}} {training}.
{recipe_text(ctx)}

\textbf{{Results.}} The learning curves of the training, validation and test sets are in Figure~\ref{{fig:curves}}.
The {MAIN_MLP}-unit MLP reaches \textbf{{{acc(g.stats)} test accuracy}} ({seeds_text(g)}; train {acc(g.stats, "train_acc")},
validation {acc(g.stats, "val_acc")}); with {WEIGHT_STUDY_HIDDEN[-1]} units it reaches {acc(g8.stats)} ({pp(g8.mean("test_acc") - g.mean("test_acc"))} points).
{_mlp_comment(g)}

{results_table(ctx)}
{place(ctx, recipe_table(ctx), part=1)}

\begin{{figure}}[t]
\centering
\begin{{subfigure}}[b]{{{PRINT["part2_curves"].tex}}}\centering
\includegraphics[width=\linewidth]{{figures/{figs["part2_curves"]}}}
\caption{{Learning curves: training, validation and test accuracy per epoch (mean over seeds, band $\pm$1 std);
epoch 0 of the fine-tuned model is the 2.2 network.}}
\label{{fig:curves}}
\end{{subfigure}}\hfill
\begin{{subfigure}}[b]{{{PRINT["depth"].tex}}}\centering
\includegraphics[width=\linewidth]{{figures/{figs["depth"]}}}
\caption{{The 2.2 head on each AlexNet layer pooled to ${ctx.part2.depth["grid"]}\times{ctx.part2.depth["grid"]}$ (test: mean\,$\pm$\,SE).}}
\label{{fig:depth}}
\end{{subfigure}}
\caption{{The Part 2 models.{" The AlexNet models use an untrained AlexNet (random weights)." if not ctx.part2.pretrained else ""}}}
\label{{fig:part2}}
\end{{figure}}
"""


ROW_NAMES = {  # (per-image standardisation, augmentation) -> the grid table's row label
    (False, False): "pixel std., no augm.",
    (False, True): "pixel std., flips + shifts",
    (True, False): "per-image std., no augm.",
    (True, True): "per-image std., flips + shifts",
}


def recipe_text(ctx: ReportContext) -> str:
    """How 2.1's recipe was chosen: the grid, the rule, the choice (validation only), and test once."""
    r = ctx.part2.recipes
    rows = r["rows"]
    chosen = next(row for row in rows if row["chosen"])
    n = chosen["n"]
    val = pm(chosen["val_acc_mean"], chosen["val_acc_se"], n=n)
    return (
        comment(f"2.1 recipe grid: {r['grid']}; rule: {r['rule']}")
        + "\n"
        + f"\\textbf{{Choosing the recipe.}} These settings were chosen on validation alone: the {len(rows)} recipes of "
        f"Table~\\ref{{tab:recipes}} ({MAIN_MLP} hidden units each) were trained on the same {n} seed{'s' if n > 1 else ''} "
        "without ever evaluating the test split, and the rule (highest mean validation accuracy; ties by the lower "
        f"validation loss, then grid order) picked \\emph{{{esc(chosen['recipe'])}}} at {val}\\,\\% (mean\\,$\\pm$\\,SE). "
        "Only its runs below evaluate the test split, once."
    )


def recipe_table(ctx: ReportContext) -> str:
    """The 2.1 grid as a compact table: rows preprocessing x augmentation, columns L2 x learning rate, cells the
    mean validation accuracy over the seeds; the chosen recipe in bold."""
    rows = ctx.part2.recipes["rows"]
    if not all(k in rows[0] for k in ("per_image", "augment", "weight_decay", "lr")):
        return ""
    row_keys = list(dict.fromkeys((r["per_image"], r["augment"]) for r in rows))
    col_keys = sorted({(r["weight_decay"], r["lr"]) for r in rows})
    cell = {((r["per_image"], r["augment"]), (r["weight_decay"], r["lr"])): r for r in rows}
    header = " & ".join(f"L2 {wd:g}, lr {lr:g}" for wd, lr in col_keys)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        f"\\caption{{2.1's recipe grid: mean validation accuracy (\\%) of the {MAIN_MLP}-unit MLP over $n={rows[0]['n']}$ "
        "seeds (test never evaluated); bold: chosen.}",
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


def _mlp_comment(g: RunGroup) -> str:
    gap = g.mean("train_acc") - g.mean("test_acc")
    if g.mean("train_acc") > 0.97 and gap > 0.05:
        return (
            f"Training accuracy reaches {pct(g.mean('train_acc'))}\\,\\% while test accuracy levels off {pct(gap)} points lower: "
            "with few faces per person the MLP learns person-specific pixel templates, which generalise as long as pose and "
            "lighting stay close to those of the training faces."
        )
    return f"Train and test accuracy differ by {pct(gap)} points: the L2 penalty keeps the MLP from memorising the training faces."


def _train_per_person(ctx: ReportContext) -> str:
    counts = ctx.part2.faces.get("counts") or {}
    train = sorted({c[0] for c in counts.values()})
    return "/".join(map(str, train)) if train else "a few"


def section_weights(ctx: ReportContext) -> str:
    u = ctx.part2.mlp_units
    units = u["units"]
    parts = []
    for hidden, rows in units.items():
        desc = "; ".join(f"unit {r['unit']} favours {esc(r['person'])} ($r={r['corr']:.2f}$)" for r in rows)
        parts.append(f"{hidden} hidden units: {desc}")
    mean_r = {h: sum(abs(r["corr"]) for r in rows) / max(1, len(rows)) for h, rows in units.items()}
    hs = list(mean_r)
    cmp = ""
    if len(hs) == 2 and abs(mean_r[hs[0]] - mean_r[hs[1]]) < 0.03:
        cmp = (
            f"Both networks have equally template-like units (mean $|r|$ {mean_r[hs[0]]:.2f} and {mean_r[hs[1]]:.2f}): the number of "
            "hidden units changes how many templates there are, not what a selective unit looks like."
        )
    elif len(hs) == 2:
        a, b = hs
        more = a if mean_r[a] > mean_r[b] else b
        cmp = (
            f"The units of the {more}-unit network resemble their person more (mean $|r|$ {mean_r[a]:.2f} for {a} and "
            f"{mean_r[b]:.2f} for {b} units): "
            + (
                "with fewer units each one must carry a whole identity, so it becomes a cleaner template; with more units the "
                "work is spread and single units stay closer to their small random initialisation."
                if more == min(hs, key=int)
                else "with more units, each one can specialise on a single person and become a sharper template."
            )
        )
    ids = " ".join(f"{h}: {rid}" for h, rid in u.get("runs", {}).items())
    return rf"""
\subsection{{What the hidden units look for}}
Figure~\ref{{fig:units}} shows two hidden units of each MLP of 2.1 (seed 0), chosen as the most \emph{{selective}} units:
those whose outgoing weight to one person exceeds their weight to every other person by the largest margin (top: the
784 input weights; bottom: the favoured person's mean training face minus everyone's, and their correlation $r$).
{"; ".join(parts)}. They are interesting because they are readable: a unit that favours one person is a template of what
distinguishes that person from the average face (brighter hair, glasses or face outline), trained into the weights by the
L2 penalty, which removes the weight noise that does not help the classification.
{cmp} {face_confusion_sentence(ctx)}

{comment("weight pictures from runs " + ids)}
{place(ctx, units_figure(u), part=1)}
{place(ctx, face_confusion_figure(ctx), part=1)}
"""


def units_figure(u: Mapping) -> str:
    """The MLPs' selective hidden units (label fig:units)."""
    return rf"""\begin{{figure}}[t]
\centering
\includegraphics[width={PRINT["mlp_units"].tex}]{{figures/{u["figure"]}}}
\caption{{What the MLPs' hidden units look for (2.3): input weights of two selective hidden units per MLP (top) and the
favoured person's mean face minus the mean of all faces (bottom); $r$: their correlation.}}
\label{{fig:units}}
\end{{figure}}"""
