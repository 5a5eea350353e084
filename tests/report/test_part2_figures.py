"""The Part 2 report figures with the longest FaceScrub names: no label runs into another or into a picture."""

from __future__ import annotations

import pytest
from test_part2 import synthetic_faces, untrained_weights

from cnnlab.core.runtime import RuntimeOptions
from cnnlab.core.train.config import OptimizerConfig, TrainConfig
from cnnlab.faces.run_configs import FeaturesConfig, FeaturesRunConfig, MLPConfig, MLPRunConfig
from cnnlab.faces.training.alexnet_runs import AlexNetInputs
from cnnlab.faces.training.small import train_mlp
from cnnlab.faces.training.transfer import alexnet_features
from cnnlab.report.context import PART2_GROUPS
from cnnlab.report.figures import curves as plots
from cnnlab.report.figures import images as figures
from cnnlab.report.figures.build import curve_titles
from cnnlab.report.figures.legibility import legibility_problems
from plot_helpers import overlapping_texts

# The longest names of the FaceScrub lists (../shared/data/facescrub/lists: 12 course and 40 subset people),
# and a course actor: the figures must fit them whichever the data.
LONG_NAMES = (
    "Christina Applegate",
    "Julianna Margulies",
    "Kristin Chenoweth",
    "Michael Weatherly",
    "Lorraine Bracco",
    "Felicity Huffman",
)


@pytest.fixture
def captured(monkeypatch):
    """The figures the report would save, kept open (drawn) instead; each must be legible at its print width."""
    figs, widths = [], []

    def keep(fig, path, width):
        figs.append(fig)
        widths.append(width)
        return path

    monkeypatch.setattr(figures, "save", keep)
    monkeypatch.setattr(plots, "save", keep)
    yield figs
    from cnnlab.core.plotting import pyplot

    for fig, width in zip(figs, widths):
        assert abs(fig.get_figwidth() - width.inches) < 0.01
        assert legibility_problems(fig, width.inches) == []
        pyplot().close(fig)


def test_longest_names_are_the_ones_of_the_lists():
    from pathlib import Path

    lists = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "facescrub" / "lists"
    if not lists.is_dir():
        pytest.skip("../shared/data/facescrub/lists is not here")
    names = {
        line.split("\t")[0]
        for f in lists.glob("*.txt")
        for line in f.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    longest = max(len(n) for n in names)
    assert max(len(n) for n in LONG_NAMES) == longest and set(LONG_NAMES[:2]) <= names


def test_mlp_unit_pictures_with_long_names(tmp_path, captured):
    faces = synthetic_faces(28, 1, per_class=(6, 2, 2), names=LONG_NAMES)
    train = TrainConfig(epochs=3, batch_size=8, optimizer=OptimizerConfig(lr=1e-2))
    runs = {
        str(h): train_mlp(
            faces, MLPRunConfig(mlp=MLPConfig(hidden=h, max_tiles=2), train=train), tmp_path / "runs"
        ).path
        for h in (300, 800)
    }
    facts = figures.plot_mlp_units(runs, faces, tmp_path / "units.png")
    assert len(captured) == 1 and {r["person"] for rows in facts["units"].values() for r in rows} <= set(LONG_NAMES)
    titles = [ax.get_title() for ax in captured[0].axes if ax.get_title()]
    assert len(titles) == 8 and any(
        "Christina" in t or "Julianna" in t or "Kristin" in t or "Michael" in t for t in titles
    )
    assert overlapping_texts(captured[0]) == []


def test_guided_backprop_with_long_names(tmp_path, captured):
    faces = synthetic_faces(67, 3, per_class=(4, 2, 2), names=LONG_NAMES)
    sd, weights = untrained_weights()
    config = FeaturesRunConfig(
        features=FeaturesConfig(head_hidden=(8,), input_size=67, weights="random"),
        train=TrainConfig(epochs=2, batch_size=8, optimizer=OptimizerConfig(lr=1e-3)),
    )
    run = alexnet_features(AlexNetInputs(faces, sd, weights), config, RuntimeOptions(out=tmp_path / "runs"))
    facts = figures.plot_guided_backprop(run.path / "model.pt", faces, tmp_path / "gbp.png")
    assert len(captured) == 1 and all(i["true"] in LONG_NAMES for i in facts["items"])
    assert overlapping_texts(captured[0]) == []


def test_part2_learning_curve_titles_do_not_overlap(captured, tmp_path):
    curve = {
        "epoch": [0.0, 1.0, 2.0],
        **{
            f"{s}_acc_{m}": [0.5, 0.6, 0.7] if m == "mean" else [0.0] * 3
            for s in ("train", "val", "test")
            for m in ("mean", "std")
        },
    }
    for pretrained in (False, True):
        curves = {k: curve for k in PART2_GROUPS}
        plots.plot_part2_curves(curves, curve_titles(pretrained), tmp_path / "curves.png")
    assert len(captured) == 2
    for fig in captured:
        assert overlapping_texts(fig) == []
