"""Typed, validated configuration.

Defaults live in frozen dataclasses. A YAML file overrides the defaults and `--set key=value`
overrides the YAML (`key` is a dotted path such as `train.optimizer.lr`; `value` is parsed as YAML,
so `model.filters=[16,32,64]` and `train.scheduler.name=cosine` both work). Unknown keys and invalid
values raise `ConfigError` naming the key.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from cnnlab.errors import ConfigError

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "cosine", "exponential", "plateau", "onecycle")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid")
MONITORS = ("val_loss", "val_acc")


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


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
        _check(n >= 1, "model.filters needs at least one conv layer")
        _check(all(isinstance(f, int) and f > 0 for f in self.filters), "model.filters must be positive integers")
        for key in ("kernel_sizes", "strides", "paddings"):
            value = self._per_layer(key)
            _check(len(value) == n, f"model.{key} has {len(value)} entries for {n} conv layers")
            minimum = 0 if key == "paddings" else 1
            _check(all(isinstance(v, int) and v >= minimum for v in value), f"model.{key} must be integers >= {minimum}")
        _check(self.pool_size >= 1 and self.pool_stride >= 1, "model.pool_size and model.pool_stride must be >= 1")
        _check(all(isinstance(f, int) and f > 0 for f in self.fc_sizes), "model.fc_sizes must be positive integers")
        _check(0.0 <= self.dropout < 1.0, f"model.dropout must be in [0, 1), got {self.dropout}")
        _check(self.activation in ACTIVATIONS, f"unknown activation {self.activation!r} (choose from: {', '.join(ACTIVATIONS)})")

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


# ----------------------------------------------------------------------------- training
@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "adam"
    lr: float = 1e-4
    weight_decay: float = 0.0
    momentum: float = 0.9  # SGD and RMSprop
    nesterov: bool = False  # SGD

    def __post_init__(self) -> None:
        _check(self.name in OPTIMIZERS, f"unknown optimizer {self.name!r} (choose from: {', '.join(OPTIMIZERS)})")
        _check(self.lr > 0, f"train.optimizer.lr must be positive, got {self.lr}")
        _check(self.weight_decay >= 0, "train.optimizer.weight_decay must be >= 0")
        _check(0 <= self.momentum < 1, "train.optimizer.momentum must be in [0, 1)")
        _check(not self.nesterov or (self.name == "sgd" and self.momentum > 0), "nesterov needs the sgd optimizer with momentum > 0")


@dataclass(frozen=True)
class SchedulerConfig:
    """LR schedule. Epoch-based except onecycle, which steps per batch."""

    name: str = "none"
    step_size: int = 15  # step
    gamma: float = 0.5  # step, exponential
    t_max: int | None = None  # cosine; None = number of epochs
    eta_min: float = 0.0  # cosine
    factor: float = 0.5  # plateau
    patience: int = 5  # plateau
    max_lr: float | None = None  # onecycle; None = 10 x optimizer lr

    def __post_init__(self) -> None:
        _check(self.name in SCHEDULERS, f"unknown scheduler {self.name!r} (choose from: {', '.join(SCHEDULERS)})")
        _check(self.step_size >= 1, "train.scheduler.step_size must be >= 1")
        _check(0 < self.gamma <= 1, "train.scheduler.gamma must be in (0, 1]")
        _check(self.t_max is None or self.t_max >= 1, "train.scheduler.t_max must be >= 1")
        _check(0 < self.factor < 1, "train.scheduler.factor must be in (0, 1)")
        _check(self.patience >= 0, "train.scheduler.patience must be >= 0")
        _check(self.max_lr is None or self.max_lr > 0, "train.scheduler.max_lr must be positive")


@dataclass(frozen=True)
class EarlyStoppingConfig:
    """Stop after `patience` epochs without improvement of `monitor`; None disables stopping.

    The best weights (by `monitor`) are always tracked and restored at the end.
    """

    patience: int | None = None
    monitor: str = "val_loss"
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        _check(self.patience is None or self.patience >= 1, "train.early_stopping.patience must be >= 1 or null")
        _check(self.monitor in MONITORS, f"unknown early-stopping monitor {self.monitor!r} (choose from: {', '.join(MONITORS)})")
        _check(self.min_delta >= 0, "train.early_stopping.min_delta must be >= 0")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50
    batch_size: int = 16
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        _check(isinstance(self.epochs, int) and self.epochs >= 1, f"epochs must be a positive integer, got {self.epochs}")
        _check(isinstance(self.batch_size, int) and self.batch_size >= 1, f"batch size must be a positive integer, got {self.batch_size}")


# ----------------------------------------------------------------------------- data and run
@dataclass(frozen=True)
class DataConfig:
    """Part 1 art data: a registered embedded dataset name or a folder path."""

    name: str = "synthetic-artists"
    image_size: int = 50
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    split_seed: int = 0

    def __post_init__(self) -> None:
        _check(self.image_size >= 8, "data.image_size must be >= 8")
        _check(0 < self.val_fraction < 1 and 0 < self.test_fraction < 1, "data.val_fraction and data.test_fraction must be in (0, 1)")
        _check(self.val_fraction + self.test_fraction < 1, "data.val_fraction + data.test_fraction must be < 1")


@dataclass(frozen=True)
class AugmentSettings:
    """Training-time random augmentation: per-image probability of each transformation."""

    probabilities: Mapping[str, float] = field(default_factory=dict)
    max_severity: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "probabilities", dict(self.probabilities))
        for name, p in self.probabilities.items():
            _check(0.0 <= float(p) <= 1.0, f"augment.probabilities.{name} must be in [0, 1]")
        _check(0.0 <= self.max_severity <= 1.0, "augment.max_severity must be in [0, 1]")

    @property
    def enabled(self) -> bool:
        return any(p > 0 for p in self.probabilities.values())


@dataclass(frozen=True)
class RunConfig:
    """Everything one Part 1 training run needs."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentSettings = field(default_factory=AugmentSettings)


