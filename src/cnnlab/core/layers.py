"""Building blocks shared by the Part 1 CNNs and the Part 2 MLP: the one activation table.

Every activation is a fresh, out-of-place module: attribution hooks (captum's guided backprop) need
one module per use and break on in-place ReLUs.
"""

from __future__ import annotations

from torch import nn

from cnnlab.core.registry import Registry

ACTIVATIONS: Registry[nn.Module] = Registry("activation")
ACTIVATIONS.register("relu")(nn.ReLU)
ACTIVATIONS.register("leaky_relu")(lambda: nn.LeakyReLU(0.01))
ACTIVATIONS.register("elu")(nn.ELU)
ACTIVATIONS.register("gelu")(nn.GELU)
ACTIVATIONS.register("tanh")(nn.Tanh)
ACTIVATIONS.register("sigmoid")(nn.Sigmoid)


def make_activation(name: str) -> nn.Module:
    """A new activation module by name; an unknown name is a ConfigError listing the choices."""
    return ACTIVATIONS.create(name)


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Spatial size after a conv or pool layer (floor mode), as PyTorch computes it."""
    return (size + 2 * padding - kernel) // stride + 1


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (only those with requires_grad when `trainable_only`)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
