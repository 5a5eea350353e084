"""Part 2 of the report on AlexNet (questions 2.2, 2.4, 2.5): fixed features with a trained head, fine-tuning
(paired against the 2.2 network it started from), and guided backprop. An untrained AlexNet is named as
such in every sentence."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cnnlab.core.stats import compare
from cnnlab.report.context import ReportContext, RunGroup
from cnnlab.report.figures.layout import PRINT
from cnnlab.report.latex import comment, esc, path, pct, pp
from cnnlab.report.sections.faces import acc, alexnet_label, seeds_text, short_alexnet


def section_features(ctx: ReportContext) -> str:
    g, mlp = ctx.part2.features, ctx.part2.main_mlp
    s = g.summary
    size = ctx.part2.faces.get("alexnet_input", 227)
    d = g.mean("test_acc") - mlp.mean("test_acc")
    if ctx.part2.pretrained:
        meaning = (
            f"The ImageNet features {'beat' if d > 0 else 'do not beat'} the pixel MLP ({pp(d)} points): features learned "
            "on a million natural images transfer to faces, because edges, textures and part detectors at conv4 are generic."
        )
    else:
        meaning = (
            f"Compared with the pixel MLP this is {pp(d)} points. \\emph{{These are not transfer-learning results}}: with "
            "random weights conv4 is a fixed random projection of the image, so the head measures how much identity "
            "survives random convolutions, not what ImageNet training contributes."
        )
    return rf"""
\subsection{{AlexNet as a fixed feature extractor}}
\textbf{{System.}} Each face is resized to ${size}\times{size}$ RGB (grayscale faces are replicated to three channels),
normalised with the ImageNet mean and standard deviation and passed through the convolutional layers of the
{alexnet_label(ctx)} up to \textbf{{{esc(s.get("layer", "conv4"))}}} (after its ReLU). The
{s.get("feature_dim", "")} activations per face are computed once and cached; a fully connected head
({esc(s.get("model", ""))}, dropout, softmax cross-entropy) is trained on them while AlexNet stays fixed.

\textbf{{Results.}} The head reaches \textbf{{{acc(g.stats)} test accuracy}} ({seeds_text(g)}; Table~\ref{{tab:part2}}).
{meaning}
"""


def section_finetune(ctx: ReportContext) -> str:
    g, feats = ctx.part2.finetune, ctx.part2.features
    s = g.summary
    pred = ctx.part2.predict
    top = pred["top"]
    d = g.mean("test_acc") - feats.mean("test_acc")
    ft = (g.config or {}).get("finetune", {})
    freeze, scale = ft.get("freeze", s.get("freeze", "features")), ft.get("lr_scale", 0.1)
    what = {
        "features": "training its classifier on random pool5 features",
        "all-but-last": "training a new last layer on random fc7 features",
        "none": "training the whole randomly initialised network on a few faces",
    }.get(freeze, "this")
    untrained = (
        ""
        if ctx.part2.pretrained
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
        _from_features_text(ctx, g, g.start, scale)
        if g.start is not None
        else rf"""\textbf{{System.}} The {alexnet_label(ctx)} with its last layer replaced by a new $4096\to{len(ctx.part2.faces.get("people", []))}$
layer (one output per person, as in 2.2): {esc(s.get("model", ""))} (\texttt{{freeze={esc(freeze)}}}). {trained}
It reaches \textbf{{{acc(g.stats)} test accuracy}} ({seeds_text(g)}), {pp(d)} points against the fixed conv4 features of 2.2.{untrained}"""
    )
    return rf"""
\subsection{{Fine-tuning AlexNet}}
{system}

\textbf{{Using the network.}} A test face of {esc(pred["true"])}, saved as an image file (the input placeholder) and
classified with \texttt{{cnnlab predict}}, is ranked {esc(top[0][0]) if top else "?"} first ({correct}; Figure~\ref{{fig:predict}}).

