"""The report document: front matter, provenance, the Part 1 and Part 2 sections, the run appendix.

`write_report(context, report_dir)` renders report.tex, the style file and every figure into a
temporary folder inside report_dir, compiles it there (when TeX is installed), then swaps its
entries into place. Only what a report wrote is ever replaced or removed: the marker file lists the
top-level entries of the last build, and anything else in report_dir (a runs folder, the user's
notes) is left alone. A non-empty folder without the marker is not a cnnlab report and is refused.
report_dir itself is never renamed, so `--report-dir .` works.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from cnnlab.core.errors import CnnlabError
from cnnlab.core.io import atomic_write_text
from cnnlab.core.processes import pid_alive
from cnnlab.core.stats import VERDICT_RULE
from cnnlab.report import sections1 as p1
from cnnlab.report import sections1b as p1b
from cnnlab.report import sections2 as p2
from cnnlab.report import sections_diag as sd
from cnnlab.report.compare import acc, gap
from cnnlab.report.figures_tex import make_figures
from cnnlab.report.latex import comment, esc, path, pct

log = logging.getLogger(__name__)

MIN_PAGES, MAX_PAGES = 6, 8  # the handout's length for the write-up
MARKER = ".cnnlab-report"  # marks a folder written by cnnlab report, and lists the entries it wrote
MARKER_HEADER = "written by cnnlab report; the next build replaces only the entries listed below"
STYLE = Path(__file__).with_name("cnnlab.sty")


# ----------------------------------------------------------------------------- front matter
def provenance_lines(ctx: dict) -> dict[str, str]:
    """One plain sentence each on where the art data, the face data and the AlexNet weights come from."""
    art, faces, alex = ctx["art"], ctx["faces"], ctx["alexnet"]
    n = sum(art["counts"].values())
    sp = art["split"]
    if art["synthetic"]:
        art_line = (f"\\textbf{{Art data: synthetic.}} Part~1 uses \\texttt{{{esc(art['name'])}}}, a procedural stand-in for the "
                    f"handout's paintings: {n} generated ${art['image_size']}\\times{art['image_size']}$ images in "
                    f"{len(art['counts'])} classes that carry the handout's artist names and image counts. "
                    "\\emph{All Part~1 numbers are measured on synthetic images, not on real paintings.}")
    else:
        art_line = (f"\\textbf{{Art data: real images.}} Part~1 uses the {n} images of {len(art['counts'])} artists in "
                    f"{path(art['name'])}, downsampled to ${art['image_size']}\\times{art['image_size']}$"
                    + (f" ({art['skipped']} unreadable files skipped)" if art.get("skipped") else "") + ".")
    classes = ", ".join(f"{esc(name)} ({count})" for name, count in art["counts"].items())
    folds = ctx["network"].get("folds", 5)
    art_line += (f" Classes (images): {classes}. Split: {sp['test']} test images (fixed) and {sp['train'] + sp['val']} others in {folds} "
                 f"stratified folds of about {sp['val']}.")
    counts = faces.get("counts") or {}
    per = sorted({tuple(c) for c in counts.values()}, reverse=True)
    per_text = ", ".join("/".join(map(str, c)) for c in per)
    if faces.get("kind") == "olivetti":
        face_line = (f"\\textbf{{Face data: Olivetti, not FaceScrub.}} Part~2 uses the embedded Olivetti faces (AT\\&T "
                     f"Laboratories Cambridge): {len(faces.get('people', []))} people, {per_text} train/validation/test faces per "
                     "person, instead of the handout's FaceScrub actors with 70 training faces each.")
    else:
        face_line = (f"\\textbf{{Face data: FaceScrub.}} Part~2 uses {len(faces.get('people', []))} actors downloaded from the "
                     f"FaceScrub lists into {path(faces['source'])} (SHA-256 checked, cropped): {per_text} "
                     "train/validation/test faces per actor.")
    if faces.get("subset"):
        face_line += " (Quick mode: a subset of the people.)"
    if alex.get("pretrained"):
        alex_line = (f"\\textbf{{AlexNet: ImageNet-pretrained}} weights ({esc(alex.get('source', ''))}, SHA-256 "
                     f"\\texttt{{{esc(str(alex.get('sha256', ''))[:16])}}}\\dots).")
    else:
        alex_line = ("\\textbf{AlexNet: untrained.} No ImageNet weights were available, so Part~2.2, 2.4 and 2.5 use an "
                     f"\\textbf{{untrained AlexNet}} ({esc(alex.get('source', 'random weights'))}). "
                     "\\emph{These are random-feature baselines, not transfer-learning results.}")
    return {"art": art_line, "faces": face_line, "alexnet": alex_line}


def abstract(ctx: dict) -> str:
    s = ctx["suites"]
    base = s["baseline"]["rows"][0]
    best = s["search"]["rows"][0]
    parts = ctx["part2"]
    data = "synthetic stand-in paintings" if ctx["art"]["synthetic"] else "real paintings"
    faces = "Olivetti faces" if ctx["faces"].get("kind") == "olivetti" else "FaceScrub faces"
    alex = "an ImageNet-pretrained AlexNet" if ctx["alexnet"].get("pretrained") else "an \\emph{untrained} AlexNet (random weights, so no transfer learning)"
    quick = ("\\textbf{Quick mode (smoke test): one repeat and a few epochs; the numbers below are not results.} " if ctx["quick"] else "")
    return (f"{quick}We reproduce Practical~2 with the \\texttt{{cnnlab}} package: a small convolutional network that "
            f"identifies the artist of {data} (Part~1) and face recognition with a multilayer perceptron and {alex} (Part~2). "
            f"Every Part~1 number is a mean over {ctx['repeats']} repeats (validation folds and seeds), every comparison is paired over "
            f"them, and every run can be traced by its run id. The starter network reaches "
            f"{acc(base, 'train_acc')} training {'but only' if gap(base) > 0.05 else 'and'} {acc(base)} validation accuracy; "
            "a hyperparameter search "
            f"finds a configuration with {acc(best, 'test_acc')} test accuracy. On {faces}, the MLP reaches "
            f"{p2.acc(parts['mlp300'])} and fine-tuning the AlexNet {p2.acc(parts['finetune'])} test accuracy.")


def protocol(ctx: dict) -> str:
    """The Part 1 protocol: the fixed test split, the folds, the repeats and why so many, the verdict rule (core.stats.VERDICT_RULE)."""
    base = ctx["suites"]["baseline"]
    folds = int(base.get("folds", 5))
    n = int(ctx["repeats"])
    test = ctx["network"].get("test_fraction", 0.15)
    if n >= folds:
        why = "one per fold, so every non-test image is validated on once; the number is chosen for the report's budget of 15 minutes on 2 CPU cores"
    else:
        why = f"{n} repeat{'s' if n > 1 else ''}, fewer than the folds: a smoke test or a reduced budget"
    seeds = ctx["seeds"]
    seed_text = f"{seeds} seeds (0, \\dots, {seeds - 1})" if seeds > 1 else "one seed (0)"
    return (f"\\textbf{{Protocol.}} The test split ({pct(test)}\\,\\% of each class, fixed) is evaluated once per run, for reporting only. "
            f"The other images form {folds} stratified folds; repeat $r$ trains with seed $r$ and validates on fold $r \\bmod {folds}$, so "
            f"error bars include split noise as well as seed noise. Part~1 uses {n} repeat{'s' if n > 1 else ''} ({why}), the same for "
            "every variant of a suite and its reference. Tables give mean\\,$\\pm$\\,std over the repeats and their number $n$. "
            f"Verdict rule: {esc(VERDICT_RULE)}. Part~2 trains every model with {seed_text}.")


def section_setup(ctx: dict, compact: bool = False) -> str:
    prov = provenance_lines(ctx)
    appendix_ref = " and in \\texttt{suites/<name>/suite.json}" if compact else ", and Appendix~\\ref{app:runs} lists them all"
    return rf"""
