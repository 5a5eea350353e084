"""Explanations: captum guided backprop through every ReLU (classifier ones too), all methods end to end."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from torch import nn

from cnnlab.core.config import to_dict
from cnnlab.core.errors import CnnlabError, ConfigError
from cnnlab.faces.inspect.explain import EXPLAINERS, attribute, check_relus, explain_image
from cnnlab.faces.models.checkpoints import save_checkpoint
from cnnlab.faces.models.heads import FeatureClassifier
from cnnlab.faces.models.mlp import MLP
from cnnlab.faces.run_configs import MLPConfig


class _GuidedReLU(torch.autograd.Function):
    """Reference guided ReLU: forward ReLU, backward passes only positive gradients where input > 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x > 0) * (g > 0)


class TinyNet(nn.Module):
    """conv -> ReLU -> flatten -> fc -> ReLU -> fc; `guided` picks which ReLUs the reference guides."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.conv = nn.Conv2d(1, 4, 3)
        self.relu1 = nn.ReLU()
        self.fc1 = nn.Linear(4 * 6 * 6, 10)
        self.relu2 = nn.ReLU()
        self.fc2 = nn.Linear(10, 3)
        self.guided: set[str] = set()

    def forward(self, x):
        h = self.conv(x)
        h = _GuidedReLU.apply(h) if "conv" in self.guided else self.relu1(h)
        h = self.fc1(h.flatten(1))
        h = _GuidedReLU.apply(h) if "fc" in self.guided else self.relu2(h)
        return self.fc2(h)


def reference(net: TinyNet, x: torch.Tensor, target: int, guided: set[str]) -> torch.Tensor:
    net.guided = guided
    x = x.clone().requires_grad_(True)
    net(x)[0, target].backward()
    net.guided = set()
    return x.grad


def test_guided_backprop_passes_through_classifier_relus():
    net = TinyNet().eval()
    x = torch.rand(1, 1, 8, 8)
    got = attribute(net, x, target=1, method="guided-backprop")
    full = reference(net, x, 1, {"conv", "fc"})
    conv_only = reference(net, x, 1, {"conv"})  # what hooking only the conv features would give
    assert torch.allclose(got, full, atol=1e-6)
    assert not torch.allclose(got, conv_only, atol=1e-6)


def test_relu_checks():
    assert check_relus(TinyNet()) == 2
    bad = nn.Sequential(nn.Linear(4, 4), nn.ReLU(inplace=True), nn.Linear(4, 2))
    with pytest.raises(CnnlabError, match="in-place"):
        check_relus(bad)
    relu = nn.ReLU()
    reused = nn.Sequential(nn.Linear(4, 4), relu, nn.Linear(4, 4), relu, nn.Linear(4, 2))
    with pytest.raises(CnnlabError, match="twice"):
        check_relus(reused, torch.rand(1, 4))


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A tiny MLP checkpoint (grayscale 12x12) and a tiny AlexNet-features one (RGB 67x67, random weights)."""
    d = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    mlp = MLP(MLPConfig(image_size=12, hidden=8, activation="relu"), 3)
    save_checkpoint(
        d / "mlp.pt",
        mlp,
        kind="mlp",
        config=to_dict(mlp.config),
        class_names=["a", "b", "c"],
        image_size=12,
        channels=1,
        meta={"description": "tiny MLP"},
    )
    feat = FeatureClassifier("conv4", 256 * 3 * 3, [16], 3)
    save_checkpoint(
        d / "alex.pt",
        feat,
        kind="alexnet-features",
        config={"layer": "conv4", "in_features": 2304, "hidden": [16], "dropout": 0.0},
        class_names=["a", "b", "c"],
        image_size=67,
        channels=3,
        meta={"description": "tiny untrained AlexNet conv4 head", "weights": {"pretrained": False}},
    )
    Image.fromarray((torch.rand(40, 30, 3) * 255).byte().numpy()).save(d / "face.png")
    return d


@pytest.mark.parametrize("method", EXPLAINERS.names())
def test_explain_writes_png_for_every_method(checkpoints, tmp_path, method):
    out = tmp_path / f"{method}.png"
    res = explain_image(checkpoints / "face.png", checkpoints / "alex.pt", out, method=method)
    assert len(res.classes) == 2 and res.classes[0][1] >= res.classes[1][1]
    with Image.open(out) as im:
        assert im.size[0] > 300


def test_explain_mlp_and_named_classes(checkpoints, tmp_path):
    out = tmp_path / "mlp.png"
    res = explain_image(checkpoints / "face.png", checkpoints / "mlp.pt", out, classes=["c", "a"])
    assert [c for c, _ in res.classes] == ["c", "a"] and out.is_file()
    with pytest.raises(ConfigError, match="convolutional"):
        explain_image(checkpoints / "face.png", checkpoints / "mlp.pt", out, method="guided-gradcam")
    with pytest.raises(CnnlabError, match="unknown class"):
        explain_image(checkpoints / "face.png", checkpoints / "mlp.pt", out, classes=["zz"])
    with pytest.raises(ConfigError, match="attribution method"):
        explain_image(checkpoints / "face.png", checkpoints / "mlp.pt", out, method="lime")


def test_attribution_shape_and_hooks_removed(checkpoints):
    from cnnlab.faces.models.checkpoints import load_checkpoint

    clf = load_checkpoint(checkpoints / "alex.pt")
    x = torch.rand(1, 3, 67, 67)
    a = attribute(clf.model, x, 0, "guided-backprop")
    assert a.shape == x.shape and float(a.abs().sum()) > 0
    # No hooks left behind: a plain gradient afterwards is unaffected by guided backprop.
    assert all(not (m._backward_hooks or m._forward_hooks or m._forward_pre_hooks) for m in clf.model.modules())
