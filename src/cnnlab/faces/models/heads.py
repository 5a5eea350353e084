"""The networks of 2.2 and 2.4 built on AlexNet: a fully connected head on flattened features (`FeatureHead`),
AlexNet up to a layer plus that head as one network (`FeatureClassifier`), and AlexNet with ImageNet
normalisation in front and one output per person (`FaceAlexNet`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnlab.core.config import check_parameter_count
from cnnlab.faces.alexnet.model import AlexNet, AlexNetTrunk, Normalize


class FeatureHead(nn.Module):
    """Fully connected classifier on flattened features: standardise -> [Linear -> ReLU -> Dropout]* -> Linear.

    The per-feature mean/std (buffers, set by `fit_standardizer` from the training features) make the
    head indifferent to the activation scale of the layer and weights it sits on.
    """

    def __init__(self, in_features: int, hidden: Sequence[int], num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        widths = [in_features, *hidden, num_classes]
        check_parameter_count(sum((a + 1) * b for a, b in zip(widths, widths[1:])), "this feature head")
        self.register_buffer("mean", torch.zeros(in_features))
        self.register_buffer("std", torch.ones(in_features))
        layers: list[nn.Module] = []
        d = in_features
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU(inplace=False), nn.Dropout(dropout)]
            d = h
        layers.append(nn.Linear(d, num_classes))
        self.layers = nn.Sequential(*layers)

    @torch.no_grad()
    def fit_standardizer(self, features: torch.Tensor) -> None:
        """Set mean/std from training features (N, D); std floored so dead units stay 0, not inf."""
        self.mean.copy_(features.mean(0))
        self.std.copy_(features.std(0).clamp_min(1e-3 * float(features.std()) + 1e-8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers((x.flatten(1) - self.mean) / self.std)  # (B, D) -> (B, K)


class FeatureClassifier(AlexNetTrunk):
    """2.2 as one network: ImageNet normalisation -> AlexNet up to `layer` -> FeatureHead.

    Parameter names: torchvision's for the trunk (features.0.weight, ...) and head.layers.* for the head.
    """

    def __init__(
        self,
        layer: str,
        in_features: int,
        hidden: Sequence[int],
        num_classes: int,
        dropout: float = 0.0,
        init: bool = True,
        grid: int | None = None,
    ) -> None:
        super().__init__(layer, init=init, grid=grid)
        self.normalize = Normalize()
        self.head = FeatureHead(in_features, hidden, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(super().forward(self.normalize(x)))


class FaceAlexNet(AlexNet):
    """2.4: AlexNet with ImageNet normalisation in front; state dict keys are exactly torchvision's."""

    def __init__(self, num_classes: int, dropout: float = 0.5, init: bool = True) -> None:
        if init:
            super().__init__(num_classes=num_classes, dropout=dropout)
        else:  # weights are loaded next: allocate without the ~1 s random initialisation
            with torch.device("meta"):
                super().__init__(num_classes=num_classes, dropout=dropout)
            self.to_empty(device="cpu")
        self.normalize = Normalize()  # constants, created after to_empty

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.normalize(x))
