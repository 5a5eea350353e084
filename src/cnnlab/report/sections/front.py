"""The report's front and back matter: provenance, abstract, protocol, set-up, discussion and the run appendix."""

from __future__ import annotations

from cnnlab.core.stats import BETTER, NO_EFFECT, VERDICT_RULE, WORSE, compare_records
from cnnlab.report.compare import acc, diff_text, gap
from cnnlab.report.context import ReportContext
from cnnlab.report.figures.layout import PRINT
from cnnlab.report.latex import esc, folder, pct
from cnnlab.report.sections import faces as p2
from cnnlab.report.supplement import place

LISTED_CLASSES = 12  # Part 1 classes named in the provenance sentence (the others are counted)


# ----------------------------------------------------------------------------- front matter
def provenance_lines(ctx: ReportContext) -> dict[str, str]:
    """One plain sentence each on where the art data, the face data and the AlexNet weights come from."""
    art, faces, alex = ctx.part1.art, ctx.part2.faces, ctx.part2.alexnet
    n = sum(art["counts"].values())
    sp = art["split"]
    if art["synthetic"]:
        art_line = (
            f"\\textbf{{Art data: synthetic.}} Part~1 uses \\texttt{{{esc(art['name'])}}}, a procedural stand-in for the "
            f"handout's paintings: {n} generated ${art['image_size']}\\times{art['image_size']}$ images in "
            f"{len(art['counts'])} classes that carry the handout's artist names and image counts. "
            "\\emph{All Part~1 numbers are measured on synthetic images, not on real paintings.}"
        )
    else:
        art_line = (
            f"\\textbf{{Art data: real images.}} Part~1 uses the {n} images of {len(art['counts'])} artists in "
            f"{folder(art['name'])}, downsampled to ${art['image_size']}\\times{art['image_size']}$"
            + (f" ({art['skipped']} unreadable files skipped)" if art.get("skipped") else "")
            + "."
        )
    listed = list(art["counts"].items())
    classes = ", ".join(f"{esc(name)} ({count})" for name, count in listed[:LISTED_CLASSES])
    if len(listed) > LISTED_CLASSES:  # the page budget: the list stays a few lines whatever the data
        classes += f" and {len(listed) - LISTED_CLASSES} more"
    folds = ctx.part1.network.get("folds", 5)
    art_line += (
        f" Classes (images): {classes}. Split: {sp['test']} test images (fixed) and {sp['train'] + sp['val']} others in {folds} "
        f"stratified folds of about {sp['val']}."
    )
    counts = faces.get("counts") or {}
    per = sorted({tuple(c) for c in counts.values()}, reverse=True)
    per_text = ", ".join("/".join(map(str, c)) for c in per)
    if faces.get("kind") == "olivetti":
        face_line = (
            f"\\textbf{{Face data: Olivetti, not FaceScrub.}} Part~2 uses the embedded Olivetti faces (AT\\&T "
            f"Laboratories Cambridge): {len(faces.get('people', []))} people, {per_text} train/validation/test faces per "
            "person, instead of the handout's FaceScrub actors with 70 training faces each."
        )
    else:
        face_line = (
            f"\\textbf{{Face data: FaceScrub.}} Part~2 uses {len(faces.get('people', []))} actors downloaded from the "
            f"FaceScrub lists into {folder(faces['source'])} (SHA-256 checked, cropped): {per_text} "
            "train/validation/test faces per actor."
        )
    if faces.get("subset"):
        face_line += " (Quick mode: a subset of the people.)"
    if alex.get("pretrained"):
        alex_line = (
            f"\\textbf{{AlexNet: ImageNet-pretrained}} weights ({esc(alex.get('source', ''))}, SHA-256 "
            f"\\texttt{{{esc(str(alex.get('sha256', ''))[:16])}}}\\dots)."
        )
    else:
        alex_line = (
            "\\textbf{AlexNet: untrained.} No ImageNet weights were available, so Part~2.2, 2.4 and 2.5 use an "
            f"\\textbf{{untrained AlexNet}} ({esc(alex.get('source', 'random weights'))}). "
            "\\emph{These are random-feature baselines, not transfer-learning results.}"
        )
    return {"art": art_line, "faces": face_line, "alexnet": alex_line}


def search_outcome(search: dict, starter: dict, short: bool = False) -> str:
    """One sentence on what the 1.6 search gave against the starter network, following the sign and the
    verdict of the paired test-accuracy difference (and saying so when the starter stayed the answer). `short`:
    the abstract's clause, lower case, after "The starter network reaches ...;"."""
    best = search["rows"][0]
    c = compare_records(best, starter, "test_acc")
    numbers = f"{acc(starter, 'test_acc')} $\\to$ {acc(best, 'test_acc')} test accuracy"
    if search.get("answer") == "starter":
        what = "found no configuration that beats the starter network on validation accuracy, so the starter network is its answer"
        return f"a hyperparameter search {what}." if short else f"The search of 1.6 {what} ({numbers})."
    verb = {
        BETTER: "improves on",
        WORSE: "falls below",
        NO_EFFECT: "ties",
    }.get(c.verdict, "is not clearly different from")
    if short:
        return f"a hyperparameter search's pick {verb} it ({numbers}, {diff_text(c)})."
    return f"The configuration the search of 1.6 picked {verb} the starter network ({numbers}, {diff_text(c)}, paired)."


