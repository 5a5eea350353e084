"""cnnlab report: rendering from a FIXTURE runs folder (report_fixture.make_fixture_runs: fake suite.json /
summary.json files, no training), LaTeX escaping of names from data, provenance lines, and one real quick report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from report_fixture import LONG_ARTISTS, make_fixture_runs

from cnnlab.core.errors import CnnlabError
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.report import ReportOptions, build_report
from cnnlab.report.compile import page_count, tex_available
from cnnlab.report.context import load_context
from cnnlab.report.latex import esc
from cnnlab.report.render import MAX_PAGES, render_tex, write_report

HAS_TEX = tex_available() is not None
ABSOLUTE = re.compile(r"(?<![\w.])(?:/tmp/|/home/|/root/|/Users/|/var/|/work/)")


def absolute_paths(tex: str, *folders: Path) -> list[str]:
    """The absolute paths a report.tex prints or comments (`path` breaks them after '/', so that is undone)."""
    plain = tex.replace("\\allowbreak{}", "").replace("\\_", "_")
    found = [str(f) for f in folders if str(f) in plain]
    return found + [plain[max(0, m.start() - 30) : m.end() + 30] for m in ABSOLUTE.finditer(plain)]


NASTY = "Paul & Sandby_#1 %$ {x} ~^\\ <é>"


# ----------------------------------------------------------------------------- tests
def test_folders_are_named_by_their_last_component():
    from cnnlab.report.latex import folder
    from cnnlab.report.sections.search import storage_text

    assert folder("/tmp/pytest-7/art_data/artists/") == "\\texttt{artists}"
    assert folder("runs") == "\\texttt{runs}" and folder("/home/me/my_runs") == "\\texttt{my\\_\\allowbreak{}runs}"
    assert storage_text("sqlite:////home/me/work/optuna.db") == "sqlite:///optuna.db"
    assert storage_text("/root/x/journal.log") == "journal.log"
    assert storage_text("postgresql://cnnlab:***@db:5432/cnnlab") == "postgresql://cnnlab:***@db:5432/cnnlab"


def test_escape_prints_special_characters_literally():
    out = esc(NASTY)
    for raw in ("&", "%", "$", "#", "_", "{", "}"):
        assert f"\\{raw}" in out
    assert "\\textbackslash{}" in out and "\\textasciitilde{}" in out and "\\textasciicircum{}" in out
    assert "é" in out  # Latin-1 letters print with T1 fonts
    assert esc("日本") == "??" and esc("a->b") == "a\\ensuremath{\\rightarrow}b"


def test_tex_renders_from_fixture_runs_without_training(tmp_path):
    root = make_fixture_runs(tmp_path / "runs")
    ctx = load_context(root)
    tex = render_tex(ctx, tmp_path / "figs")
    for q in (
        "Receptive field",
        "starter network",
        "Max-pooling",
        "Regularisation",
        "Architecture",
        "best configuration",
        "Robustness",
        "multilayer perceptron",
        "fixed feature extractor",
        "hidden units",
        "Fine-tuning",
        "Guided backprop",
        "first-layer filters",
        "What the best model confuses",
        "Controls: colour alone",
        "Best face model by validation",
    ):
        assert q in tex, q
    # mean +- std with n, and every suite run id recorded in the .tex
    assert "$\\pm$" in tex and "$n=3$" in tex
    for name, suite in ctx.part1.suites.items():
        for row in suite["rows"]:
            for rid in row["run_ids"]:
                assert rid in tex, (name, rid)
    assert all(rid in tex for g in ctx.part2.groups.values() for rid in g.run_ids)
    assert (tmp_path / "figs" / "deltas.pdf").is_file() and (tmp_path / "figs" / "part2_curves.pdf").is_file()
    # the MLP's training sentence reads the nested optimizer section of the run's resolved config
    assert "Adam, learning rate 0.001, L2 weight decay 0.01" in tex


def test_the_protocol_states_the_verdict_rule_of_core_stats(tmp_path):
    from cnnlab.core.stats import VERDICT_RULE

    tex = render_tex(load_context(make_fixture_runs(tmp_path / "runs", seeds=5)), tmp_path / "figs")
    setup = tex.split("\\section*{Setup")[1].split("\\section")[0]
    assert f"Verdict rule: {esc(VERDICT_RULE)}." in setup
    assert "Part~1 uses 5 repeats (one per fold" in setup and "5 stratified folds" in setup
    # tables give paired differences with their standard error, and the suites' training regimes are stated
    assert "paired difference from the reference, mean\\,$\\pm$\\,SE" in tex
    assert (
        "Adam at learning rate 0.001, until 10 epochs pass without a new best validation accuracy (at most 100" in tex
    )
    assert "Adam at learning rate 0.001 for 40 epochs" in tex


@pytest.mark.slow
def test_provenance_lines_for_synthetic_data_and_untrained_weights(tmp_path):
    tex = render_tex(load_context(make_fixture_runs(tmp_path / "a")), tmp_path / "f1")
    assert "Art data: synthetic." in tex and "not on real paintings" in tex
    assert "AlexNet: untrained." in tex and "not transfer-learning results" in tex
    assert "Olivetti, not FaceScrub" in tex
    assert "ImageNet-pretrained" not in tex
    real = render_tex(
        load_context(make_fixture_runs(tmp_path / "b", synthetic=False, pretrained=True)), tmp_path / "f2"
    )
    assert "Art data: real images." in real and "AlexNet: ImageNet-pretrained" in real
    assert (
        "untrained AlexNet" not in real and "synthetic" not in real.split("\\section*{Setup")[1].split("\\section")[0]
    )


def test_missing_suite_is_one_clear_error(tmp_path):
    root = make_fixture_runs(tmp_path / "runs")
    (root / "suites" / "pooling" / "suite.json").unlink()
    with pytest.raises(CnnlabError, match="suite result 'pooling' not found"):
        load_context(root)


def _edit_suite(root: Path, name: str, edit) -> None:
    path = root / "suites" / name / "suite.json"
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "suite, label",
    [("regularization", "baseline (no regulariser)"), ("architecture", "kernel 7"), ("pooling", "no pooling")],
)
def test_unknown_variant_label_is_an_error_naming_label_and_suite(tmp_path, suite, label):
    """A suite row the report looks for by label is never replaced by another row."""
    root = make_fixture_runs(tmp_path / "runs")

    def rename(meta):
        for r in meta["rows"]:
            if r["variant"] == label:
                r["variant"] = "something else"

    _edit_suite(root, suite, rename)
    with pytest.raises(CnnlabError, match=f"suite '{suite}' has no variant '{re.escape(label)}'"):
        render_tex(load_context(root), tmp_path / "figs")


def test_missing_robustness_model_is_an_error(tmp_path):
    root = make_fixture_runs(tmp_path / "runs")
    _edit_suite(
        root,
        "robustness",
        lambda meta: meta.update(robustness=[r for r in meta["robustness"] if r["model"] != "augmented"]),
    )
    with pytest.raises(CnnlabError, match="no row for model 'augmented'"):
        render_tex(load_context(root), tmp_path / "figs")


def test_figures_are_drawn_first_and_sections_only_build_strings(tmp_path, monkeypatch):
    from cnnlab.report.figures import curves as plots
    from cnnlab.report.figures.build import make_figures
    from cnnlab.report.sections import beyond, faces, network, robustness, search, training

    root = make_fixture_runs(tmp_path / "runs")
    # no complete search trial: no search figure, and no reference to one
    _edit_suite(root, "search", lambda meta: meta.update(trials=[{**t, "status": "pruned"} for t in meta["trials"]]))
    ctx = load_context(root)
    figs = make_figures(ctx, tmp_path / "figs")
    assert set(figs) == {"baseline_curves", "deltas", "robust_curves", "part2_curves", "depth"}
    assert all((tmp_path / "figs" / name).is_file() for name in figs.values())
    drawn = sorted(p.name for p in (tmp_path / "figs").iterdir())
    for name in [n for n in dir(plots) if n.startswith("plot_")]:
        monkeypatch.setattr(plots, name, lambda *a, **k: pytest.fail("a section drew a figure"))
    texts = [
        network.section_network(ctx, figs),
        training.section_regularization(ctx, figs),
        search.section_search(ctx, figs),
        robustness.section_robustness(ctx, figs),
        faces.section_mlp(ctx, figs),
        beyond.depth_text(ctx),
    ]
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == drawn
    joined = "\n".join(texts)
    for name in figs.values():
        assert name in joined, name
    assert "search.pdf" not in joined and "fig:search" not in joined


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TEX, reason="pdflatex/latexmk not installed")
def test_special_characters_in_names_compile(tmp_path):
    root = make_fixture_runs(
        tmp_path / "runs_50%_#1", seeds=2, people=(NASTY, "Zoë O'Neil", "李 x"), art_names=(NASTY, "J. M. W. Turner")
    )
    result = write_report(load_context(root), tmp_path / "rep")
    assert result.pdf is not None and result.pdf.is_file() and result.pages >= 5
    assert (tmp_path / "rep" / "report.tex").is_file() and (tmp_path / "rep" / "figures" / "mlp_units.png").is_file()
    assert not list(tmp_path.glob(".rep.*")), "no temporary folder left behind"


@pytest.mark.slow
def test_report_dir_is_never_a_foreign_folder(tmp_path):
    root = make_fixture_runs(tmp_path / "runs")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(CnnlabError, match="not a cnnlab report folder"):
        write_report(load_context(root), foreign, compile=False)
    assert (foreign / "thesis.tex").read_text() == "precious"
    result = build_report(
        ReportOptions(runtime=RuntimeOptions(out=root), report_dir=tmp_path / "rep", train=False, compile=False)
    )
    assert result.pdf is None and "not compiled" in result.message and result.seconds["experiments"] < 1
    write_report(load_context(root), tmp_path / "rep", compile=False)  # a cnnlab report folder is replaced


def test_broken_latex_is_one_line_error_and_keeps_the_log(tmp_path, monkeypatch):
    if not HAS_TEX:
        pytest.skip("pdflatex/latexmk not installed")
    import cnnlab.report.render as render

    root = make_fixture_runs(tmp_path / "runs")
    real = render.render_tex
    monkeypatch.setattr(
        render,
        "render_tex",
        lambda *a, **k: real(*a, **k).replace("\\end{abstract}", "\\undefinedmacro\\end{abstract}"),
    )
    with pytest.raises(CnnlabError) as err:
        write_report(load_context(root), tmp_path / "rep")
    assert (
        "LaTeX failed" in str(err.value)
        and "Undefined control sequence" in str(err.value)
        and "\n" not in str(err.value)
    )
    assert (tmp_path / "rep" / "report.log").is_file() and not (tmp_path / "rep" / "report.pdf").exists()


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TEX, reason="pdflatex/latexmk not installed")
def test_full_mode_layout_has_6_to_8_pages(tmp_path):
    """The handout's page limit, checked on a full-mode-sized fixture (5 repeats, every suite variant) with the
    course's names (long names: test_paper_supplement); no absolute path in either document."""
    result = write_report(load_context(make_fixture_runs(tmp_path / "runs", seeds=5)), tmp_path / "rep")
    assert 6 <= result.pages <= 8, result.pages
    assert absolute_paths(result.tex.read_text() + result.supplement_tex.read_text(), tmp_path) == []


