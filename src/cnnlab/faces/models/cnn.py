"""The small CNN beside the 2.1 MLP: what convolution adds on the same 28x28 faces.

FaceCNN: [per-image standardise] -> standardise (training-set buffers, as the MLP) -> per width
Conv(k x k, same padding) -> ReLU -> MaxPool(2) -> flatten -> [dropout] -> Linear(classes).
With the defaults (widths 16, 32) a 28x28 face becomes (32, 7, 7) before the linear layer: about 14k
parameters for six people against the MLP's 237k, because each filter is shared over every position
(weight sharing) and sees a 3x3 neighbourhood (local receptive field), where the MLP learns one weight
per pixel and hidden unit. The configuration is cnnlab.faces.run_configs.FaceCNNConfig.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.faces.models.inputs import StandardizedFaces
from cnnlab.faces.run_configs import FaceCNNConfig


class FaceCNN(StandardizedFaces):
    """Input (B, C, H, W) in [0, 1] -> logits (B, K). Buffers mean/std of FaceCNNConfig.stats_shape (StandardizedFaces)."""

    def __init__(
        self,
        config: FaceCNNConfig,
        num_classes: int,
        mean: torch.Tensor | None = None,
        std: torch.Tensor | None = None,
    ) -> None:
        super().__init__(config, num_classes, mean, std, "the CNN")
        layers: list[nn.Module] = []
        channels, side = config.channels, config.image_size
        for width in config.widths:
            layers += [
                nn.Conv2d(channels, width, config.kernel_size, padding=config.kernel_size // 2),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            channels, side = width, side // 2
        self.features = nn.Sequential(*layers)
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Linear(channels * side * side, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.standardize(x)  # (B, C, H, W)
        h = self.features(x).flatten(1)  # (B, widths[-1] * (H / 2^L)^2)
        return self.out(self.drop(h))  # (B, K)