def abstract(ctx: ReportContext) -> str:
    s = ctx.part1.suites
    base = s["baseline"]["rows"][0]
    parts = ctx.part2
    data = "synthetic stand-in paintings" if ctx.part1.synthetic else "real paintings"
    faces = "Olivetti faces" if ctx.part2.faces.get("kind") == "olivetti" else "FaceScrub faces"
    alex = (
        "an ImageNet-pretrained AlexNet"
        if ctx.part2.pretrained
        else "an \\emph{untrained} AlexNet (random weights, so no transfer learning)"
    )
    quick = (
        "\\textbf{Quick mode (smoke test): one repeat and a few epochs; the numbers below are not results.} "
        if ctx.quick
        else ""
    )
    return (
        f"{quick}We reproduce Practical~2 with the \\texttt{{cnnlab}} package: a small convolutional network that "
        f"identifies the artist of {data} (Part~1) and face recognition with a multilayer perceptron and {alex} (Part~2). "
        f"Every Part~1 number is a mean over {ctx.repeats} repeats (validation folds and seeds), every comparison is paired over "
        f"them, and every run can be traced by its run id. The starter network reaches "
        f"{acc(base, 'train_acc')} training {'but only' if gap(base) > 0.05 else 'and'} {acc(base)} validation accuracy; "
        f"{search_outcome(s['search'], base, short=True)} On {faces}, the MLP reaches "
        f"{p2.acc(parts.main_mlp.stats)} and fine-tuning the AlexNet {p2.acc(parts.finetune.stats)} test accuracy."
    )


def protocol(ctx: ReportContext) -> str:
    """The Part 1 protocol: the fixed test split, the folds, the repeats and why so many, the verdict rule (core.stats.VERDICT_RULE)."""
    base = ctx.part1.suites["baseline"]
    folds = int(base.get("folds", 5))
    n = int(ctx.repeats)
    test = ctx.part1.network.get("test_fraction", 0.15)
    if n >= folds:
        why = "one per fold, so every non-test image is validated on once; the number is chosen for the report's budget of 15 minutes on 2 CPU cores"
    else:
        why = f"{n} repeat{'s' if n > 1 else ''}, fewer than the folds: a smoke test or a reduced budget"
    seeds = ctx.seeds
    seed_text = f"{seeds} seeds (0, \\dots, {seeds - 1})" if seeds > 1 else "one seed (0)"
    return (
        f"\\textbf{{Protocol.}} The test split ({pct(test)}\\,\\% of each class, fixed) is evaluated once per run, for reporting only. "
        f"The other images form {folds} stratified folds; repeat $r$ trains with seed $r$ and validates on fold $r \\bmod {folds}$, so "
        f"error bars include split noise as well as seed noise. Part~1 uses {n} repeat{'s' if n > 1 else ''} ({why}), the same for "
        "every variant of a suite and its reference. Tables give mean\\,$\\pm$\\,std over the repeats and their number $n$. "
        f"Verdict rule: {esc(VERDICT_RULE)}. Part~2 trains every model with {seed_text}."
    )


def devices_sentence(ctx: ReportContext) -> str:
    """Where the runs trained; several devices are said plainly (CPU and CUDA numbers differ in the last digits)."""
    devices = ctx.devices or ["cpu"]
    names = ", ".join(f"\\texttt{{{esc(d)}}}" for d in devices)
    if len(devices) == 1:
        return f"Every run trained on {names}."
    return (
        f"\\textbf{{The runs trained on several devices}} ({names}); numbers from different devices differ in the last "
        "digits, so compare runs of one device."
    )


def data_figure(ctx: ReportContext) -> str:
    """The Part 1 data figure (label fig:data): one image per class and the course's transformations (in the
    supplement: it holds no result, and its height grows with the names)."""
    return place(
        ctx,
        rf"""\begin{{figure}}[t]
\centering
\includegraphics[width={PRINT["art_overview"].tex}]{{figures/art_overview.png}}
\caption{{Top: one {"synthetic " if ctx.part1.synthetic else ""}image per class of the Part~1 data. Bottom: the
course's transformations of question 1.7, applied to the first image.}}
\label{{fig:data}}
\end{{figure}}""",
    )