def test_without_tex_the_bundle_is_written_and_says_how_to_compile(tmp_path, monkeypatch):
    ctx = load_context(make_fixture_runs(tmp_path / "runs", seeds=1))
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # no pdflatex, no latexmk
    result = write_report(ctx, tmp_path / "rep")
    assert (
        result.pdf is None and "TeX is not installed" in result.message and "latexmk -pdf report.tex" in result.message
    )
    assert (tmp_path / "rep" / "report.tex").is_file() and (tmp_path / "rep" / "cnnlab.sty").is_file()
    assert (
        tmp_path / "rep" / "supplement.tex"
    ).is_file() and "latexmk -pdf report.tex supplement.tex" in result.message
    assert (tmp_path / "rep" / "figures" / "deltas.pdf").is_file()


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TEX, reason="pdflatex/latexmk not installed")
def test_official_style_file_is_used_with_final_option(tmp_path):
    sty = tmp_path / "neurips_2099.sty"  # stands in for an official neurips_20XX.sty
    sty.write_text(
        "\\ProvidesPackage{neurips_2099}\n\\DeclareOption{final}{\\gdef\\seenfinal{}}\n\\ProcessOptions\\relax\n"
        "\\renewcommand{\\rmdefault}{ptm}\n\\usepackage[margin=1.5in]{geometry}\n"
    )
    result = write_report(load_context(make_fixture_runs(tmp_path / "runs", seeds=1)), tmp_path / "rep", style=sty)
    tex = result.tex.read_text()
    assert "\\usepackage[final]{neurips_2099}" in tex and "\\usepackage{cnnlab}" not in tex
    assert (tmp_path / "rep" / "neurips_2099.sty").is_file() and result.pdf.is_file()