# ----------------------------------------------------------------------------- dict <-> dataclass
def to_dict(cfg: Any) -> Any:
    """A dataclass (nested) as plain dicts, lists and scalars: what YAML and JSON hold."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, Mapping):
        return {str(k): to_dict(v) for k, v in cfg.items()}
    return cfg


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Convert YAML values to the annotated type (lists -> tuples, ints -> floats, nested dicts)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{key}: invalid value {value!r}")
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return from_dict(annotation, value, prefix=key + ".")
    if origin is tuple:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        (item_type, *_rest) = typing.get_args(annotation) or (Any,)
        return tuple(_coerce(v, item_type, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (Mapping, dict, collections.abc.Mapping) or annotation is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        args = typing.get_args(annotation)
        vtype = args[1] if len(args) == 2 else Any
        return {str(k): _coerce(v, vtype, f"{key}.{k}") for k, v in value.items()}
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, str):
            # YAML 1.1 reads "1e-4" (no dot) as a string; accept it as the number it obviously is.
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return value
    return value


def from_dict(cls: type, data: Mapping[str, Any], prefix: str = "") -> Any:
    """Build dataclass `cls` from a (partial) mapping; missing keys keep their defaults."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in names]
    if unknown:
        raise ConfigError(f"unknown config key {prefix}{unknown[0]} (known: {', '.join(sorted(names))})")
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid {prefix.rstrip('.') or 'config'}: {exc}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b.c=value` -> (["a", "b", "c"], parsed YAML value)."""
    import yaml

    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"malformed override {text!r}: expected key=value, e.g. train.optimizer.lr=0.001")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"malformed override {text!r}: value is not valid YAML") from None
    return key.split("."), value


def merge(base: dict, overrides: Mapping) -> dict:
    """Deep-merge `overrides` into a copy of `base`."""
    out = dict(base)
    for k, v in overrides.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def load_yaml(path: str | Path) -> dict:
    """Read a YAML config file (a mapping); errors name the file."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"malformed YAML in {path}{where}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return dict(data)


def resolve_config(cls: type, yaml_path: str | Path | None = None, overrides: Sequence[str] = (), extra: Mapping | None = None) -> Any:
    """Defaults <- YAML file <- `extra` (e.g. CLI flags) <- `--set` overrides, validated."""
    data: dict = to_dict(cls())
    if yaml_path is not None:
        data = merge(data, load_yaml(yaml_path))
    if extra:
        data = merge(data, extra)
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for i, part in enumerate(path[:-1]):
            if not isinstance(node.get(part), dict):
                if part not in node:
                    raise ConfigError(f"unknown config key {'.'.join(path[: i + 1])} in override {text!r}")
                raise ConfigError(f"override {text!r}: {'.'.join(path[: i + 1])} is not a section")
            node[part] = dict(node[part])
            node = node[part]
        if path[-1] not in node and not _is_free_mapping(cls, path[:-1]):
            raise ConfigError(f"unknown config key {'.'.join(path)} in override {text!r}")
        node[path[-1]] = value
    return from_dict(cls, data)


def _is_free_mapping(cls: type, path: Sequence[str]) -> bool:
    """True when `path` names a Mapping field (whose keys are free, e.g. augment.probabilities)."""
    annotation: Any = cls
    for part in path:
        if not dataclasses.is_dataclass(annotation):
            return False
        annotation = typing.get_type_hints(annotation).get(part)
    return typing.get_origin(annotation) in (Mapping, dict, collections.abc.Mapping)