def section_setup(ctx: ReportContext) -> str:
    prov = provenance_lines(ctx)
    split = ctx.placement is not None
    supplement = (
        " The supplement (\\texttt{supplement.pdf}) holds the full tables and the figures this paper has no room for, "
        "numbered S1, S2, \\dots{} as the paper refers to them."
        if split
        else ""
    )
    return rf"""
\section*{{Setup and data provenance}}
{prov["art"]} One image per class: Figure~\ref{{fig:data}}.

{prov["faces"]}

{prov["alexnet"]}

{protocol(ctx)} Model selection uses the validation split. {devices_sentence(ctx)} Each table row lists its run ids in a comment of
\texttt{{report.tex}}, and {"Section" if split else "Appendix"}~\ref{{app:runs}}{" of the supplement" if split else ""} lists them all:
every run folder \texttt{{runs/<run id>/}} holds its configuration, per-epoch metrics, summary and weights.{supplement}

{data_figure(ctx)}
"""


def section_discussion(ctx: ReportContext) -> str:
    caveats = []
    if ctx.part1.synthetic:
        caveats.append(
            "Part~1 ran on synthetic images, so its conclusions describe this stand-in data (real paintings: "
            "\\texttt{-{}-data art\\_data/artists})"
        )
    if not ctx.part2.pretrained:
        caveats.append("AlexNet was untrained (ImageNet weights: \\texttt{-{}-weights PATH})")
    if ctx.part2.faces.get("kind") == "olivetti":
        caveats.append("Part~2 used the Olivetti faces, 10 per person (FaceScrub: \\texttt{-{}-faces DIR})")
    if ctx.quick:
        caveats.append("this is a quick-mode smoke test (one seed, a few epochs, a subset of the faces)")
    cav = ("\\textbf{Limitations.} " + "; ".join(caveats) + ".") if caveats else ""
    s = ctx.part1.suites
    base = s["baseline"]["rows"][0]
    g = gap(base)
    fit = (
        f"The starter network overfits the small data set (train--validation gap {pct(g)} points)"
        if g > 0.1
        else f"The starter network shows little overfitting at this budget (train--validation gap {pct(g)} points)"
    )
    mlp, feats, fine = ctx.part2.main_mlp, ctx.part2.features, ctx.part2.finetune
    best_alex = max(feats.mean("test_acc"), fine.mean("test_acc"))
    versus = (
        "above"
        if mlp.mean("test_acc") > best_alex + 0.02
        else ("below" if mlp.mean("test_acc") < best_alex - 0.02 else "on a par with")
    )
    part2 = (
        f"In Part~2 the pixel MLP ({p2.acc(mlp.stats)} test accuracy) is {versus} the {p2.short_alexnet(ctx)} models "
        f"({p2.acc(feats.stats)} fixed conv4 features, {p2.acc(fine.stats)} fine-tuned)"
        + ("; without ImageNet weights AlexNet has no head start on faces." if not ctx.part2.pretrained else ".")
    )
    return rf"""
\section{{Discussion}}
{fit}. {search_outcome(s["search"], base)} {part2}
{cav}
"""


def _short_id(rid: str) -> str:
    return rid.rsplit("-", 1)[-1][:6]


def appendix(ctx: ReportContext) -> str:
    """Every run behind every number: suite, variant, run id prefixes, as paragraphs in three columns."""
    titles = {
        "baseline": "1.2 starter",
        "pooling": "1.3 pooling",
        "regularization": "1.4 regularisation",
        "architecture": "1.5 architecture",
        "search": "1.6 best configuration",
        "robustness": "1.7 robustness",
    }
    line = lambda label, ids: f"{esc(label)}\\hfill\\texttt{{{' '.join(_short_id(r) for r in ids)}}}\\par"  # noqa: E731
    body = []
    for name, title in titles.items():
        body.append(f"\\textbf{{{title}}}\\par")
        body += [line(r["variant"], r["run_ids"]) for r in ctx.part1.suites[name]["rows"]]
        body.append("\\smallskip")
    body.append("\\textbf{Part 2}\\par")
    groups = ctx.part2.groups
    body += [line(label, groups[key].run_ids) for key, label in p2.ORDER.items() if key in groups]
    return "\n".join(
        [
            "\\section{Runs behind every number}\\label{app:runs}",
            "The first 6 hex digits of the run id of every table row, repeats (Part~2: seeds) in order; the full ids are in comments of "
            f"\\texttt{{report.tex}} and \\texttt{{supplement.tex}} and in \\texttt{{suites/<name>/suite.json}}. Each run is a folder of {folder(ctx.runs_root)}"
            " (Part~1 ids start with \\texttt{cnn-}, Part~2 ids with \\texttt{mlp-}, \\texttt{alexnet-features-} and "
            f"\\texttt{{alexnet-finetune-}}). Produced by cnnlab {esc(ctx.version)}.",
            "\\begin{multicols}{3}\\tiny\\setlength{\\parskip}{0pt}\\setlength{\\columnsep}{8pt}",
            *body,
            "\\end{multicols}",
        ]
    )
