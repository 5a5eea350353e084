"""AlexNet with torchvision's parameter names (the model; weights in .weights, features in .features).

torchvision cannot be imported here, so the network is written out with the same module layout
(`features.{0,3,6,8,10}` convolutions, `avgpool`, `classifier.{1,4,6}` linears) so that the official
ImageNet weights (alexnet-owt-7be5be79.pth) load with `strict=True`. Every ReLU is its own module and
out of place: attribution hooks (captum's guided backprop) break on in-place ReLUs and on reused ones.

Weights live in cnnlab.faces.alexnet.weights and cached activations in cnnlab.faces.alexnet.features.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from cnnlab.core.errors import CnnlabError, ConfigError
from cnnlab.faces.alexnet import LAYERS, MIN_INPUT_SIZE

log = logging.getLogger(__name__)

OFFICIAL_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
WEIGHTS_FILENAME = "alexnet-owt-7be5be79.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INPUT_SIZE = 227  # the course's crop size; AdaptiveAvgPool2d((6, 6)) also admits 224 and anything >= 63
UNTRAINED_LABEL = "untrained AlexNet"
FEATURE_CACHE_FORMAT = 1

DEFAULT_LAYER = "conv4"


class AlexNet(nn.Module):
    """torchvision's AlexNet (the 'one weird trick' variant), module for module, with out-of-place ReLUs."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),  # 0
            nn.ReLU(inplace=False),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),  # 3
            nn.ReLU(inplace=False),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),  # 6
            nn.ReLU(inplace=False),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),  # 8
            nn.ReLU(inplace=False),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),  # 10
            nn.ReLU(inplace=False),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),  # 1
            nn.ReLU(inplace=False),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),  # 4
            nn.ReLU(inplace=False),
            nn.Linear(4096, num_classes),  # 6
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 256, h, w); h = w = 6 at 224/227
        x = self.avgpool(x)  # (B, 256, 6, 6)
        x = torch.flatten(x, 1)  # (B, 9216)
        return self.classifier(x)


def pool_to_grid(x: torch.Tensor, grid: int | None) -> torch.Tensor:
    """Average-pool (B, C, h, w) activations to (B, C, grid, grid); anything else (grid None, or (B, D)) as is."""
    if grid is None or x.ndim != 4:
        return x
    return nn.functional.adaptive_avg_pool2d(x, grid)


class AlexNetTrunk(nn.Module):
    """AlexNet up to a named layer, keeping torchvision's parameter names (a subset of them).

    Output: (B, D) flattened activations, e.g. D = 256*13*13 = 43264 for conv4 at 227x227. grid: a
    convolutional layer's activations average-pooled to grid x grid first (D = 256*6*6 for conv4, grid 6).
    """

    def __init__(self, layer: str = DEFAULT_LAYER, init: bool = True, grid: int | None = None) -> None:
        super().__init__()
        stage, n = layer_spec(layer)
        if grid is not None and stage == "classifier":
            raise ConfigError(f"AlexNet layer {layer} has no spatial grid to pool")
        full = empty_alexnet()  # allocate, then initialise only the layers kept
        self.layer, self.grid = layer, grid
        self.features = full.features if stage != "features" else full.features[:n]
        self.avgpool = full.avgpool if stage in ("avgpool", "classifier") else None
        self.classifier = full.classifier[:n] if stage == "classifier" else None
        if init:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    m.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        if self.avgpool is not None:
            x = self.avgpool(x)
        x = pool_to_grid(x, self.grid)  # (B, C, h, w) -> (B, C, grid, grid)
        x = torch.flatten(x, 1)
        if self.classifier is not None:
            x = self.classifier(x)
        return x

    def load_from_alexnet(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load the matching subset of a full AlexNet state dict, strictly for that subset."""
        for name in ("features", "classifier"):
            module = getattr(self, name)
            if module is None:
                continue
            own = [f"{name}.{k}" for k in module.state_dict()]
            missing = [k for k in own if k not in state_dict]
            if missing:
                raise CnnlabError(f"AlexNet weights lack {len(missing)} keys (first: {missing[0]})")
            load_strict(module, {k.split(".", 1)[1]: state_dict[k] for k in own}, "AlexNet trunk")


class Normalize(nn.Module):
    """(x - mean) / std per channel; constants, so the buffers stay out of the state dict."""

    def __init__(self, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def empty_alexnet(num_classes: int = 1000, dropout: float = 0.5) -> AlexNet:
    """An AlexNet with allocated but uninitialised parameters (for loading weights: skips ~1 s of init)."""
    with torch.device("meta"):
        net = AlexNet(num_classes=num_classes, dropout=dropout)
    return net.to_empty(device="cpu")


def layer_spec(layer: str) -> tuple[str, int]:
    if layer not in LAYERS:
        raise ConfigError(f"unknown AlexNet layer {layer!r} (choose from: {', '.join(LAYERS)})")
    return LAYERS[layer]


def feature_shape(layer: str, size: int = INPUT_SIZE, grid: int | None = None) -> tuple[int, ...]:
    """Shape (C, H, W) or (D,) of one face's activations at `layer` for a size x size input (pooled to grid)."""
    if size < MIN_INPUT_SIZE:
        raise ConfigError(f"AlexNet needs inputs of at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE}, got {size}")
    stage, _ = layer_spec(layer)
    trunk = AlexNetTrunk(layer)
    with torch.inference_mode():
        x = torch.zeros(1, 3, size, size)
        y = trunk.features(x) if stage == "features" else trunk(x)
    if grid is not None and len(y.shape) == 4:
        return (int(y.shape[1]), grid, grid)
    return tuple(y.shape[1:])


def check_shapes(state_dict: dict[str, Any], own: dict[str, Any] | None = None, what: str = "AlexNet") -> None:
    """One-line CnnlabError unless `state_dict` has exactly the names and shapes of `own` (default:
    AlexNet with however many outputs its last layer has)."""
    if own is None:
        n_out = tuple(state_dict["classifier.6.weight"].shape)[0] if "classifier.6.weight" in state_dict else 1000
        with torch.device("meta"):
            own = AlexNet(num_classes=n_out).state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    wrong = [k for k in own if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:3]}")
        if wrong:
            k = wrong[0]
            parts.append(f"shape of {k} is {tuple(state_dict[k].shape)}, expected {tuple(own[k].shape)}")
        raise CnnlabError(f"weights do not fit the {what}: " + "; ".join(parts))


def load_strict(model: nn.Module, state_dict: dict[str, Any], what: str) -> None:
    """load_state_dict(strict=True), with a one-line CnnlabError instead of a multi-line RuntimeError."""
    check_shapes(state_dict, model.state_dict(), what)
    model.load_state_dict(state_dict, strict=True)


def load_alexnet(state_dict: dict[str, torch.Tensor], num_classes: int | None = None) -> AlexNet:
    """An AlexNet with `state_dict` loaded strictly; `num_classes` replaces the last layer afterwards."""
    n_out = tuple(state_dict["classifier.6.weight"].shape)[0] if "classifier.6.weight" in state_dict else 1000
    net = empty_alexnet(num_classes=n_out)
    load_strict(net, state_dict, "AlexNet")
    if num_classes is not None and num_classes != n_out:
        net.classifier[6] = nn.Linear(4096, num_classes)
    return net
