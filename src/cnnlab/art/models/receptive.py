"""Receptive field arithmetic for conv/pool stacks (question 1.1).

For a layer with kernel k, stride s and padding p applied to a map whose units have receptive field
r, jump j (distance in input pixels between adjacent units) and start c (centre of the first unit):
    j' = j * s,   r' = r + (k - 1) * j,   c' = c + ((k - 1) / 2 - p) * j
starting from the input image with r = 1, j = 1, c = 0.5 (pixel centres).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cnnlab.art.config import ModelConfig
from cnnlab.core.errors import ConfigError


@dataclass(frozen=True)
class Layer:
    kind: str  # "conv" or "pool"
    kernel: int
    stride: int = 1
    padding: int = 0

    def __str__(self) -> str:
        return (
            f"{self.kind}{self.kernel}"
            + (f"s{self.stride}" if self.stride != 1 else "")
            + (f"p{self.padding}" if self.padding else "")
        )


@dataclass(frozen=True)
class FieldInfo:
    layer: str
    size: int  # receptive field side, input pixels
    jump: int  # input pixels between adjacent units
    start: float  # centre of the first unit, input pixel coordinates (pixel centres at 0.5, 1.5, ...)


_TOKEN = re.compile(r"^(conv|pool)(\d+)(?:s(\d+))?(?:p(\d+))?$")


def parse_spec(spec: str) -> list[Layer]:
    """Parse `conv5,conv3` / `conv5s2p1,pool2s2` (kernel, optional stride s, padding p)."""
    layers = []
    for token in filter(None, (t.strip().lower() for t in spec.split(","))):
        m = _TOKEN.match(token)
        if not m or int(m.group(2)) < 1 or (m.group(3) is not None and int(m.group(3)) < 1):
            raise ConfigError(
                f"malformed layer {token!r} in receptive-field spec (expected e.g. conv5, conv3s2p1, pool2s2)"
            )
        kind, kernel = m.group(1), int(m.group(2))
        default_stride = kernel if kind == "pool" else 1
        stride = int(m.group(3)) if m.group(3) else default_stride
        layers.append(Layer(kind, kernel, stride, int(m.group(4) or 0)))
    if not layers:
        raise ConfigError("empty receptive-field spec (expected e.g. conv5,conv3)")
    return layers


def layers_from_config(config: ModelConfig) -> list[Layer]:
    """The conv/pool stack of a SimpleCNN config."""
    layers = []
    for k, s, p in zip(config.layer_kernels, config.layer_strides, config.layer_paddings):
        layers.append(Layer("conv", k, s, p))
        if config.pool:
            layers.append(Layer("pool", config.pool_size, config.pool_stride))
    return layers


def receptive_field(layers: list[Layer]) -> list[FieldInfo]:
    """Receptive field size, jump and start after each layer."""
    size, jump, start = 1, 1, 0.5
    out = []
    for layer in layers:
        start = start + ((layer.kernel - 1) / 2 - layer.padding) * jump
        size = size + (layer.kernel - 1) * jump
        jump = jump * layer.stride
        out.append(FieldInfo(str(layer), size, jump, start))
    return out
