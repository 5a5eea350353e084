"""Part 1 configuration: the art data, the SimpleCNN, training-time augmentation, and one run.

The machinery (YAML, `--set`, validation) is in cnnlab.core.config; the training settings in
cnnlab.core.train.config.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

from cnnlab.art.transforms import TRANSFORMS
from cnnlab.core.config import check, check_number, check_seed
from cnnlab.core.errors import shorten
from cnnlab.core.images import MAX_IMAGE_SIZE
from cnnlab.core.layers import ACTIVATIONS
from cnnlab.core.train.config import TrainConfig


# ----------------------------------------------------------------------------- model
@dataclass(frozen=True)
class ModelConfig:
    """SimpleCNN hyperparameters. Defaults are the handout's starter network.

    Per-layer settings are tuples with one entry per conv layer; an int is broadcast to every layer.
    """

    name: str = "simple_cnn"
    filters: tuple[int, ...] = (16, 16)
    kernel_sizes: tuple[int, ...] | int = 5
    strides: tuple[int, ...] | int = 2
    paddings: tuple[int, ...] | int = 0
    pool: bool = False
    pool_size: int = 2
    pool_stride: int = 2
    fc_sizes: tuple[int, ...] = (64,)
    dropout: float = 0.0
    activation: str = "relu"
    batch_norm: bool = False
    lrn: bool = False
    weight_norm: bool = False

    def __post_init__(self) -> None:
        n = len(self.filters)
        check(n >= 1, "model.filters needs at least one conv layer")
        check(all(isinstance(f, int) and f > 0 for f in self.filters), "model.filters must be positive integers")
        for key in ("kernel_sizes", "strides", "paddings"):
            value = self._per_layer(key)
            check(len(value) == n, f"model.{key} has {len(value)} entries for {n} conv layers")
            minimum = 0 if key == "paddings" else 1
            check(all(isinstance(v, int) and v >= minimum for v in value), f"model.{key} must be integers >= {minimum}")
        check(self.pool_size >= 1 and self.pool_stride >= 1, "model.pool_size and model.pool_stride must be >= 1")
        check(all(isinstance(f, int) and f > 0 for f in self.fc_sizes), "model.fc_sizes must be positive integers")
        check_number(self.dropout, "model.dropout", 0, 1, high_open=True)
        check(
            self.activation in ACTIVATIONS,
            f"unknown activation {shorten(self.activation)} (choose from: {', '.join(ACTIVATIONS.names())})",
        )

    def _per_layer(self, key: str) -> tuple[int, ...]:
        # An int is kept as written (so changing the depth keeps it valid) and broadcast here.
        value = getattr(self, key)
        return (value,) * len(self.filters) if isinstance(value, int) else tuple(value)

    @property
    def num_conv(self) -> int:
        return len(self.filters)

    @property
    def layer_kernels(self) -> tuple[int, ...]:
        return self._per_layer("kernel_sizes")

    @property
    def layer_strides(self) -> tuple[int, ...]:
        return self._per_layer("strides")

    @property
    def layer_paddings(self) -> tuple[int, ...]:
        return self._per_layer("paddings")


# ----------------------------------------------------------------------------- data and run
@dataclass(frozen=True)
class DataConfig:
    """Part 1 art data: a registered embedded dataset name or a folder path, and its split.

    The test split (test_fraction, split_seed) is fixed; the rest is split into `folds` stratified
    folds (cnnlab.art.data.stratified_split) and fold `fold` is the validation split. Suites vary the
    fold with the repeat, so over `folds` repeats every non-test image is validated on once.
    grayscale: every image replaced by its luminance (ITU-R BT.601 weights, as Pillow's "L"), replicated
    to the three channels, so the network is unchanged (the colour control of question 1.7).
    """

    name: str = "synthetic-artists"
    image_size: int = 50
    test_fraction: float = 0.15
    split_seed: int = 0
    folds: int = 5
    fold: int = 0
    grayscale: bool = False

    def __post_init__(self) -> None:
        check_number(self.image_size, "data.image_size", 8, MAX_IMAGE_SIZE, integer=True)
        check_seed(self.split_seed, "data.split_seed")
        check(0 < self.test_fraction < 1, "data.test_fraction must be in (0, 1)")
        check(
            isinstance(self.folds, int) and not isinstance(self.folds, bool) and self.folds >= 2,
            f"data.folds must be an integer >= 2, got {shorten(self.folds)}",
        )
        check(
            isinstance(self.fold, int) and not isinstance(self.fold, bool) and 0 <= self.fold < self.folds,
            f"data.fold must be an integer in [0, data.folds), got {shorten(self.fold)} with {shorten(self.folds)} folds",
        )


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time random augmentation (cnnlab.art.transforms.random_augment).

    Each registered transform is applied to each training image independently with its probability
    (absent = 0), at a random severity in [0, max_severity] (binary ones at full strength).
    """

    probabilities: Mapping[str, float] = field(default_factory=dict)
    max_severity: float = 0.5

    def __post_init__(self) -> None:
        check(
            isinstance(self.probabilities, Mapping),
            f"augment.probabilities must be a mapping, got {type(self.probabilities).__name__}",
        )
        probs: dict[str, float] = {}  # the config's own copy, as floats
        for name, p in self.probabilities.items():
            check(
                name in TRANSFORMS,
                f"unknown transform {shorten(name)} in augment.probabilities (choose from: {', '.join(TRANSFORMS.names())})",
            )
            probs[name] = _number(p, f"augment.probabilities.{name}")
            check(0.0 <= probs[name] <= 1.0, f"augment.probabilities.{name} must be in [0, 1], got {probs[name]}")
        object.__setattr__(self, "probabilities", probs)
        object.__setattr__(self, "max_severity", _number(self.max_severity, "augment.max_severity"))
        check(0.0 <= self.max_severity <= 1.0, f"augment.max_severity must be in [0, 1], got {self.max_severity}")

    @property
    def enabled(self) -> bool:
        """True when some transform has a non-zero probability."""
        return any(p > 0 for p in self.probabilities.values())


def _number(value: object, key: str) -> float:
    """`value` as a float, or ConfigError naming `key` (bools are not numbers here)."""
    check(
        isinstance(value, numbers.Real) and not isinstance(value, bool), f"{key} must be a number, got {shorten(value)}"
    )
    return float(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RunConfig:
    """Everything one Part 1 training run needs."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
