"""How the small face networks (the MLP, the small CNN) see their input: optional per-image standardisation,
then standardisation with training-set statistics kept in buffers, so a checkpoint carries its preprocessing.

`StandardizedFaces` is their common base (the buffers `mean` and `std` of FaceInputConfig.stats_shape and
`standardize`); `input_stats` computes those statistics from training images.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.core.errors import ConfigError
from cnnlab.faces.run_configs import STANDARDIZE, FaceInputConfig


class StandardizedFaces(nn.Module):
    """A face network's input stage: `standardize(x)` maps faces (B, C, H, W) in [0, 1] to what its layers see.

    Buffers mean/std of config.stats_shape (zeros and ones until given: a checkpoint loads its own);
    `input_shape` is (C, H, W); `what` names the network in errors."""

    def __init__(
        self,
        config: FaceInputConfig,
        num_classes: int,
        mean: torch.Tensor | None,
        std: torch.Tensor | None,
        what: str,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ConfigError(f"{what} needs at least 2 classes, got {num_classes}")
        self.config = config
        self.num_classes = num_classes
        self.input_shape = (config.channels, config.image_size, config.image_size)
        shape = config.stats_shape
        self.register_buffer(
            "mean", torch.zeros(shape) if mean is None else torch.as_tensor(mean, dtype=torch.float32).reshape(shape)
        )
        self.register_buffer(
            "std", torch.ones(shape) if std is None else torch.as_tensor(std, dtype=torch.float32).reshape(shape)
        )

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        """[per-image standardisation, then] (x - mean) / std, shapes kept: (B, C, H, W)."""
        if self.config.per_image:
            x = per_image_standardize(x)
        return (x - self.mean) / self.std


def per_image_standardize(x: torch.Tensor) -> torch.Tensor:
    """Each image (N, C, H, W) minus its own mean, divided by its own std (floored: a flat image stays finite)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-3)
    return (x - mean) / std


def input_stats(
    x: torch.Tensor, standardize: str = "pixel", per_image: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of training images (N, C, H, W) for `standardize`, shaped like MLP's buffers
    (of the per-image-standardised images when `per_image`, as the MLP sees them).

    pixel: the mean face (1, C, H, W) and each pixel's std, floored at 0.05 (~13 grey levels; 0.25 for
    per-image z-scores) so near-constant pixels are not blown up; channel: (1, C, 1, 1); none: 0 and 1.
    """
    if per_image:
        x = per_image_standardize(x)
    # The floor of the pixel std is in the units of the input: 0.05 of [0, 1] pixels, 0.25 of per-image z-scores.
    floor = 0.25 if per_image else 0.05
    if standardize == "pixel":
        return x.mean(0, keepdim=True), x.std(0, keepdim=True).clamp_min(floor)
    if standardize == "channel":
        return x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3)
    if standardize == "none":
        c = x.shape[1]
        return torch.zeros(1, c, 1, 1), torch.ones(1, c, 1, 1)
    raise ConfigError(f"unknown standardisation {standardize!r} (choose from: {', '.join(STANDARDIZE)})")
