"""Part 2 of the report (questions 2.1-2.5) from the context: MLP, AlexNet features, fine-tuning,
weight pictures and guided backprop. An untrained AlexNet is named as such in every sentence,
caption and table row that involves it; its numbers are never called transfer learning."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cnnlab.core.stats import summarize
from cnnlab.core.train.config import MONITOR_BEST, MONITOR_NAMES, OPTIMIZER_NAMES
from cnnlab.report.latex import comment, esc, path, pct, pm, pp
from cnnlab.report.sections.diagnostics import face_confusion_subfigure

ORDER = {
    "mlp300": "MLP, 300 hidden",
    "mlp800": "MLP, 800 hidden",
    "features": "conv4 features + FC head",
    "finetune": "fine-tuned",
}


def alexnet_label(ctx: dict) -> str:
    """'ImageNet-pretrained AlexNet' or 'untrained AlexNet (random weights)', for the text."""
    return (
        "ImageNet-pretrained AlexNet"
        if ctx["alexnet"].get("pretrained")
        else "\\textbf{untrained AlexNet} (random weights)"
    )


def short_alexnet(ctx: dict) -> str:
    return "pretrained AlexNet" if ctx["alexnet"].get("pretrained") else "untrained AlexNet"


def acc(group: dict, key: str = "test_acc", unit: bool = True) -> str:
    return pm(group.get(f"{key}_mean"), group.get(f"{key}_std"), n=group["n"]) + (r"\,\%" if unit else "")


def _seeds(group: dict) -> str:
    return f"$n={group['n']}$ seed{'s' if group['n'] > 1 else ''}"


def results_table(ctx: dict) -> str:
    p2 = ctx["part2"]
    short = short_alexnet(ctx)
    names = {
        "mlp300": "MLP, 300 hidden",
        "mlp800": "MLP, 800 hidden",
        "features": f"{short}: conv4 + head",
        "finetune": f"{short}: fine-tuned",
    }
    size = ctx["faces"].get("alexnet_input", 227)
    inputs = {"mlp300": "$28^2$ gray", "mlp800": "$28^2$ gray"}
    ns = "/".join(sorted({str(p2[k]["n"]) for k in ORDER if k in p2}))
    lines = [comment(f"{k}: runs {' '.join(p2[k]['run_ids'])}") for k in ORDER if k in p2]
    lines += [
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{Face classification accuracy (\\%; mean\\,$\\pm$\\,std over $n={ns}$ seed{'' if ns == '1' else 's'}). {_provenance_short(ctx)} "
        f"Epoch: the epoch kept ({_kept_by(p2)}) of those trained{_epoch0_note(p2)}.}}",
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
            acc(g, "train_acc", False),
            acc(g, "val_acc", False),
            acc(g, "test_acc", False),
            f"{g['summary'].get('best_epoch', '')}/{g['summary'].get('epochs_run', '')}",
        ]
        lines.append(" & ".join(cells) + r" \\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines)


def _kept_by(p2: dict) -> str:
    """How the epochs in the table were chosen: by the monitor every Part 2 run used (or each model's)."""
    by = {p2[k]["summary"].get("selected_by", "val_acc") for k in ORDER if k in p2}
    return MONITOR_BEST.get(by.pop(), "by validation") if len(by) == 1 else "by each model's validation criterion"


def _epoch0_note(p2: dict) -> str:
    return (
        "; epoch 0 of the fine-tuned model is the 2.2 network it starts from"
        if "start" in p2.get("finetune", {})
        else ""
    )


def _provenance_short(ctx: dict) -> str:
    f = ctx["faces"]
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


def section_mlp(ctx: dict, figs: Mapping[str, str]) -> str:
    p2 = ctx["part2"]
    g, g8 = p2["mlp300"], p2["mlp800"]
    arch = g["summary"].get("architecture", {})
    config = g.get("config") or {}
    size, ch = arch.get("image_size", 28), arch.get("channels", 1)
    k = arch.get("num_classes", len(ctx["faces"].get("people", [])))
    init = arch.get("init", g["summary"].get("init", ""))
    r = _mlp_recipe(config, arch)
    training = r["training"] or esc(g["summary"].get("description", ""))
    return rf"""
\subsection{{A multilayer perceptron on $28\times28$ faces}}
\textbf{{Preprocessing.}} Each face crop is converted to {"grayscale" if ch == 1 else "RGB"}, resized to ${size}\times{size}$
(bilinear) and scaled to $[0,1]$; {r["per_image"]}{r["standardize"]} (all of it inside the model, so a saved model takes raw
images), and the image is flattened to {arch.get("input_dim", ch * size * size)} inputs. {r["augmentation"]}
\textbf{{Architecture.}} One fully connected hidden layer of {arch.get("hidden", 300)} units and a linear output layer with
$K={k}$ logits, one per person ({ch * size * size}--{arch.get("hidden", 300)}--{k}){r["dropout"]}, softmax cross-entropy loss.
\textbf{{Activation.}} {esc(arch.get("activation", "tanh"))} on the hidden units.
\textbf{{Initialisation.}} Weights {INIT_TEXT.get(init, esc(init))}.
\textbf{{Training.}} {training}.

\textbf{{Results.}} The learning curves of the training, validation and test sets are in Figure~\ref{{fig:part2}}.
The 300-unit MLP reaches \textbf{{{acc(g)} test accuracy}} ({_seeds(g)}; train {acc(g, "train_acc")},
validation {acc(g, "val_acc")}); with 800 units it reaches {acc(g8)} ({pp(g8["test_acc_mean"] - g["test_acc_mean"])} points).
{_mlp_comment(g)}

{results_table(ctx)}

\begin{{figure}}[t]
\centering
\includegraphics[width=\linewidth]{{figures/{figs["part2_curves"]}}}
\caption{{Learning curves of the Part 2 models: training, validation and test accuracy per epoch (mean over seeds, band $\pm$1 std).
{"The AlexNet models use an untrained AlexNet (random weights)." if not ctx["alexnet"].get("pretrained") else ""}}}
\label{{fig:part2}}
\end{{figure}}
"""


def _mlp_comment(g: dict) -> str:
    gap = g["train_acc_mean"] - g["test_acc_mean"]
    if g["train_acc_mean"] > 0.97 and gap > 0.05:
        return (
            f"Training accuracy reaches {pct(g['train_acc_mean'])}\\,\\% while test accuracy levels off {pct(gap)} points lower: "
            "with few faces per person the MLP learns person-specific pixel templates, which generalise as long as pose and "
            "lighting stay close to those of the training faces."
        )
    return f"Train and test accuracy differ by {pct(gap)} points: the L2 penalty keeps the MLP from memorising the training faces."


def _train_per_person(ctx: dict) -> str:
    counts = ctx["faces"].get("counts") or {}
    train = sorted({c[0] for c in counts.values()})
    return "/".join(map(str, train)) if train else "a few"


def section_features(ctx: dict) -> str:
    p2 = ctx["part2"]
    g, mlp = p2["features"], p2["mlp300"]
    s = g["summary"]
    size = ctx["faces"].get("alexnet_input", 227)
    d = g["test_acc_mean"] - mlp["test_acc_mean"]
    if ctx["alexnet"].get("pretrained"):
        meaning = (
            f"The ImageNet features {'beat' if d > 0 else 'do not beat'} the pixel MLP ({pp(d)} points): features learned "
            "on a million natural images transfer to faces, because edges, textures and part detectors at conv4 are generic."
        )
    else:
        meaning = (
            f"Compared with the pixel MLP this is {pp(d)} points. \\emph{{These are not transfer-learning results}}: the "
            "AlexNet weights are random (no ImageNet weights were available), so conv4 is a fixed random projection of "
            "the image; what the head learns from it measures how much identity survives random convolutions and "
            "pooling, not what ImageNet training contributes."
        )
    return rf"""
\subsection{{AlexNet as a fixed feature extractor}}
\textbf{{System.}} Each face is resized to ${size}\times{size}$ RGB (grayscale faces are replicated to three channels),
normalised with the ImageNet mean and standard deviation and passed through the convolutional layers of the
{alexnet_label(ctx)} up to \textbf{{{esc(s.get("layer", "conv4"))}}} (after its ReLU). The
{s.get("feature_dim", "")} activations per face are computed once and cached; a fully connected head
({esc(s.get("model", ""))}, dropout, softmax cross-entropy) is trained on them while AlexNet stays fixed.

\textbf{{Results.}} The head reaches \textbf{{{acc(g)} test accuracy}} ({_seeds(g)}; Table~\ref{{tab:part2}},
Figure~\ref{{fig:part2}}). {meaning}
"""


def section_weights(ctx: dict) -> str:
    u = ctx["mlp_units"]
    units = u["units"]
    parts = []
    for hidden, rows in units.items():
        desc = "; ".join(
            f"unit {r['unit']} favours {esc(r['person'])} (selectivity {r['score']:.3f}, $r={r['corr']:.2f}$)"
            for r in rows
        )
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
those whose outgoing weight to one person exceeds their weight to every other person by the largest margin. Top: the
unit's 784 input weights as a $28\times28$ image (red positive, blue negative). Bottom: the mean training face of the
person it favours minus the mean face of everyone, with the correlation $r$ between the two. {"; ".join(parts)}.
They are interesting because they are readable: a unit that favours one person is a template of what distinguishes that
person from the average face (positive where that person is brighter, e.g.\ hair, glasses or face outline, negative where
darker), trained into the weights by the L2 penalty, which removes the weight noise that does not help the classification.
{cmp}

{comment("weight pictures from runs " + ids)}
\begin{{figure}}[t]
\centering
\begin{{subfigure}}[b]{{0.62\linewidth}}\centering
\includegraphics[width=\linewidth]{{figures/{u["figure"]}}}
\caption{{Input weights of two selective hidden units per MLP (top) and the favoured person's mean face minus the
mean of all faces (bottom); $r$: their correlation.}}
\label{{fig:units}}
\end{{subfigure}}\hfill
{face_confusion_subfigure(ctx, 0.32)}
\caption{{What the MLPs' hidden units look for (2.3), and what the best face model confuses.}}
\end{{figure}}
"""


def section_finetune(ctx: dict) -> str:
    p2 = ctx["part2"]
    g, feats = p2["finetune"], p2["features"]
    s = g["summary"]
    pred = ctx["predict"]
    top = pred["top"]
    d = g["test_acc_mean"] - feats["test_acc_mean"]
    ft = (g.get("config") or {}).get("finetune", {})
    freeze, scale = ft.get("freeze", s.get("freeze", "features")), ft.get("lr_scale", 0.1)
    what = {
        "features": "training its classifier on random pool5 features",
        "all-but-last": "training a new last layer on random fc7 features",
        "none": "training the whole randomly initialised network on a few faces",
    }.get(freeze, "this")
    untrained = (
        ""
        if ctx["alexnet"].get("pretrained")
        else (f" Because AlexNet is untrained here, {what} is a random-feature baseline, not transfer learning.")
    )
    rows = "\n".join(f"{esc(n)} & {p:.3f} \\\\" for n, p in top)
    correct = (
        "correct"
        if top and top[0][0] == pred["true"]
        else f"wrong; {esc(pred['true'])} is at rank "
        + str(next((i + 1 for i, (n, _) in enumerate(top) if n == pred["true"]), f"> {len(top)}"))
    )
    run = pred["run"]
    trained = {
        "features": f"The convolutional layers are frozen; fc6 and fc7 continue training at {scale:g} times the learning rate of the new layer.",
        "all-but-last": "Everything but the new layer is frozen: only the new layer trains.",
        "none": f"All layers train, the pretrained ones at {scale:g} times the learning rate of the new layer.",
    }.get(freeze, "")
    system = (
        _from_features_text(ctx, g, scale)
        if "start" in g
        else rf"""\textbf{{System.}} The {alexnet_label(ctx)} with its last layer replaced by a new $4096\to{len(ctx["faces"].get("people", []))}$
layer (one output per person, as in 2.2): {esc(s.get("model", ""))} (\texttt{{freeze={esc(freeze)}}}). {trained}
It reaches \textbf{{{acc(g)} test accuracy}} ({_seeds(g)}), {pp(d)} points against the fixed conv4 features of 2.2.{untrained}"""
    )
    return rf"""
\subsection{{Fine-tuning AlexNet}}
{system}

\textbf{{Using the network.}} Figure~\ref{{fig:predict}} saves a test face of {esc(pred["true"])} as an image file (the input
placeholder) and classifies the file with \texttt{{cnnlab predict}}: the network ranks {esc(top[0][0]) if top else "?"} first ({correct}).

{comment("prediction example: run " + run)}
{comment("guided backprop: run " + ctx["explain"]["run"])}
\begin{{figure}}[t]
\centering
\begin{{subfigure}}[b]{{0.36\linewidth}}\centering
\begin{{minipage}}[c]{{0.36\linewidth}}\includegraphics[width=\linewidth]{{figures/{pred["image"]}}}\end{{minipage}}\hfill
\begin{{minipage}}[c]{{0.6\linewidth}}\scriptsize
\begin{{tabular}}{{@{{}}lr@{{}}}}\toprule person & probability \\ \midrule
{rows}
\bottomrule\end{{tabular}}
\end{{minipage}}\\[2pt]
{{\scriptsize\texttt{{\$ cnnlab predict {esc(pred["image"])} -{{}}-checkpoint}} {path(Path(ctx["runs_root"]).name + "/" + run + "/model.pt")}}}
\caption{{One test face classified with \texttt{{cnnlab predict}} (top 3).}}
\label{{fig:predict}}
\end{{subfigure}}\hfill
\begin{{subfigure}}[b]{{0.62\linewidth}}\centering
\includegraphics[width=\linewidth]{{figures/{ctx["explain"]["figure"]}}}
\caption{{Guided backpropagation for the predicted person on {len(ctx["explain"]["items"])} test faces (2.5; correct predictions
first, then wrong ones).}}
\label{{fig:gbp}}
\end{{subfigure}}
\caption{{The fine-tuned {short_alexnet(ctx)} of 2.4 on test faces.}}
\end{{figure}}
"""


def _layers(names: list) -> str:
    names = [esc(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else "none"


def _from_features_text(ctx: dict, g: dict, scale: float) -> str:
    """2.4 when it starts from the 2.2 network (finetune.freeze = from-features): the system, and 2.2 against 2.4."""
    s, start, cfg = g["summary"], g["start"], (g.get("config") or {}).get("train", {})
    trained, frozen = s.get("trained_layers", []), s.get("frozen_layers", [])
    lr = (cfg.get("optimizer") or {}).get("lr", 0)
    patience = (cfg.get("early_stopping") or {}).get("patience")
    budget = (
        f"at most {cfg.get('epochs', '')} epochs, stopped after {patience} without a gain in validation accuracy"
        if patience
        else f"{cfg.get('epochs', '')} epochs"
    )
    gains = g.get("gains", {})
    n = len(g.get("best_epochs", []))
    kept0 = sum(1 for e in g.get("best_epochs", []) if e == 0)
    gain = summarize(gains.get("test_acc") or [0.0])
    gain_test = pp(gain.mean) + (f"\\,$\\pm$\\,{pct(gain.std)}" if gain.n > 1 else "")
    untrained = (
        ""
        if ctx["alexnet"].get("pretrained")
        else (
            f" With an untrained AlexNet, {_layers(trained)} start{'s' if len(trained) == 1 else ''} from random weights: this is "
            "supervised training of a small convolutional network, not transfer learning."
        )
    )
    if kept0 == n:
        results = (
            f"In every seed ({_seeds(g)}) the starting point stayed the best epoch: training {_layers(trained)} end to end "
            f"never raised validation accuracy above 2.2's ({acc(start, 'val_acc')}), so the fine-tuned network is the 2.2 "
            f"network, with \\textbf{{{acc(g)} test accuracy}}."
        )
    else:
        results = (
            f"From {acc(start, 'val_acc')} validation and {acc(start, 'test_acc')} test accuracy (2.2) the network goes to "
            f"{acc(g, 'val_acc')} and \\textbf{{{acc(g)} test accuracy}} ({_seeds(g)}). End-to-end training changed test "
            f"accuracy by {gain_test} points (paired by seed)"
            + (f"; in {kept0} of {n} seeds the starting point stayed the best epoch." if kept0 else ".")
        )
    return rf"""\textbf{{System.}} Fine-tuning starts from the 2.2 network itself ({short_alexnet(ctx)} up to
{esc(s.get("layer", "conv4"))} and the trained head, from the 2.2 run of the same seed) and trains it end to end:
{_layers(trained)} at {scale:g} times the head's learning rate ({lr:g}); {_layers(frozen)} stay frozen, read from the
feature cache of 2.2. Training runs {budget}; epoch~0, the starting point, competes for the best epoch by validation
accuracy, so the result is never worse than 2.2 on validation.
\textbf{{Results.}} {results}{untrained}"""


def section_explain(ctx: dict) -> str:
    e = ctx["explain"]
    items = e["items"]
    share = sum(i["centre_share"] for i in items) / max(1, len(items))
    right = sum(i["true"] == i["pred"] for i in items)
    wrong = len(items) - right
    chosen = (
        f"its {right} most confidently correct and {wrong} most confidently wrong (green and red titles)"
        if wrong
        else f"its {right} most confidently correct (it makes no mistake)"
    )
    where = (
        "concentrated on the central quarter of the image"
        if share > 0.4
        else "spread over the whole image"
        if share < 0.3
        else "somewhat concentrated in the centre"
    )
    if ctx["alexnet"].get("pretrained"):
        comment_text = (
            "Guided backpropagation keeps only the paths that increase the class score, so the maps show the "
            "image structures (edges and textures) that the fine-tuned network uses as evidence for the person: "
            + (
                "mostly the inner face, i.e. identity cues rather than background or clothing."
                if share > 0.4
                else "a good part of it lies outside the inner face (hair, outline, background), cues that change between "
                "photographs and limit how well the model generalises."
            )
        )
    else:
        comment_text = (
            "With random AlexNet weights the maps can only reflect the architecture's sensitivity to local contrast "
            "(the edges of eyes, nostrils and mouth), not learned identity cues: they are a baseline for what the "
            "pretrained network adds."
        )
    return rf"""
\subsection{{Guided backpropagation}}
Figure~\ref{{fig:gbp}} shows guided backpropagation (the gradient of the predicted class score with respect to the input,
where every ReLU passes back only positive gradients for positive inputs) for {len(items)} test faces on the fine-tuned
network of 2.4, {chosen}. On average {pct(share)}\,\% of the absolute attribution lies
in the central quarter of the image, where eyes, nose and mouth are (a uniform map would put 25\,\% there): the evidence is
{where}. {comment_text}

"""
