"""The report document: front matter, provenance, the Part 1 and Part 2 sections, the run appendix.

`write_report(context, report_dir)` renders report.tex, the style file and every figure into a
temporary folder inside report_dir, compiles it there (when TeX is installed), then swaps its
entries into place. Only what a report wrote is ever replaced or removed: the marker file lists the
top-level entries of the last build, and anything else in report_dir (a runs folder, the user's
notes) is left alone. A non-empty folder without the marker is not a cnnlab report and is refused.
report_dir itself is never renamed, so `--report-dir .` works."""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from pathlib import Path

from cnnlab.core.errors import CnnlabError
from cnnlab.core.io import atomic_write_text
from cnnlab.core.processes import pid_alive
from cnnlab.report.figures.build import make_figures
from cnnlab.report.latex import comment, esc, folder
from cnnlab.report.options import ReportResult
from cnnlab.report.sections import alexnet, beyond, network, robustness, search, training
from cnnlab.report.sections import diagnostics as sd
from cnnlab.report.sections import faces as p2
from cnnlab.report.sections.front import abstract, appendix, section_discussion, section_setup

log = logging.getLogger(__name__)


MIN_PAGES, MAX_PAGES = 6, 8  # the handout's length for the write-up


# The page budget. Every part of the report that grows with the data is bounded (names are cut or tagged, at
# most 12 classes listed, confusion matrices at most 2.6 in high, a fixed set of figures and table rows), so a
# report's length depends little on its input; what is left is taken up by these steps, in turn, until the
# report has at most MAX_PAGES pages: the run-id appendix into .tex comments, then tighter spacing, then the
# Part 1 data figure (example images, the course's transformations: no result) left out. Results are never left out.
BUDGET_STEPS = (
    ((True, False, ()), "moving the run-id appendix into report.tex comments"),
    ((True, True, ()), "tightening the space between paragraphs and around figures"),
    ((True, True, ("art_overview",)), "leaving out the Part 1 data figure (example images)"),
    ((True, 2, ("art_overview",)), "setting tables and captions in smaller type"),
    (
        (True, 2, ("art_overview", "face_confusion")),
        "leaving out the face confusion matrix (its finding stays in the text)",
    ),
)
TIGHT = (
    "\\setlength{\\parskip}{2pt plus 1pt}",
    "\\setlength{\\textfloatsep}{7pt plus 2pt minus 2pt}",
    "\\setlength{\\floatsep}{5pt plus 2pt minus 2pt}",
    "\\captionsetup{skip=4pt}",
    "\\captionsetup[table]{skip=3pt}",
    "\\renewcommand{\\floatpagefraction}{0.9}",  # a large figure goes above text rather than on a page of its own
    "\\renewcommand{\\topfraction}{0.95}",
    "\\renewcommand{\\textfraction}{0.05}",
)
SMALLER = (  # the last step: tables (set in \small) and captions one size down, still at least 8 pt
    "\\captionsetup{font=footnotesize}",
    "\\let\\small\\footnotesize",
)


MARKER = ".cnnlab-report"  # marks a folder written by cnnlab report, and lists the entries it wrote


MARKER_HEADER = "written by cnnlab report; the next build replaces only the entries listed below"


STYLE = Path(__file__).with_name("cnnlab.sty")


# Every \includegraphics writes the width it printed at into the log ("cnnlab figure: figures/x.pdf 397.48499pt"),
# so a test can compare it with the width the figure was drawn at (report.figures.layout.PRINT).
FIGURE_WIDTH_LOG = (
    "\\makeatletter",
    "\\newsavebox{\\cnnlab@figbox}",
    "\\let\\cnnlab@includegraphics\\includegraphics",
    "\\renewcommand{\\includegraphics}[2][]{\\sbox{\\cnnlab@figbox}{\\cnnlab@includegraphics[#1]{#2}}%",
    "\\typeout{cnnlab figure: #2 \\the\\wd\\cnnlab@figbox}\\usebox{\\cnnlab@figbox}}",
    "\\makeatother",
)
FIGURE_LOG_LINE = re.compile(r"^cnnlab figure: (\S+) ([0-9.]+)pt$", re.M)


def printed_widths(log_text: str) -> dict[str, float]:
    """{figure file: printed width in inches} from a compiled report's log (FIGURE_WIDTH_LOG's lines)."""
    return {name: float(pt) / 72.27 for name, pt in FIGURE_LOG_LINE.findall(log_text)}