@pytest.fixture
def tiny_art(tmp_path) -> Path:
    """12 'artists' x 8 small images (a colour cast each; names with LaTeX's special characters, and long ones):
    Part 1 in seconds."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(["Anna & Co", "Bert_#2", "Carl 100%", *LONG_ARTISTS[:9]]):
        (tmp_path / "art" / name).mkdir(parents=True)
        for i in range(8):
            img = rng.integers(0, 60, (24, 24, 3), dtype=np.uint8)
            img[..., c % 3] += 60 + 15 * c
            Image.fromarray(img).save(tmp_path / "art" / name / f"{i}.png")
    return tmp_path / "art"


def figure_scales(report_dir: Path, document: str = "report") -> dict[str, float]:
    """{figure file: printed width / drawn width} of every figure of a compiled document (report: the paper, or
    supplement): the printed width from
    the LaTeX log (render.FIGURE_WIDTH_LOG), the drawn one from the file (a PDF's MediaBox, a PNG's size / dpi).
    Photographs saved without a dpi (the prediction example) are left out."""
    from cnnlab.report.render import printed_widths

    scales = {}
    for name, printed in printed_widths((report_dir / f"{document}.log").read_text(errors="replace")).items():
        f = report_dir / name
        if f.suffix == ".pdf":
            box = re.search(rb"/MediaBox\s*\[\s*([\d.]+)\s+[\d.]+\s+([\d.]+)", f.read_bytes())
            drawn = (float(box.group(2)) - float(box.group(1))) / 72
        else:
            with Image.open(f) as im:
                if "dpi" not in im.info:
                    continue
                drawn = im.size[0] / im.info["dpi"][0]
        scales[Path(name).stem] = printed / drawn
    return scales


def run_folders(root: Path) -> dict[str, tuple[int, int, int]]:
    """{run id: (folder inode, summary.json inode, its mtime in ns)} of every finished run folder in `root`: a run
    trained again changes them (a new folder renamed into place, a new summary). The folder's own mtime does not
    say it: the report writes each key run's `diagnostics/` into it on every build."""
    return {
        p.name: (p.stat().st_ino, (p / "summary.json").stat().st_ino, (p / "summary.json").stat().st_mtime_ns)
        for p in root.iterdir()
        if (p / "summary.json").is_file() and not p.name.startswith(".")
    }


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TEX, reason="pdflatex/latexmk not installed")
def test_quick_report_builds_a_pdf(tmp_path, tiny_art):
    """The real thing, end to end through the CLI: every suite and Part 2 model trained briefly, then the PDF."""
    t0 = time.perf_counter()
    args = [
        sys.executable,
        "-m",
        "cnnlab",
        "report",
        "--quick",
        "--data",
        str(tiny_art),
        "--out",
        str(tmp_path / "runs"),
        "--report-dir",
        str(tmp_path / "report"),
        "--weights",
        "random",
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = time.perf_counter() - t0
    pdf = tmp_path / "report" / "report.pdf"
    assert pdf.is_file() and 5 <= page_count(pdf) <= MAX_PAGES  # the handout's limit, with 12 long names too
    tex = (tmp_path / "report" / "report.tex").read_text()
    assert "QUICK MODE" in tex and "untrained AlexNet" in tex and "Art data: real images." in tex
    # names from the data folder, escaped ("Bert_#2" is displayed "Bert #2" by the art loader)
    assert "Anna \\& Co (8)" in tex and "Bert \\#2 (8)" in tex and "Carl 100\\% (8)" in tex
    # folders named by their last component, never by an absolute path (issue 21, item 7)
    assert "\\texttt{art}" in tex and "\\texttt{runs}" in tex
    assert absolute_paths(tex, tmp_path) == []
    # every figure legible at print size: drawn at the width LaTeX prints it (scale 1), with no problem logged
    scales = figure_scales(tmp_path / "report") | figure_scales(tmp_path / "report", "supplement")
    assert set(scales) >= {"confusion_best", "confusion_faces", "deltas", "mlp_units", "art_overview"}
    assert {k: round(v, 3) for k, v in scales.items() if abs(v - 1) > 0.005} == {}
    assert "cnnlab.report.figures.layout" not in proc.stderr, proc.stderr[-3000:]
    assert f"report: {pdf}" in proc.stdout and "untrained AlexNet" in proc.stdout
    supplement = tmp_path / "report" / "supplement.pdf"
    assert supplement.is_file() and f"supplement: {supplement}" in proc.stdout
    # everything is cached now: a rerun only re-evaluates and re-renders, and trains nothing (issue 31, item 3):
    # no run folder is replaced (same folder, same summary.json) and none is judged damaged
    runs = run_folders(tmp_path / "runs")
    assert any(name.startswith("colour-only-") for name in runs)
    t1 = time.perf_counter()
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "damaged" not in again.stderr, again.stderr[-3000:]
    assert run_folders(tmp_path / "runs") == runs
    print(f"quick report: {first:.0f} s; cached rebuild: {time.perf_counter() - t1:.0f} s")


def test_bad_options_are_one_line_errors(tmp_path):
    for argv, message in (
        ([" --seeds", "1,1"], "--seeds names a seed twice"),
        (["--style", str(tmp_path / "none.sty")], "style file not found"),
        (["--style", str(tmp_path)], "must be a LaTeX .sty file"),
        (["--no-train", "--out", str(tmp_path / "missing")], "runs folder not found"),
    ):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "cnnlab",
                "report",
                *[a.strip() for a in argv],
                "--report-dir",
                str(tmp_path / "rep"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, (argv, proc.stderr)
        assert proc.stderr.startswith("cnnlab: error:") and message in proc.stderr and proc.stderr.count("\n") == 1
