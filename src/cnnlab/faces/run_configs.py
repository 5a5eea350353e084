"""Part 2 configuration: the face data, the three face models, and one run config per command.

    MLPRunConfig       data, mlp, train        `cnnlab part2 mlp` / `weights` (2.1, 2.3)
    CNNRunConfig       data, cnn, train        `cnnlab part2 cnn` (the small CNN beside 2.1)
    FeaturesRunConfig  data, features, train   `cnnlab part2 features` (2.2)
    FinetuneRunConfig  data, finetune, train   `cnnlab part2 finetune` (2.4)

`train` is cnnlab.core.train.config.TrainConfig with each command's own defaults, written once below.
The machinery (YAML, `--set`, validation) is cnnlab.core.config: build these with
`resolve_config(MLPRunConfig, yaml, ["mlp.hidden=800"])`, which starts from the command's defaults
(a bare `from_dict` would fill a partial `train` section with TrainConfig's generic defaults).
The number of classes is not configured: it is the number of people in the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from cnnlab.core.config import check, check_number, check_parameter_count
from cnnlab.core.errors import shorten
from cnnlab.core.images import MAX_IMAGE_SIZE
from cnnlab.core.train.config import EarlyStoppingConfig, OptimizerConfig, SchedulerConfig, TrainConfig
from cnnlab.faces.data.dataset import FaceSplitConfig, resolve_actors

OLIVETTI = "olivetti"
STANDARDIZE = ("pixel", "channel", "none")
MLP_ACTIVATIONS = ("tanh", "relu")  # of cnnlab.core.layers.ACTIVATIONS: the ones the named inits have gains for
UNIT_RULES = ("most-selective", "top-outgoing")
# The named MLP weight initialisations (implemented by cnnlab.faces.models.mlp.INITS, which tests keep in step).
INIT_DESCRIPTIONS = {
    "xavier-uniform": "Glorot uniform, gain for the activation, zero biases",
    "xavier-normal": "Glorot normal, gain for the activation, zero biases",
    "kaiming-normal": "He normal (fan-in), zero biases",
    "normal-0.01": "N(0, 0.01^2) weights, zero biases",
    "torch-default": "PyTorch default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights and biases",
}
FREEZE_MODES = ("from-features", "features", "all-but-last", "none")
FROM_FEATURES = "from-features"  # fine-tuning that starts from the trained 2.2 network
WEIGHT_STUDY_HIDDEN = (300, 800)  # 2.3: the hidden sizes whose weight pictures are compared
RANDOM_WEIGHTS = "random"  # the weights spec for an untrained AlexNet


def _choices(names: Any) -> str:
    return ", ".join(names)


# ----------------------------------------------------------------------------- data
@dataclass(frozen=True)
class FaceDataConfig:
    """Which faces and how they are split: `source` is "olivetti" (embedded) or a `cnnlab faces download`
    folder; `actors` are names (or "course" for the six of the course project; empty = everyone)."""

    source: str = OLIVETTI
    actors: tuple[str, ...] | str = ()
    split: FaceSplitConfig = field(default_factory=FaceSplitConfig)

    def __post_init__(self) -> None:
        check(isinstance(self.source, str) and bool(self.source.strip()), "data.source must be 'olivetti' or a folder")
        if self.source.lower() == OLIVETTI:
            object.__setattr__(self, "source", OLIVETTI)
        actors = [self.actors] if isinstance(self.actors, str) else list(self.actors)
        check(all(isinstance(a, str) for a in actors), "data.actors must be a list of names")
        object.__setattr__(self, "actors", tuple(resolve_actors(actors) or ()))  # "course" expanded, commas split


# ----------------------------------------------------------------------------- models
@dataclass(frozen=True)
class FaceInputConfig:
    """How a small face network (the MLP, the small CNN) sees its faces: size, colour, preprocessing and the
    augmentation of training batches; the fields both models share (in their `mlp.*` / `cnn.*` sections)."""

    image_size: int = 28
    channels: int = 1
    dropout: float = 0.0  # before the output layer
    per_image: bool = False  # first standardise each face by its own mean and std (removes brightness and contrast)
    standardize: str = "pixel"  # then pixel: subtract the mean face, divide by each pixel's std; or channel, none
    flip: bool = False  # augmentation: random horizontal flips of training batches (p = 0.5)
    shift: int = 0  # augmentation: random shifts of training faces by up to this many pixels (edges replicated)

    def __post_init__(self) -> None:
        section = self.section
        check_number(self.image_size, f"{section}.image_size", 1, MAX_IMAGE_SIZE, integer=True)
        check(self.channels in (1, 3), f"{section}.channels must be 1 or 3, got {self.channels}")
        check_number(self.dropout, f"{section}.dropout", 0, 1, high_open=True)
        check_number(self.shift, f"{section}.shift", 0, max(0, self.image_size // 4), integer=True)
        check(
            self.standardize in STANDARDIZE,
            f"unknown standardisation {shorten(self.standardize)} (choose from: {_choices(STANDARDIZE)})",
        )

    section = "mlp"  # the config section named in errors (a class attribute, not a field)

    @property
    def input_dim(self) -> int:
        return self.channels * self.image_size * self.image_size

    @property
    def stats_shape(self) -> tuple[int, ...]:
        """Shape of the standardisation buffers: (1, C, H, W) per pixel, (1, C, 1, 1) otherwise."""
        c, s = self.channels, self.image_size
        return (1, c, s, s) if self.standardize == "pixel" else (1, c, 1, 1)

    def input_fields(self) -> dict[str, Any]:
        """The FaceInputConfig fields of this config (what another face model copies to see the same input)."""
        return {f.name: getattr(self, f.name) for f in fields(FaceInputConfig)}


@dataclass(frozen=True)
class MLPConfig(FaceInputConfig):
    """The 2.1/2.3 MLP and its input (FaceInputConfig): architecture, and which hidden units the weight
    pictures show (`unit_rule`, `units_per_class`, at most `max_tiles`)."""

    hidden: int = 300
    activation: str = "tanh"
    init: str = "normal-0.01"  # small weights: the L2-shaped pictures are not buried in init noise
    unit_rule: str = "most-selective"
    units_per_class: int = 2
    max_tiles: int = 24

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.hidden >= 1, f"mlp.hidden must be >= 1, got {self.hidden}")
        check(
            self.activation in MLP_ACTIVATIONS,
            f"unknown MLP activation {shorten(self.activation)} (choose from: {_choices(MLP_ACTIVATIONS)})",
        )
        check(
            self.init in INIT_DESCRIPTIONS,
            f"unknown weight initialisation {shorten(self.init)} (choose from: {_choices(sorted(INIT_DESCRIPTIONS))})",
        )
        check(
            self.unit_rule in UNIT_RULES,
            f"unknown unit rule {shorten(self.unit_rule)} (choose from: {_choices(UNIT_RULES)})",
        )
        check(self.units_per_class >= 1 and self.max_tiles >= 1, "mlp.units_per_class and mlp.max_tiles must be >= 1")
        check_parameter_count((self.input_dim + 1) * self.hidden, "the MLP's hidden layer")

    def architecture(self, num_classes: int) -> dict[str, Any]:
        """What the network is (for summaries): the model fields plus classes and input size."""
        keys = ("image_size", "channels", "hidden", "activation", "init", "dropout", "per_image", "standardize")
        return {"num_classes": int(num_classes), **{k: getattr(self, k) for k in keys}, "input_dim": self.input_dim}


@dataclass(frozen=True)
class FaceCNNConfig(FaceInputConfig):
    """The small CNN beside the 2.1 MLP (`cnnlab part2 cnn`): per width a 3x3 convolution (padding 1), ReLU and
    2x2 max-pooling, then dropout and one linear layer to the classes; its input as FaceInputConfig."""

    widths: tuple[int, ...] = (16, 32)
    kernel_size: int = 3

    section = "cnn"

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            len(self.widths) >= 1 and all(isinstance(w, int) and w >= 1 for w in self.widths),
            f"cnn.widths must be positive integers, got {list(self.widths)}",
        )
        check_number(self.kernel_size, "cnn.kernel_size", 1, 11, integer=True)
        check(self.kernel_size % 2 == 1, f"cnn.kernel_size must be odd (same padding), got {self.kernel_size}")
        check(
            self.image_size >= 2 ** len(self.widths),
            f"cnn.image_size {self.image_size} is too small for {len(self.widths)} 2x2 poolings",
        )
        # Counted before anything is allocated, as for every model: convolutions, then the linear layer's
        # weights per class (widths 100000,100000 would claim 360 GB).
        channels, side, count = self.channels, self.image_size, 0
        for width in self.widths:
            count += (channels * self.kernel_size**2 + 1) * width
            channels, side = width, side // 2
        check_parameter_count(count + channels * side * side + 1, "this small CNN")


def _check_alexnet(section: str, input_size: int, dropout: float, weights: str | None) -> None:
    from cnnlab.faces.alexnet import MIN_INPUT_SIZE  # torch-free: building a config never imports torch

    check(
        input_size >= MIN_INPUT_SIZE, f"{section}.input_size must be >= {MIN_INPUT_SIZE} for AlexNet, got {input_size}"
    )
    check(input_size <= MAX_IMAGE_SIZE, f"{section}.input_size must be <= {MAX_IMAGE_SIZE}, got {input_size}")
    check_number(dropout, f"{section}.dropout", 0, 1, high_open=True)
    check(weights is None or bool(str(weights).strip()), f"{section}.weights must be a path, 'random' or null")


@dataclass(frozen=True)
class FeaturesConfig:
    """2.2: which AlexNet layer feeds a fully connected head, and the head's shape.

    pool_grid: None = the layer's activations as they are (2.2); n = average-pooled to an n x n grid
    first, as AlexNet's own avgpool does for pool5 (n = 6), so that every layer of the depth sweep
    (cnnlab.faces.training.layer_sweep) gives the head a comparable number of inputs.

    weights: None = ImageNet weights from the torch hub cache (else a checked download), "random" = an
    untrained AlexNet, or a path to a state dict.
    """

    layer: str = "conv4"
    head_hidden: tuple[int, ...] = (64,)  # () = a linear head
    dropout: float = 0.5
    input_size: int = 227
    weights: str | None = None
    pool_grid: int | None = None  # average-pool a conv layer to pool_grid x pool_grid before the head (the depth sweep)

    def __post_init__(self) -> None:
        from cnnlab.faces.alexnet import LAYERS

        check(self.layer in LAYERS, f"unknown AlexNet layer {shorten(self.layer)} (choose from: {_choices(LAYERS)})")
        check(
            all(h >= 1 for h in self.head_hidden),
            f"features.head_hidden sizes must be >= 1, got {list(self.head_hidden)}",
        )
        if self.pool_grid is not None:
            check_number(self.pool_grid, "features.pool_grid", 1, 13, integer=True)
            check(
                not self.layer.startswith("fc"),
                f"features.pool_grid pools a convolutional layer's grid; {self.layer} has none",
            )
        _check_alexnet("features", self.input_size, self.dropout, self.weights)


@dataclass(frozen=True)
class FinetuneConfig:
    """2.4: fine-tuning AlexNet. freeze says how:

    from-features (default): start from the trained 2.2 network (AlexNet up to its feature layer + its
        head, from the 2.2 run of the same data, weights and seed, or `features_run`) and train it end to
        end from `train_from` on: those AlexNet layers at lr * lr_scale, the head at lr. The layers before
        `train_from` stay frozen, their (cached) output is the input. Starts at 2.2's accuracy.
    features / all-but-last / none: the classic recipe, AlexNet with a new last layer (classifier.6):
        conv layers frozen and the classifier trained (pretrained fc6, fc7 at lr * lr_scale), only the
        new layer trained, or everything (pretrained layers at lr * lr_scale).
    input_size and weights as in FeaturesConfig (from-features: they must match the 2.2 run); dropout:
    the classifier's, in the classic modes (from-features keeps the 2.2 head's).
    """

    freeze: str = "from-features"
    train_from: str = "conv4"
    features_run: str | None = None
    lr_scale: float = 0.1
    input_size: int = 227
    dropout: float = 0.5
    weights: str | None = None

    def __post_init__(self) -> None:
        from cnnlab.faces.alexnet import TRAIN_FROM

        check(
            self.freeze in FREEZE_MODES,
            f"unknown freeze mode {shorten(self.freeze)} (choose from: {_choices(FREEZE_MODES)})",
        )
        check(
            self.train_from in TRAIN_FROM,
            f"finetune.train_from must be one of {_choices(TRAIN_FROM)} (the first AlexNet layer that trains), got {shorten(self.train_from)}",
        )
        check(
            self.features_run is None or bool(str(self.features_run).strip()),
            "finetune.features_run must be a run folder or null",
        )
        check_number(self.lr_scale, "finetune.lr_scale", 0, low_open=True)
        _check_alexnet("finetune", self.input_size, self.dropout, self.weights)


# ----------------------------------------------------------------------------- one run per command
# The MLP keeps the epoch of lowest validation loss (no early stopping): with few validation faces per
# person the loss is a finer signal than the accuracy. 2.2 and 2.4 select by validation accuracy (below).
_KEEP_BY = EarlyStoppingConfig(patience=None, monitor="val_loss")


def mlp_training() -> TrainConfig:
    """2.1: Adam, lr 3e-4, L2 weight decay 1e-2, batch 32, 100 epochs, no early stopping."""
    return TrainConfig(
        epochs=100,
        batch_size=32,
        optimizer=OptimizerConfig(name="adam", lr=3e-4, weight_decay=1e-2),
        early_stopping=_KEEP_BY,
    )


def features_training() -> TrainConfig:
    """2.2: the head on cached features: Adam, lr 1e-4, weight decay 1e-4, batch 32, 30 epochs; the epoch of the
    highest validation accuracy is kept."""
    return TrainConfig(
        epochs=30,
        batch_size=32,
        optimizer=OptimizerConfig(name="adam", lr=1e-4, weight_decay=1e-4),
        early_stopping=EarlyStoppingConfig(patience=None, monitor="val_acc"),
    )


def finetune_training() -> TrainConfig:
    """2.4: Adam, lr 1e-4 (AlexNet layers x finetune.lr_scale: 1e-5, ten times below where the LR range test of
    `cnnlab part2 finetune --lr-find` diverges), no weight decay, batch 32, a 2-epoch linear warm-up, at most 30 epochs,
    stopped after 6 without a gain in validation accuracy. Selection by validation accuracy is what guarantees, with the
    starting point evaluated as epoch 0, that fine-tuning from 2.2 never ends below 2.2 on validation."""
    return TrainConfig(
        epochs=30,
        batch_size=32,
        optimizer=OptimizerConfig(name="adam", lr=1e-4, weight_decay=0.0),
        scheduler=SchedulerConfig(warmup_epochs=2),
        early_stopping=EarlyStoppingConfig(patience=6, monitor="val_acc"),
    )


@dataclass(frozen=True)
class MLPRunConfig:
    """Everything one MLP run needs (`cnnlab part2 mlp`, and each size of `cnnlab part2 weights`)."""

    data: FaceDataConfig = field(default_factory=FaceDataConfig)
    mlp: MLPConfig = field(default_factory=MLPConfig)
    train: TrainConfig = field(default_factory=mlp_training)

    @property
    def image_size(self) -> int:
        return self.mlp.image_size

    @property
    def channels(self) -> int:
        return self.mlp.channels


@dataclass(frozen=True)
class FeaturesRunConfig:
    """Everything one AlexNet-features run needs (`cnnlab part2 features`)."""

    data: FaceDataConfig = field(default_factory=FaceDataConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    train: TrainConfig = field(default_factory=features_training)

    @property
    def image_size(self) -> int:
        return self.features.input_size

    @property
    def channels(self) -> int:
        return 3


@dataclass(frozen=True)
class FinetuneRunConfig:
    """Everything one fine-tuning run needs (`cnnlab part2 finetune`)."""

    data: FaceDataConfig = field(default_factory=FaceDataConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    train: TrainConfig = field(default_factory=finetune_training)

    @property
    def image_size(self) -> int:
        return self.finetune.input_size

    @property
    def channels(self) -> int:
        return 3


@dataclass(frozen=True)
class CNNRunConfig:
    """Everything one small-CNN run needs (`cnnlab part2 cnn`): by default the MLP's training recipe."""

    data: FaceDataConfig = field(default_factory=FaceDataConfig)
    cnn: FaceCNNConfig = field(default_factory=FaceCNNConfig)
    train: TrainConfig = field(default_factory=mlp_training)

    @property
    def image_size(self) -> int:
        return self.cnn.image_size

    @property
    def channels(self) -> int:
        return self.cnn.channels


def cnn_like_mlp(mlp: MLPRunConfig, cnn: FaceCNNConfig | None = None) -> CNNRunConfig:
    """The small CNN on exactly the MLP's data, input, augmentation and training (seed included): a paired,
    budget-fair comparison in which only the network differs."""
    cnn = cnn or FaceCNNConfig()
    return CNNRunConfig(data=mlp.data, cnn=replace(cnn, **mlp.mlp.input_fields()), train=mlp.train)


FaceRunConfig = MLPRunConfig | CNNRunConfig | FeaturesRunConfig | FinetuneRunConfig
R = TypeVar("R", MLPRunConfig, CNNRunConfig, FeaturesRunConfig, FinetuneRunConfig)


def with_seed(config: R, seed: int) -> R:
    """`config` with train.seed = seed (one run of a multi-seed study)."""
    return replace(config, train=replace(config.train, seed=seed))


def with_epochs(config: R, epochs: int) -> R:
    """`config` with train.epochs = epochs (e.g. the report's quick mode)."""
    return replace(config, train=replace(config.train, epochs=epochs))
