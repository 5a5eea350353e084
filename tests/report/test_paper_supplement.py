"""The report as a paper of at most 8 pages and a supplement (issue 31, item 1): every float of the budget-free
report is in exactly one of the two documents, the paper refers to the supplement's floats by their S numbers,
and with extreme inputs (40 long face names, 12 long artist names, numbers of every width, every verdict and
every optional part) the paper still has at most 8 pages, legible figures and no absolute path."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_fixture import LONG_ARTISTS, LONG_PEOPLE, make_fixture_runs
from test_report import HAS_TEX, absolute_paths, figure_scales

from cnnlab.report.context import load_context
from cnnlab.report.render import MAX_PAGES, render_bundle, render_tex, write_report
from cnnlab.report.supplement import MOVABLE, SUPPLEMENT_ALWAYS

LABEL = re.compile(r"\\label\{([^}]*)\}")
GRAPHICS = re.compile(r"\\includegraphics(?:\[[^\]]*\])?\{([^}]*)\}")


def floats(tex: str) -> tuple[set[str], set[str]]:
    """The labels and the included figure files of a .tex (comments left out)."""
    body = "\n".join(line for line in tex.splitlines() if not line.lstrip().startswith("%"))
    return set(LABEL.findall(body)), set(GRAPHICS.findall(body))


def _edit(root: Path, name: str, edit) -> None:
    path = root / "suites" / name / "suite.json"
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


def extreme_runs(root: Path) -> Path:
    """The fixture at full size with long names, numbers of every width and every verdict."""
    make_fixture_runs(root, seeds=5, art_names=LONG_ARTISTS, people=LONG_PEOPLE, synthetic=False)

    def widths(meta):
        base = meta["rows"][0]
        for i, row in enumerate(meta["rows"][1:], 1):
            row["params"] = [7, 1_234, 98_765_432, 1_234_567_890][i % 4]
            if i % 3 == 0:  # better: every repeat far above the reference
                values = [min(1.0, v + 0.3) for v in base["per_repeat"]["val_acc"]]
            elif i % 3 == 1:  # no effect: the reference's numbers exactly
                values = list(base["per_repeat"]["val_acc"])
            else:  # worse: every repeat at 0
                values = [0.0] * len(base["per_repeat"]["val_acc"])
            row["per_repeat"]["val_acc"] = values
            row["val_acc_mean"] = sum(values) / len(values)
        base["per_repeat"]["train_acc"] = [1.0] * base["n"]
        base["train_acc_mean"] = 1.0

    for name in ("regularization", "architecture", "pooling"):
        _edit(root, name, widths)
    _edit(
        root,
        "search",
        lambda m: m.update(
            trials=[{"number": i, "status": "complete" if i % 3 else "pruned", "value": 0.001 * i} for i in range(200)]
        ),
    )
    return root


@pytest.fixture(scope="module")
def extreme(tmp_path_factory) -> Path:
    return extreme_runs(tmp_path_factory.mktemp("extreme") / "runs")


def test_every_float_is_in_exactly_one_document_and_referred_to_by_its_number(extreme, tmp_path):
    ctx = load_context(extreme)
    full = render_tex(ctx, tmp_path / "full")  # the budget-free report: one document with everything
    paper_tex, supp_tex = render_bundle(ctx, tmp_path / "split")
    paper, supp = paper_tex.read_text(), supp_tex.read_text()
    (full_labels, full_graphics), (p_labels, p_graphics), (s_labels, s_graphics) = map(floats, (full, paper, supp))
    assert p_labels | s_labels == full_labels and not p_labels & s_labels, (full_labels, p_labels, s_labels)
    assert p_graphics | s_graphics == full_graphics and not p_graphics & s_graphics
    assert set(SUPPLEMENT_ALWAYS) <= s_labels | {"fig:search"} and "app:runs" in s_labels
    assert {"tab:layers", "fig:baseline", "fig:deltas", "tab:part2", "fig:curves", "fig:units", "fig:gbp"} <= p_labels
    # every \ref of the paper is to one of its own floats; a supplement float is quoted by its number, once at least
    assert set(re.findall(r"\\ref\{([^}]*)\}", paper)) <= p_labels
    assert set(re.findall(r"\\ref\{([^}]*)\}", supp)) <= s_labels
    numbers = re.findall(r"\\setcounter\{(figure|table)\}\{(\d+)\}\n(?:%[^\n]*\n)*\\begin\{\1\}", supp)
    assert len(numbers) == len([x for x in s_labels if x.startswith(("fig:", "tab:")) and x != "fig:toplosses"])
    for kind, before in numbers:
        name = "Figure" if kind == "figure" else "Table"
        assert f"{name}~S{int(before) + 1}" in paper, (name, before)
    assert "Section~S3 of the supplement" in paper and "supplement.pdf" in paper
    # nothing is dropped: the run ids of every table row are in one of the two documents
    for suite in ctx.part1.suites.values():
        for row in suite["rows"]:
            assert all(rid in paper + supp for rid in row["run_ids"])
    assert absolute_paths(paper + supp, extreme) == []


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TEX, reason="pdflatex/latexmk not installed")
def test_extreme_inputs_give_a_paper_of_at_most_8_pages_and_a_supplement(extreme, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    ctx = load_context(extreme)
    result = write_report(ctx, tmp_path / "rep")
    assert result.pages <= MAX_PAGES and result.supplement_pages >= 2, (result.pages, result.supplement_pages)
    assert result.pdf.is_file() and result.supplement.is_file() and result.supplement.name == "supplement.pdf"
    assert not [r for r in caplog.records if "guard" in r.getMessage() or "the paper has" in r.getMessage()], (
        "the paper fits by construction: no guard step"
    )
    paper, supp = result.tex.read_text(), result.supplement_tex.read_text()
    assert absolute_paths(paper + supp, tmp_path, extreme) == []
    # figures legible where they print: scale 1 in both documents, and no legibility warning while drawing
    scales = figure_scales(tmp_path / "rep", "report") | figure_scales(tmp_path / "rep", "supplement")
    assert {"confusion_best", "confusion_faces", "deltas", "search", "robust_curves"} <= set(scales)  # PNGs: no dpi
    assert {k: round(v, 3) for k, v in scales.items() if abs(v - 1) > 0.005} == {}
    assert not [r for r in caplog.records if r.name.startswith("cnnlab.report.figures")]
    if shutil.which("pdftotext"):  # the numbers the paper quotes are the numbers the supplement prints
        text = _pdf_text(result.supplement)
        for number in sorted(set(re.findall(r"(?:Figure|Table)~(S\d+)", paper))):
            assert re.search(rf"(Figure|Table) {number}:", text), number
        assert "…" not in text and "…" not in _pdf_text(result.pdf)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TEX, reason="pdflatex/latexmk not installed")
def test_the_guard_moves_floats_to_the_supplement_and_never_deletes(extreme, tmp_path, monkeypatch, caplog):
    import cnnlab.report.render as render

    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(render, "MAX_PAGES", 6)  # a limit the designed layout (7 pages here) misses
    ctx = load_context(extreme)
    result = write_report(ctx, tmp_path / "rep")
    paper, supp = result.tex.read_text(), result.supplement_tex.read_text()
    moved = [r.getMessage() for r in caplog.records if "to the supplement" in r.getMessage()]
    (p_labels, p_graphics), (s_labels, s_graphics) = floats(paper), floats(supp)
    full_labels, full_graphics = floats(render_tex(ctx, tmp_path / "full"))
    movable = [label for label in MOVABLE if label in full_labels]  # floats this report has, in the guard's order
    assert moved and [m.split("moving ")[1].split()[0] for m in moved] == movable[: len(moved)]
    assert p_labels | s_labels == full_labels and p_graphics | s_graphics == full_graphics
    assert set(movable[: len(moved)]) <= s_labels and result.pages <= 6, result.pages
    assert result.pdf.is_file() and result.supplement.is_file()
