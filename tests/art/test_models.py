import pytest
import torch

from cnnlab.art.config import ModelConfig
from cnnlab.art.models import MODELS, SimpleCNN, count_parameters, create_model, describe_layers, model_names
from cnnlab.core.errors import ConfigError


@pytest.mark.parametrize("name", MODELS.names())
def test_every_registered_art_model_builds_and_runs(name):
    model = create_model(name, num_classes=5)
    x = torch.randn(2, *model.input_shape)
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert out.shape == (2, 5)
    assert torch.isfinite(out).all()


def test_starter_shapes_and_parameter_count():
    model = SimpleCNN()
    rows = describe_layers(model, (3, 50, 50))
    convs = [r for r in rows if r["type"] == "Conv2d"]
    assert [r["output_shape"] for r in convs] == [(16, 23, 23), (16, 10, 10)]
    # conv1 3*16*25+16, conv2 16*16*25+16, fc1 1600*64+64, fc2 64*11+11
    assert count_parameters(model) == 1216 + 6416 + 102464 + 715


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(pool=True, pool_size=3, pool_stride=2),
        ModelConfig(filters=(8, 16, 32), kernel_sizes=3, strides=1, paddings=1, pool=True),
        ModelConfig(batch_norm=True, lrn=True, weight_norm=True, dropout=0.3, activation="tanh"),
        ModelConfig(fc_sizes=(128, 64), activation="gelu"),
    ],
)
def test_configurable_variants_run(cfg):
    model = SimpleCNN(cfg, num_classes=11)
    assert model(torch.randn(3, 3, 50, 50)).shape == (3, 11)


def test_too_deep_stack_names_the_layer():
    with pytest.raises(ConfigError, match="conv layer 4"):
        SimpleCNN(ModelConfig(filters=(8, 8, 8, 8)))
    with pytest.raises(ConfigError, match="max-pool after conv layer 1"):
        SimpleCNN(ModelConfig(filters=(8,), pool=True, pool_size=30, pool_stride=30))


def test_relus_are_not_inplace():
    model = SimpleCNN(ModelConfig(dropout=0.2))
    assert not any(getattr(m, "inplace", False) for m in model.modules())


def test_art_registry_is_part_1_only_and_honest():
    import subprocess
    import sys

    assert model_names() == MODELS.names() and "simple_cnn" in model_names()
    with pytest.raises(ConfigError, match="unknown model 'alexnet' .*simple_cnn"):
        create_model("alexnet", num_classes=5)
    # Building a Part 1 model never imports Part 2 (art and faces are independent).
    code = (
        "import sys; from cnnlab.art.models import create_model, model_names; create_model('simple_cnn', 3); model_names(); "
        "print(sorted(m for m in sys.modules if m.startswith('cnnlab.faces')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
