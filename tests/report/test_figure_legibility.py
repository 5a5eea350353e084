"""Report figures are legible at the size they print (issue 21, item 6): each is drawn at its print width
(report.figures.layout.PRINT) and `legibility_problems` finds no overlapping texts, no text under 6 pt, nothing
cut off and no plot too small, with 12 long artist names and 40 long face names."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from report_fixture import LONG_ARTISTS, LONG_PEOPLE, make_fixture_runs

from cnnlab.core.plotting import pyplot
from cnnlab.report.context import load_context
from cnnlab.report.figures import confusion, images, layout
from cnnlab.report.figures import key_runs as diag_figures
from cnnlab.report.figures.build import make_figures
from cnnlab.report.figures.legibility import legibility_problems
from cnnlab.report.figures.names import abbreviations, fit, needs_key, text_width, wrap

OLIVETTI = tuple(f"s{i}" for i in range(1, 41))


@pytest.fixture
def drawn(monkeypatch):
    """The figures the report saves, kept open instead (with their print width); checked and closed afterwards."""
    figs: list = []

    def keep(fig, path, width, dpi=200):
        figs.append((fig, width))
        return path

    for module in (confusion, images, diag_figures):
        monkeypatch.setattr(module, "save", keep)
    yield figs
    for fig, width in figs:
        assert abs(fig.get_figwidth() - width.inches) < 0.01, "drawn at its print width"
        assert legibility_problems(fig, width.inches) == []
        pyplot().close(fig)


# ----------------------------------------------------------------------------- the checker itself
def test_the_checker_finds_each_kind_of_problem():
    plt = pyplot()
    fig = plt.figure(figsize=(2.0, 1.5))
    fig.text(0.1, 0.5, "overlapping text", fontsize=7)
    fig.text(0.15, 0.5, "another text", fontsize=7)
    fig.text(0.1, 0.2, "tiny", fontsize=5)
    fig.text(0.9, 0.9, "cut off at the edge", fontsize=7)
    ax = fig.add_axes((0.6, 0.1, 0.15, 0.15))  # 0.3 in: too small a plot
    ax.plot([0, 1], [0, 1])
    problems = legibility_problems(fig)
    assert any("overlap" in p for p in problems)
    assert any("'tiny' prints at 5 pt" in p for p in problems)
    assert any("cut off" in p for p in problems)
    assert any(p.startswith("plot") and "< 0.6 in" in p for p in problems)
    # the same figure printed three times as wide: fonts and plot grow, so those problems go
    bigger = legibility_problems(fig, 6.0)
    assert not any("prints at" in p or p.startswith("plot") for p in bigger)
    plt.close(fig)

    clean = plt.figure(figsize=(2.0, 1.8))
    ax = clean.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.set(xlabel="epoch", ylabel="accuracy (%)", title="a readable plot")
    clean.tight_layout()
    assert legibility_problems(clean) == []
    plt.close(clean)


def test_print_widths_are_fractions_of_the_text_width():
    assert layout.TEXT_WIDTH == 5.5
    assert layout.PRINT["confusion_best"].tex == r"\linewidth" and layout.PRINT["confusion_faces"].fraction == 1
    assert layout.PRINT["search"].tex == r"0.47\linewidth"
    assert layout.PRINT["baseline_curves"].inches == pytest.approx(0.44 * 5.5)
    assert all(0 < w.fraction <= 1 for w in layout.PRINT.values())


# ----------------------------------------------------------------------------- names
def test_tags_are_unique_and_short():
    for names in (LONG_ARTISTS, LONG_PEOPLE, OLIVETTI, ("Anna Bell", "Alan Bell", "A. Bell", "Ab", "Anne Brown")):
        tags = abbreviations(names)
        assert len(set(tags.values())) == len(names), tags
        assert all(1 <= len(t) <= 6 for t in tags.values())
    assert abbreviations(("Gerard Butler", "Canaletto", "s12")) == {
        "Gerard Butler": "GB",
        "Canaletto": "Can",
        "s12": "s12",
    }
    assert not needs_key(abbreviations(OLIVETTI)) and needs_key(abbreviations(LONG_ARTISTS))


def test_cut_and_wrapped_names_fit_their_width():
    for name in (*LONG_ARTISTS, *LONG_PEOPLE, "Paul & Sandby_#1 %$ {x}"):
        assert text_width(fit(name, 40, 6), 6) <= 40
        lines = wrap(name, 36, 6, 2).split("\n")
        assert len(lines) <= 2 and all(text_width(line, 6) <= 36 for line in lines)
    assert fit("Gerard Butler", 200, 6) == "Gerard Butler" and fit("Bartholomew Featherstonehaugh", 30, 6).endswith("…")


# ----------------------------------------------------------------------------- confusion matrices
def _confusion(k: int, top: int = 9) -> np.ndarray:
    rng = np.random.default_rng(k)
    return rng.integers(0, 3, (k, k)) + np.eye(k, dtype=int) * top


@pytest.mark.parametrize(
    "names, width",
    [
        (LONG_ARTISTS, "confusion_best"),
        (LONG_PEOPLE, "confusion_faces"),
        (OLIVETTI, "confusion_faces_beside"),  # short names: beside the hidden units, however many (40 at most)
        (OLIVETTI[:8], "confusion_faces_beside"),
        (LONG_ARTISTS[:3], "confusion_best"),
        (tuple(f"{n} {i}" for i in range(2) for n in LONG_PEOPLE), "confusion_faces"),  # 80: the 40 most confused
    ],
    ids=["12 long artists", "40 long people", "40 Olivetti", "8 Olivetti", "3 long artists", "80 people"],
)
def test_confusion_matrices_are_legible_at_print_size(tmp_path, drawn, names, width):
    k = len(names)
    strip = None
    if width == "confusion_best":  # Part 1: the top losses under the key, in the same tags
        items = [{"true": names[i], "predicted": names[-1 - i], "p_predicted": 0.97} for i in range(min(4, k))]
        strip = ([np.random.default_rng(i).random((24, 24, 3)) for i in range(len(items))], items)
    if width.startswith("confusion_faces"):
        assert confusion.face_width(names) == layout.PRINT[width]
    facts = confusion.plot_confusion(_confusion(k), names, tmp_path / "c.pdf", layout.PRINT[width], strip)
    fig, _ = drawn[-1]
    shown = facts["shown"] or names
    assert len(shown) == min(k, confusion.MAX_CLASSES)
    texts = {t.get_text() for t in fig.texts}
    if needs_key(abbreviations(names)):  # the key: every shown tag with (the start of) its name
        assert {facts["tags"][n] for n in shown} <= texts
    assert facts["numbers"] == (k <= 12)  # counts in the cells where they fit at 6 pt


def test_confusion_with_many_errors_keeps_its_counts_legible(tmp_path, drawn):
    confusion.plot_confusion(_confusion(12, top=250), LONG_ARTISTS, tmp_path / "c.pdf")


# ----------------------------------------------------------------------------- the other figures
def test_art_overview_with_long_names(tmp_path, drawn):
    k, per = len(LONG_ARTISTS), 2
    dataset = SimpleNamespace(
        class_names=list(LONG_ARTISTS),
        labels=torch.arange(k).repeat_interleave(per),
        images=torch.rand(k * per, 3, 32, 32) - 0.5,
    )
    images.plot_art_overview(dataset, tmp_path / "art_overview.png")
    assert len(drawn) == 1


def test_filters_tiles(tmp_path, drawn):
    diag_figures.plot_filters([np.random.default_rng(i).random((5, 5, 3)) for i in range(16)], tmp_path / "f.png")
    diag_figures.plot_filters([np.random.default_rng(i).random((3, 3)) for i in range(32)], tmp_path / "g.png")


@pytest.mark.parametrize("names", ["short", "long"])
def test_figures_drawn_from_a_runs_folder_are_legible(tmp_path, caplog, names):
    """Every figure `make_figures` draws (learning curves, deltas, search, robustness, Part 2 curves) goes
    through layout.save, which logs a warning for any legibility problem: none here."""
    kw = dict(art_names=LONG_ARTISTS, people=LONG_PEOPLE, synthetic=False) if names == "long" else {}
    ctx = load_context(make_fixture_runs(tmp_path / "runs", seeds=5, **kw))
    with caplog.at_level(logging.WARNING, logger="cnnlab.report.figures.layout"):
        drawn = make_figures(ctx, tmp_path / "figures")
    assert set(drawn) >= {"baseline_curves", "deltas", "search", "robust_curves", "part2_curves"}
    assert [r.getMessage() for r in caplog.records if r.name == "cnnlab.report.figures.layout"] == []
    for name in drawn.values():
        assert layout.PRINT.get(name.rsplit(".", 1)[0]) is not None, f"{name} has no print width"