\section*{{Setup and data provenance}}
{prov['art']}

{prov['faces']}

{prov['alexnet']}

{protocol(ctx)} Model selection uses the validation split. Each table row lists its run ids in a comment of
\texttt{{report.tex}}{appendix_ref}: every run folder \texttt{{runs/<run id>/}} holds its configuration, per-epoch metrics,
summary and weights.

\begin{{figure}}[t]
\centering
\includegraphics[width=\linewidth]{{figures/art_overview.png}}
\caption{{Top: one {'synthetic ' if ctx['art']['synthetic'] else ''}image per class of the Part~1 data. Bottom: the
course's transformations of question 1.7, applied to the first image.}}
\label{{fig:data}}
\end{{figure}}
"""


def section_discussion(ctx: dict) -> str:
    caveats = []
    if ctx["art"]["synthetic"]:
        caveats.append("Part~1 ran on synthetic images, so its conclusions describe this stand-in data (real paintings: "
                       "\\texttt{-{}-data art\\_data/artists})")
    if not ctx["alexnet"].get("pretrained"):
        caveats.append("AlexNet was untrained (ImageNet weights: \\texttt{-{}-weights PATH})")
    if ctx["faces"].get("kind") == "olivetti":
        caveats.append("Part~2 used the Olivetti faces, 10 per person (FaceScrub: \\texttt{-{}-faces DIR})")
    if ctx["quick"]:
        caveats.append("this is a quick-mode smoke test (one seed, a few epochs, a subset of the faces)")
    cav = ("\\textbf{Limitations.} " + "; ".join(caveats) + ".") if caveats else ""
    s = ctx["suites"]
    base, best = s["baseline"]["rows"][0], s["search"]["rows"][0]
    g = gap(base)
    fit = (f"The starter network overfits the small data set (train--validation gap {pct(g)} points)" if g > 0.1 else
           f"The starter network shows little overfitting at this budget (train--validation gap {pct(g)} points)")
    parts = ctx["part2"]
    mlp, feats, fine = parts["mlp300"], parts["features"], parts["finetune"]
    best_alex = max(feats["test_acc_mean"], fine["test_acc_mean"])
    versus = "above" if mlp["test_acc_mean"] > best_alex + 0.02 else ("below" if mlp["test_acc_mean"] < best_alex - 0.02 else "on a par with")
    part2 = (f"In Part~2 the one-hidden-layer MLP on raw pixels ({p2.acc(mlp)} test accuracy) is {versus} the "
             f"{p2.short_alexnet(ctx)} models ({p2.acc(feats)} with fixed conv4 features, {p2.acc(fine)} fine-tuned)"
             + ("; without ImageNet weights AlexNet has no head start on faces." if not ctx["alexnet"].get("pretrained") else "."))
    return rf"""
\section{{Discussion}}
{fit}; the experiments of 1.3--1.5 measure which single changes trade training fit for validation accuracy, and the search
of 1.6 combines them ({acc(base, 'test_acc')} $\to$ {acc(best, 'test_acc')} test accuracy). {part2}
{cav}
"""


def _short_id(rid: str) -> str:
    return rid.rsplit("-", 1)[-1][:6]


def appendix(ctx: dict) -> str:
    """Every run behind every number: suite, variant, run id prefixes, as paragraphs in three columns."""
    titles = {"baseline": "1.2 starter", "pooling": "1.3 pooling", "regularization": "1.4 regularisation",
              "architecture": "1.5 architecture", "search": "1.6 best configuration", "robustness": "1.7 robustness"}
    line = lambda label, ids: f"{esc(label)}\\hfill\\texttt{{{' '.join(_short_id(r) for r in ids)}}}\\par"  # noqa: E731
    body = []
    for name, title in titles.items():
        body.append(f"\\textbf{{{title}}}\\par")
        body += [line(r["variant"], r["run_ids"]) for r in ctx["suites"][name]["rows"]]
        body.append("\\smallskip")
    body.append("\\textbf{Part 2}\\par")
    body += [line(label, ctx["part2"][key]["run_ids"]) for key, label in p2.ORDER.items() if key in ctx["part2"]]
    return "\n".join([
        "\\section{Runs behind every number}\\label{app:runs}",
        "The first 6 hex digits of the run id of every table row, repeats (Part~2: seeds) in order; the full ids are in comments of "
        f"\\texttt{{report.tex}} and in \\texttt{{suites/<name>/suite.json}}. Each run is a folder of {path(ctx['runs_root'])}"
        " (Part~1 ids start with \\texttt{cnn-}, Part~2 ids with \\texttt{mlp-}, \\texttt{alexnet-features-} and "
        f"\\texttt{{alexnet-finetune-}}). Produced by cnnlab {esc(ctx.get('version', ''))}.",
        "\\begin{multicols}{3}\\tiny\\setlength{\\parskip}{0pt}\\setlength{\\columnsep}{8pt}", *body, "\\end{multicols}",
    ])


# ----------------------------------------------------------------------------- document
def render_tex(ctx: dict, fig_dir: Path, style_name: str = "cnnlab", official: bool = False, compact: bool = False) -> str:
    """The whole report.tex; first draws the context's figures into fig_dir (`make_figures`), then
    builds the text. compact: the run ids stay in .tex comments only (no appendix table), to keep a
    full report within the handout's 8 pages."""
    figs = make_figures(ctx, fig_dir)
    style = f"\\usepackage[final]{{{style_name}}}" if official else f"\\usepackage{{{style_name}}}"
    title = "Artist Identification with Small CNNs and\\\\Face Recognition with Transfer Learning"
    quick = "\\textbf{QUICK MODE} (1 repeat and seed, few epochs): a smoke test, not results. " if ctx["quick"] else ""
    notice = (f"{quick}Generated by \\texttt{{cnnlab report}} from the runs in {path(ctx['runs_root'])}. "
              + ("Part~1 data: synthetic. " if ctx["art"]["synthetic"] else "")
              + ("AlexNet: untrained (random weights)." if not ctx["alexnet"].get("pretrained") else ""))
    sections = [
        section_setup(ctx, compact),
        "\\section{Part 1: convolutional networks for artist identification}",
        p1.section_receptive(ctx),
        p1.section_network(ctx, figs),
        p1.section_pooling(ctx),
        p1.section_regularization(ctx, figs),
        p1b.section_architecture(ctx),
        p1b.section_search(ctx, figs),
        sd.section_confusion(ctx),
        p1b.section_robustness(ctx, figs),
        sd.section_controls(ctx),
        "\\section{Part 2: face recognition with an MLP and AlexNet}",
        p2.section_mlp(ctx, figs),
        p2.section_features(ctx),
        p2.section_weights(ctx),
        p2.section_finetune(ctx),
        p2.section_explain(ctx),
        section_discussion(ctx),
        *(["\\appendix", appendix(ctx)] if not compact else []),
    ]
    return "\n".join([
        "% report.tex -- written by `cnnlab report`; every number comes from the runs named in the comments.",
        comment(f"runs folder: {ctx['runs_root']}; quick: {ctx['quick']}; Part 1 repeats: {ctx['repeats']}; Part 2 seeds: {ctx['seeds']}"),
        "\\documentclass[10pt,letterpaper]{article}",
        style,
        "\\usepackage[T1]{fontenc}",
        "\\usepackage[utf8]{inputenc}",
        "\\usepackage{graphicx}",
        "\\usepackage{booktabs}",
        "\\usepackage{amsmath}",
        "\\usepackage{multicol}",
        "\\usepackage{caption}",
        "\\usepackage{subcaption}",
        "\\usepackage{url}",
        "\\usepackage[hidelinks]{hyperref}",
        "\\providecommand{\\notice}[1]{}",
        f"\\title{{{title}}}",
        f"\\author{{cnnlab {esc(ctx.get('version', ''))}\\\\\\normalfont generated report, Practical~2}}",
        f"\\notice{{{notice}}}",
        "\\begin{document}",
        "\\maketitle",
        "\\begin{abstract}",
        abstract(ctx),
        "\\end{abstract}",
        *sections,
        "\\end{document}",
        "",
    ])


def render_bundle(ctx: dict, folder: Path, style: Path | None = None, compact: bool = False) -> Path:
    """report.tex + style + figures/ in `folder`; returns the .tex path."""
    fig_dir = folder / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    for name, src in ctx["figures"].items():
        shutil.copy2(src, fig_dir / Path(src).name)
    if style is not None:
        shutil.copy2(style, folder / style.name)
        tex = render_tex(ctx, fig_dir, style.stem, official=True, compact=compact)
    else:
        shutil.copy2(STYLE, folder / STYLE.name)
        tex = render_tex(ctx, fig_dir, compact=compact)
    out = folder / "report.tex"
    atomic_write_text(out, tex)
    return out


def _check_replaceable(report_dir: Path) -> None:
    if report_dir.exists() and (not report_dir.is_dir() or (any(report_dir.iterdir()) and not (report_dir / MARKER).is_file())):
        raise CnnlabError(f"refusing to replace {report_dir}: it exists and is not a cnnlab report folder (choose another --report-dir)")


def _owned(report_dir: Path) -> set[str]:
    """The top-level entries of report_dir that the last build wrote (listed in its marker).

    A marker of an older cnnlab lists nothing: then the entries such a build wrote (report.*,
    figures, *.sty) count as its own, and nothing else."""
    marker = report_dir / MARKER
    if not marker.is_file():
        return set()
    lines = marker.read_text(encoding="utf-8", errors="replace").splitlines()
    if lines and lines[0] == MARKER_HEADER:
        return {n for n in lines[1:] if n and "/" not in n and n not in (".", "..")}
    return {n for n in os.listdir(report_dir) if n.startswith("report.") or n.endswith(".sty") or n == "figures"}


def _write_marker(report_dir: Path, names: set[str]) -> None:
    atomic_write_text(report_dir / MARKER, "\n".join([MARKER_HEADER, *sorted(names)]) + "\n")


def _swap_in(tmp: Path, report_dir: Path) -> None:
    """Move the new build's entries from tmp into report_dir; the last build's own entries are moved
    aside first and then deleted. Nothing report_dir holds that a build did not write is touched."""
    new = {n for n in os.listdir(tmp) if n != MARKER}
    old = _owned(report_dir) & set(os.listdir(report_dir))
    foreign = sorted(n for n in new - old if os.path.lexists(report_dir / n))
    if foreign:
        raise CnnlabError(f"refusing to replace {report_dir / foreign[0]}: cnnlab report did not write it "
                          "(move it away or choose another --report-dir)")
    aside = report_dir / f"{MARKER}.old-{os.getpid()}"
    shutil.rmtree(aside, ignore_errors=True)
    aside.mkdir()
    _write_marker(report_dir, old | new)  # a crash half-way leaves both builds' entries owned
    for name in sorted(old):
        os.replace(report_dir / name, aside / name)
    for name in sorted(new):
        os.replace(tmp / name, report_dir / name)
    _write_marker(report_dir, new)
    shutil.rmtree(aside, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)


def _clean_stale(report_dir: Path) -> None:
    """Remove the temporary folders of builds whose process died (MARKER.tmp-<pid>, MARKER.old-<pid>)."""
    for leftover in report_dir.glob(f"{MARKER}.*-*"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if leftover.is_dir() and pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def write_report(ctx: dict, report_dir: str | Path, style: Path | None = None, compile: bool = True):
    """Render (and compile) the report into report_dir; returns a ReportResult."""
    from cnnlab.report import ReportResult
    from cnnlab.report.compile import compile_pdf, how_to_compile, page_count, tex_available

    report_dir = Path(report_dir)
    _check_replaceable(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    _clean_stale(report_dir)
    # Inside report_dir: the swap is a few renames within one folder, and report_dir is never renamed.
    tmp = report_dir / f"{MARKER}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        render_bundle(ctx, tmp, style)
        pdf, pages, message, error = None, None, "", None
        if not compile:
            message = f"LaTeX bundle written (not compiled): {report_dir / 'report.tex'}"
        elif tex_available() is None:
            message = how_to_compile(report_dir)
        else:
            t0 = time.perf_counter()
            try:
                compile_pdf(tmp)
                pages = page_count(tmp / "report.pdf")
                if pages > MAX_PAGES and not ctx["quick"]:
                    log.warning("the report has %d pages (handout: 6-8): moving the run-id appendix into report.tex comments", pages)
                    render_bundle(ctx, tmp, style, compact=True)
                    compile_pdf(tmp)
                    pages = page_count(tmp / "report.pdf")
                if not ctx["quick"] and not MIN_PAGES <= pages <= MAX_PAGES:
                    log.warning("the report has %d pages; the handout asks for %d-%d", pages, MIN_PAGES, MAX_PAGES)
                pdf = report_dir / "report.pdf"
                message = f"{pdf} ({pages} pages, compiled in {time.perf_counter() - t0:.0f} s)"
            except CnnlabError as exc:
                error = exc  # the bundle and its log are still installed, for inspection
        _swap_in(tmp, report_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if error is not None:
        raise CnnlabError(str(error).replace(str(tmp), str(report_dir)))
    return ReportResult(report_dir, report_dir / "report.tex", pdf, pages, message)
