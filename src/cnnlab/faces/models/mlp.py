"""The Part 2.1/2.3 multilayer perceptron on small face images, and which hidden units to picture.

MLP: [per-image standardise] -> standardise -> flatten (C, H, W) -> Linear(C*H*W, hidden) -> tanh | ReLU
-> [dropout] -> Linear(hidden, classes). Per-image standardisation (optional) gives each face zero mean
and unit std over its own pixels (removing brightness and contrast); the standardisation after it uses
training-set statistics, per pixel by default (subtract the mean face, divide by each pixel's std) or per
channel; they are buffers, so a checkpoint carries its own preprocessing.
The weight initialisation is chosen by name and recorded. The configuration (MLPConfig) is in
cnnlab.faces.run_configs; the weight pictures are drawn by cnnlab.faces.inspect.weight_pictures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cnnlab.core.errors import ConfigError
from cnnlab.core.layers import make_activation
from cnnlab.core.registry import Registry
from cnnlab.faces.models.inputs import StandardizedFaces
from cnnlab.faces.run_configs import UNIT_RULES, MLPConfig

# Named initialisations, one per cnnlab.faces.run_configs.INIT_DESCRIPTIONS entry (the names MLPConfig accepts).
INITS: Registry[None] = Registry("weight initialisation")


@INITS.register("xavier-uniform")
def _xavier_uniform(linear: nn.Linear, activation: str) -> None:
    gain = nn.init.calculate_gain("tanh" if activation == "tanh" else "relu")
    nn.init.xavier_uniform_(linear.weight, gain=gain)
    nn.init.zeros_(linear.bias)


@INITS.register("xavier-normal")
def _xavier_normal(linear: nn.Linear, activation: str) -> None:
    gain = nn.init.calculate_gain("tanh" if activation == "tanh" else "relu")
    nn.init.xavier_normal_(linear.weight, gain=gain)
    nn.init.zeros_(linear.bias)


@INITS.register("kaiming-normal")
def _kaiming_normal(linear: nn.Linear, activation: str) -> None:
    nn.init.kaiming_normal_(linear.weight, nonlinearity="tanh" if activation == "tanh" else "relu")
    nn.init.zeros_(linear.bias)


@INITS.register("normal-0.01")
def _normal(linear: nn.Linear, activation: str) -> None:
    nn.init.normal_(linear.weight, std=0.01)
    nn.init.zeros_(linear.bias)


@INITS.register("torch-default")
def _default(linear: nn.Linear, activation: str) -> None:
    linear.reset_parameters()  # kaiming_uniform(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in))


class MLP(StandardizedFaces):
    """Standardise -> flatten -> hidden (tanh/ReLU) -> logits. Input (B, C, H, W) in [0, 1]; buffers
    mean/std of MLPConfig.stats_shape (StandardizedFaces). The number of classes comes from the data."""

    def __init__(
        self, config: MLPConfig, num_classes: int, mean: torch.Tensor | None = None, std: torch.Tensor | None = None
    ) -> None:
        super().__init__(config, num_classes, mean, std, "the MLP")
        self.hidden = nn.Linear(config.input_dim, config.hidden)
        self.act = make_activation(config.activation)  # its own module: captum hooks need one per use
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.hidden, num_classes)
        init = INITS.get(config.init)
        init(self.hidden, config.activation)
        init(self.out, "tanh" if config.activation == "tanh" else "linear")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.standardize(x)  # (B, C, H, W)
        h = self.act(self.hidden(x.flatten(1)))  # (B, hidden)
        return self.out(self.drop(h))  # (B, K)


# ----------------------------------------------------------------------------- which units to picture


def choose_units(model: MLP, rule: str = "most-selective", per_class: int = 1) -> list[dict[str, Any]]:
    """Hidden units worth looking at, `per_class` for each class, each labelled with the class it favours.

    top-outgoing: for class c, the units j with the largest outgoing weight W_out[c, j] (units that
        push hardest towards c).
    most-selective: the units with the largest margin W_out[c, j] - max_{c' != c} W_out[c', j], i.e.
        whose activation favours c over every other class the most.
    A unit is used at most once. Returns dicts: unit, class_index, score, favours (argmax_c W_out[c, j]).
    """
    if rule not in UNIT_RULES:
        raise ConfigError(f"unknown unit rule {rule!r} (choose from: {', '.join(UNIT_RULES)})")
    w = model.out.weight.detach().float()  # (K, hidden)
    k = w.shape[0]
    if rule == "top-outgoing":
        scores = w
    else:
        scores = torch.empty_like(w)
        for c in range(k):
            others = torch.cat([w[:c], w[c + 1 :]])  # (K-1, hidden)
            scores[c] = w[c] - others.max(0).values
    favours = w.argmax(0)  # (hidden,)
    used: set[int] = set()
    chosen = []
    for c in range(k):
        for j in torch.argsort(scores[c], descending=True).tolist():
            if len([u for u in chosen if u["class_index"] == c]) >= per_class:
                break
            if j in used:
                continue
            used.add(j)
            chosen.append({"unit": j, "class_index": c, "score": float(scores[c, j]), "favours": int(favours[j])})
    return chosen


def unit_images(model: MLP, units: Sequence[int]) -> torch.Tensor:
    """Input weights of `units` as images (n, C, H, W)."""
    cfg = model.config
    w = model.hidden.weight.detach().float()  # (hidden, C*H*W)
    return w[list(units)].view(len(units), cfg.channels, cfg.image_size, cfg.image_size)