# ----------------------------------------------------------------------------- document
def render_tex(
    ctx: dict,
    fig_dir: Path,
    style_name: str = "cnnlab",
    official: bool = False,
    compact: bool = False,
    tight: int = 0,
    omit: tuple[str, ...] = (),
) -> str:
    """The whole report.tex; first draws the context's figures into fig_dir (`make_figures`), then
    builds the text. compact: the run ids stay in .tex comments only (no appendix table); tight: 1 = less
    space between paragraphs, around floats and captions (TIGHT), 2 = also tables and captions one size down (SMALLER); omit: parts left out ("art_overview": the Part 1
    data figure) -- the page budget's
    steps (`write_report`), to keep a report within the handout's 8 pages."""
    if omit or tight:
        ctx = {**ctx, "omitted": tuple(omit), "tight": int(tight)}
    figs = make_figures(ctx, fig_dir)
    style = f"\\usepackage[final]{{{style_name}}}" if official else f"\\usepackage{{{style_name}}}"
    title = "Artist Identification with Small CNNs and\\\\Face Recognition with Transfer Learning"
    quick = "\\textbf{QUICK MODE} (1 repeat and seed, few epochs): a smoke test, not results. " if ctx["quick"] else ""
    notice = (
        f"{quick}Generated by \\texttt{{cnnlab report}} from the runs in {folder(ctx['runs_root'])}. "
        + ("Part~1 data: synthetic. " if ctx["art"]["synthetic"] else "")
        + ("AlexNet: untrained (random weights)." if not ctx["alexnet"].get("pretrained") else "")
    )
    sections = [
        section_setup(ctx, compact),
        "\\section{Part 1: convolutional networks for artist identification}",
        network.section_receptive(ctx),
        network.section_network(ctx, figs),
        training.section_pooling(ctx),
        training.section_regularization(ctx, figs),
        network.section_architecture(ctx),
        search.section_search(ctx, figs),
        sd.section_confusion(ctx),
        robustness.section_robustness(ctx, figs),
        sd.section_controls(ctx),
        "\\section{Part 2: face recognition with an MLP and AlexNet}",
        p2.section_mlp(ctx, figs),
        beyond.section_cnn(ctx),
        alexnet.section_features(ctx),
        beyond.depth_text(ctx),
        p2.section_weights(ctx),
        alexnet.section_finetune(ctx),
        alexnet.section_explain(ctx),
        section_discussion(ctx),
        *(["\\appendix", appendix(ctx)] if not compact else []),
    ]
    return "\n".join(
        [
            "% report.tex -- written by `cnnlab report`; every number comes from the runs named in the comments.",
            comment(
                f"runs folder: {Path(ctx['runs_root']).name}; quick: {ctx['quick']}; Part 1 repeats: {ctx['repeats']}; Part 2 seeds: {ctx['seeds']}"
            ),
            "\\documentclass[10pt,letterpaper]{article}",
            style,
            "\\usepackage[T1]{fontenc}",
            "\\usepackage[utf8]{inputenc}",
            "\\usepackage{graphicx}",
            *FIGURE_WIDTH_LOG,
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
            *(TIGHT if tight else ()),
            *(SMALLER if tight >= 2 else ()),
            "\\begin{document}",
            "\\maketitle",
            "\\begin{abstract}",
            abstract(ctx),
            "\\end{abstract}",
            *sections,
            "\\end{document}",
            "",
        ]
    )


def render_bundle(
    ctx: dict,
    folder: Path,
    style: Path | None = None,
    compact: bool = False,
    tight: int = 0,
    omit: tuple[str, ...] = (),
) -> Path:
    """report.tex + style + figures/ in `folder`; returns the .tex path."""
    fig_dir = folder / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    for src in ctx["figures"].values():
        shutil.copy2(src, fig_dir / Path(src).name)
    if style is not None:
        shutil.copy2(style, folder / style.name)
        tex = render_tex(ctx, fig_dir, style.stem, official=True, compact=compact, tight=tight, omit=omit)
    else:
        shutil.copy2(STYLE, folder / STYLE.name)
        tex = render_tex(ctx, fig_dir, compact=compact, tight=tight, omit=omit)
    out = folder / "report.tex"
    atomic_write_text(out, tex)
    return out


def _check_replaceable(report_dir: Path) -> None:
    if report_dir.exists() and (
        not report_dir.is_dir() or (any(report_dir.iterdir()) and not (report_dir / MARKER).is_file())
    ):
        raise CnnlabError(
            f"refusing to replace {report_dir}: it exists and is not a cnnlab report folder (choose another --report-dir)"
        )


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
        raise CnnlabError(
            f"refusing to replace {report_dir / foreign[0]}: cnnlab report did not write it "
            "(move it away or choose another --report-dir)"
        )
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
                for (compact, tight, omit), what in BUDGET_STEPS:
                    if pages <= MAX_PAGES:
                        break
                    log.warning("the report has %d pages (handout: 6-8): %s", pages, what)
                    render_bundle(ctx, tmp, style, compact=compact, tight=tight, omit=omit)
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