{comment("prediction example: run " + run)}
{comment("guided backprop: run " + ctx.part2.explain["run"])}
\begin{{figure}}[t]
\centering
\begin{{subfigure}}[b]{{0.36\linewidth}}\centering
\begin{{minipage}}[c]{{0.36\linewidth}}\includegraphics[width=\linewidth]{{figures/{pred["image"]}}}\end{{minipage}}\hfill
\begin{{minipage}}[c]{{0.6\linewidth}}\scriptsize
\begin{{tabular}}{{@{{}}lr@{{}}}}\toprule person & probability \\ \midrule
{rows}
\bottomrule\end{{tabular}}
\end{{minipage}}\\[2pt]
{{\scriptsize\texttt{{\$ cnnlab predict {esc(pred["image"])} -{{}}-checkpoint}} {path(Path(ctx.runs_root).name + "/" + run + "/model.pt")}}}
\caption{{One test face classified with \texttt{{cnnlab predict}} (top 3).}}
\label{{fig:predict}}
\end{{subfigure}}\hfill
\begin{{subfigure}}[b]{{{PRINT["guided_backprop"].tex}}}\centering
\includegraphics[width=\linewidth]{{figures/{ctx.part2.explain["figure"]}}}
\caption{{Guided backpropagation for the predicted person on {len(ctx.part2.explain["items"])} test faces (2.5; correct predictions
first, then wrong ones).}}
\label{{fig:gbp}}
\end{{subfigure}}
\caption{{The fine-tuned {short_alexnet(ctx)} of 2.4 on test faces.}}
\end{{figure}}
"""


def _layers(names: list) -> str:
    names = [esc(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else "none"


def _from_features_text(ctx: ReportContext, g: RunGroup, start: Mapping[str, float], scale: float) -> str:
    """2.4 when it starts from the 2.2 network (finetune.freeze = from-features): the system, 2.2 against 2.4 paired
    by seed, and, when training added nothing, the evidence (the range test, the 2.2 network's training accuracy)."""
    s, cfg = g.summary, (g.config or {}).get("train", {})
    trained, frozen = s.get("trained_layers", []), s.get("frozen_layers", [])
    lr = (cfg.get("optimizer") or {}).get("lr", 0)
    patience = (cfg.get("early_stopping") or {}).get("patience")
    warmup = (cfg.get("scheduler") or {}).get("warmup_epochs", 0)
    budget = (
        f"at most {cfg.get('epochs', '')} epochs, stopped after {patience} without a gain in validation accuracy"
        if patience
        else f"{cfg.get('epochs', '')} epochs"
    ) + (f", after a {warmup}-epoch linear warm-up" if warmup else "")
    gains = g.gains
    n = len(g.best_epochs)
    kept0 = sum(1 for e in g.best_epochs if e == 0)
    paired = compare(gains.get("test_acc") or [0.0], [0.0] * len(gains.get("test_acc") or [0.0]))
    gain_test = pp(paired.diff) + (
        f"\\,$\\pm$\\,{pct(paired.se)} (mean\\,$\\pm$\\,SE, $n={paired.n}$; \\textbf{{{esc(paired.verdict)}}})"
        if paired.has_error_bar
        else ""
    )
    untrained = (
        ""
        if ctx.part2.pretrained
        else (
            f" With an untrained AlexNet, {_layers(trained)} start{'s' if len(trained) == 1 else ''} from random weights: this is "
            "supervised training of a small convolutional network, not transfer learning."
        )
    )
    if kept0 == n:
        results = (
            f"In every seed ({seeds_text(g)}) the starting point stayed the best epoch: training {_layers(trained)} end to end "
            f"never raised validation accuracy above 2.2's ({acc(start, 'val_acc')}), so the fine-tuned network is the 2.2 "
            f"network, with \\textbf{{{acc(g.stats)} test accuracy}} (the flat validation curve of Figure~\\ref{{fig:curves}}). "
            + _why_nothing(ctx, start)
        )
    else:
        results = (
            f"From {acc(start, 'val_acc')} validation and {acc(start, 'test_acc')} test accuracy (2.2) the network goes to "
            f"{acc(g.stats, 'val_acc')} and \\textbf{{{acc(g.stats)} test accuracy}} ({seeds_text(g)}). End-to-end training changed test "
            f"accuracy by {gain_test} points, paired by seed"
            + (f"; in {kept0} of {n} seeds the starting point stayed the best epoch." if kept0 else ".")
        )
    return rf"""\textbf{{System.}} Fine-tuning trains the 2.2 network of the same seed ({short_alexnet(ctx)} up to
{esc(s.get("layer", "conv4"))} and its head) end to end: {_layers(trained)} at {scale:g} times the head's learning rate
({lr:g}), {_layers(frozen)} frozen (read from 2.2's feature cache), {budget}. Epoch~0, the starting point, competes for
the best epoch by validation accuracy, so the result is never worse than 2.2 on validation.
\textbf{{Results.}} {results}{untrained}"""


def _why_nothing(ctx: ReportContext, start: Mapping[str, float]) -> str:
    """The evidence for a fine-tuning that never improved: the 2.2 network's training accuracy and the range test."""
    found = ctx.part2.finetune_lr
    fit = (
        f"The 2.2 network already classifies {pct(start['train_acc_mean'])}\\,\\% of the training faces correctly, so its "
        "training loss leaves little gradient to follow"
    )
    if not found:
        return fit + "."
    trend = (
        f"the LR range test on {esc(found['trained_layers'])} (training split) finds the smoothed training loss lowest at "
        f"lr {found['min_lr']:.1e} and rising {'until it diverges at' if found.get('diverged') else 'up to'} "
        f"{found['last_lr']:.1e}: no learning rate lowers it"
        if found["min_lr"] <= 10 * found.get("start_lr", found["min_lr"])  # lowest within the first decade of LR
        else f"the LR range test on {esc(found['trained_layers'])} (training split) lowers the smoothed training loss from "
        f"{found['start_loss']:.3f} to {found['min_loss']:.3f} (lowest at lr {found['min_lr']:.1e}): training can still move "
        "the network, but not to a higher validation accuracy"
    )
    return f"{fit}; {trend}."


def section_explain(ctx: ReportContext) -> str:
    e = ctx.part2.explain
    items = e["items"]
    share = sum(i["centre_share"] for i in items) / max(1, len(items))
    right = sum(i["true"] == i["pred"] for i in items)
    wrong = len(items) - right
    chosen = (
        f"its {right} most confidently correct and {wrong} most confidently wrong (green and red titles)"
        if wrong
        else f"its {right} most confidently correct (it makes no mistake)"
    )
    if ctx.part2.pretrained:
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
Figure~\ref{{fig:gbp}} shows guided backpropagation (the input gradient of the predicted class score, every ReLU passing
back only positive gradients) for {len(items)} test faces on the fine-tuned network of 2.4, {chosen}. On average {pct(share)}\,\% of the absolute attribution lies
in the central quarter of the image, where eyes, nose and mouth are (uniform: 25\,\%). {comment_text}

"""
