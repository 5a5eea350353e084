"""The Part 2 MLP: learns a separable toy set, named initialisations, unit choice and weight pictures."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from cnnlab.core.errors import ConfigError
from cnnlab.core.train.config import OptimizerConfig, TrainConfig
from cnnlab.core.train.trainer import Trainer
from cnnlab.faces.inspect.weight_pictures import plot_weight_grid, weight_grid_figure, wrap_label
from cnnlab.faces.models.inputs import input_stats
from cnnlab.faces.models.mlp import INITS, MLP, choose_units, unit_images
from cnnlab.faces.run_configs import INIT_DESCRIPTIONS, MLPConfig


def toy_set(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes of 8x8 images: bright left half vs bright right half, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.rand(n, 1, 8, 8, generator=g) * 0.6
    x[y == 0, :, :, :4] += 0.4
    x[y == 1, :, :, 4:] += 0.4
    return x.clamp(0, 1), y


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_mlp_learns_separable_toy_set(activation):
    x, y = toy_set(64, 0)
    xt, yt = toy_set(64, 1)
    torch.manual_seed(0)
    model = MLP(MLPConfig(image_size=8, hidden=16, activation=activation), 2, *input_stats(x))
    trainer = Trainer(TrainConfig(epochs=15, batch_size=16, optimizer=OptimizerConfig(lr=1e-2, weight_decay=1e-4)))
    trainer.fit(model, (x, y), (xt, yt))
    assert trainer.evaluate(model, xt, yt)[1] >= 0.95


def test_initialisations_are_named_and_applied():
    assert {"normal-0.01", "xavier-uniform", "kaiming-normal", "torch-default"} <= set(INITS.names())
    torch.manual_seed(0)
    m = MLP(MLPConfig(image_size=28, hidden=300, init="normal-0.01"), 3)
    w = m.hidden.weight.detach()
    assert abs(float(w.std()) - 0.01) < 0.001 and float(m.hidden.bias.detach().abs().max()) == 0.0
    x = MLP(MLPConfig(image_size=28, hidden=300, init="xavier-uniform"), 3)
    assert float(x.hidden.weight.detach().std()) > 0.05  # Glorot with the tanh gain: ~0.07 here
    with pytest.raises(ConfigError, match="weight initialisation"):
        MLPConfig(init="ones")
    with pytest.raises(ConfigError):
        MLPConfig(activation="sigmoid")
    with pytest.raises(ConfigError, match="at least 2 classes"):
        MLP(MLPConfig(image_size=4, hidden=3), 1)
    assert set(INITS.names()) == set(INIT_DESCRIPTIONS)  # every name the config accepts is implemented


def test_standardisation_lives_in_the_model():
    x = torch.rand(10, 3, 5, 5) * 0.5 + 0.25
    for mode, shape in (("pixel", (1, 3, 5, 5)), ("channel", (1, 3, 1, 1))):
        cfg = MLPConfig(image_size=5, channels=3, hidden=4, standardize=mode)
        m = MLP(cfg, 2, *input_stats(x, mode))
        assert m.mean.shape == shape and "mean" in m.state_dict() and "std" in m.state_dict()
    assert torch.allclose(m.mean.flatten(), x.mean(dim=(0, 2, 3)))
    pixel = MLP(MLPConfig(image_size=5, channels=3, hidden=4), 2, *input_stats(x, "pixel"))
    assert torch.allclose(pixel.mean[0], x.mean(0)) and float(pixel.std.min()) >= 0.05
    with torch.no_grad():  # forward standardises: the mean face becomes the zero input (only biases act)
        assert torch.allclose(pixel.eval()(pixel.mean), pixel.out(pixel.act(pixel.hidden.bias))[None], atol=1e-6)
    with pytest.raises(ConfigError, match="standardisation"):
        MLPConfig(standardize="zca")


def test_choose_units_follows_the_stated_rules():
    m = MLP(MLPConfig(image_size=4, hidden=6), 3)
    with torch.no_grad():
        m.out.weight.zero_()
        m.out.weight[0, 2] = 3.0  # unit 2: strongly for class 0 only
        m.out.weight[1, 4] = 2.0
        m.out.weight[2, 4] = 1.9  # unit 4: large for class 1, but almost as large for 2
        m.out.weight[2, 5] = 1.0  # unit 5: only for class 2
    top = choose_units(m, "top-outgoing", per_class=1)
    assert [(u["class_index"], u["unit"]) for u in top] == [(0, 2), (1, 4), (2, 5)]
    sel = choose_units(m, "most-selective", per_class=1)
    by_class = {u["class_index"]: u["unit"] for u in sel}
    assert by_class[0] == 2 and by_class[2] == 5 and by_class[1] != 5
    assert all(u["favours"] == u["class_index"] for u in sel if u["unit"] in (2, 5))
    assert len({u["unit"] for u in choose_units(m, per_class=2)}) == 6  # never the same unit twice
    with pytest.raises(ConfigError):
        choose_units(m, "random")


def test_weight_grid_is_written(tmp_path):
    m = MLP(MLPConfig(image_size=6, hidden=5), 2)
    chosen = choose_units(m, per_class=2)
    assert unit_images(m, [u["unit"] for u in chosen]).shape == (4, 1, 6, 6)
    path = tmp_path / "w.png"
    plot_weight_grid(m, chosen, ["Alec_Baldwin", "Bill Hader"], path, title="test")
    with Image.open(path) as im:
        assert im.size[0] > 100 and im.size[1] > 100


def test_weight_grid_titles_with_long_names_do_not_overlap():
    names = [
        "Mary-Louise Parker-Featherstonehaugh",
        "Jean-Claude Van Damme",
        "Bill_Hader",
        "Catherine Zeta-Jones",
        "Sarah Michelle Gellar",
        "Jennifer Love Hewitt",
    ]
    m = MLP(MLPConfig(image_size=6, hidden=12), len(names))
    chosen = choose_units(m, per_class=1)
    assert wrap_label("Bill_Hader") == "Bill Hader" and all(
        len(line) <= 18 for line in wrap_label(names[0]).split("\n")
    )
    fig = weight_grid_figure(m, chosen, names, title="a long title " * 12)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    titles = [ax.title for ax in fig.axes if ax.get_title()]
    boxes = [t.get_window_extent(renderer) for t in titles]
    images = [ax.get_images()[0].get_window_extent(renderer) for ax in fig.axes if ax.get_images()]
    assert len(boxes) == len(names) == len(images)
    for i, a in enumerate(boxes):
        assert not any(a.overlaps(b) for b in boxes[i + 1 :]), titles[i].get_text()
        assert not any(a.overlaps(img) for img in images), titles[i].get_text()  # no title runs into a tile
    from cnnlab.core.plotting import pyplot

    pyplot().close(fig)
