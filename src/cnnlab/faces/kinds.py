"""The Part 2 run kinds: one record per kind (`FaceKind`), declared once here and registered with
`cnnlab.core.runs.kinds.RUN_KINDS` (as `cnnlab.art.kinds` registers Part 1's).

A record holds everything Part 2 needs to know of a kind:
  name     the run folder's prefix, summary.json's and config.json's "kind", and model.pt's kind
  label    what the kind is called in words
  config   its run config class (cnnlab.faces.run_configs): what config.json records, read back by `inspect`
  build    its network from a checkpoint's config (faces.models.builders): what model.pt loads into
  train    its train function (faces.training): trains (or reuses) one run through core.runs.cached.run_cached
  aliases  older checkpoint kinds that load as this kind (model.pt files written before the kind had its name)

Everything else reads the record: `cnnlab runs --kind`, `cnnlab.load_model` and `cnnlab.inspect` through
RUN_KINDS (one loader and one inspector serve every kind: each saves a self-describing model.pt),
faces.models.checkpoints (build), faces.inspect.inspect_run (config) and faces.training.mlp_recipes.run_small
(train). `build` and `train` are named by import path (core.registry.lazy) and imported when first called:
registering imports neither torch nor the training code, and the modules that read the records import this
one without an import cycle.

Adding a Part 2 model: its run config (with `data`, `train`, `image_size` and `channels`), its network and
builder, its train function (which saves model.pt with `kind=<record>.name`), and one
`register_face_kind(FaceKind(...))` below (or in your own module).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from cnnlab.core.config import from_dict
from cnnlab.core.errors import ConfigError, shorten
from cnnlab.core.registry import Registry, lazy
from cnnlab.core.runs.kinds import RunKind, register_kind
from cnnlab.faces.run_configs import CNNRunConfig, FeaturesRunConfig, FinetuneRunConfig, MLPRunConfig

__all__ = [
    "FaceKind",
    "FACE_KINDS",
    "register_face_kind",
    "face_kind",
    "checkpoint_kind",
    "is_checkpoint_kind",
    "MLP_KIND",
    "FACE_CNN_KIND",
    "FEATURES_KIND",
    "FINETUNE_KIND",
]

PART = "Part 2"
CHECKPOINT = "model.pt"  # every Part 2 run saves its network here (faces.models.checkpoints)


@dataclass(frozen=True)
class FaceKind:
    """One Part 2 run kind (see the module docstring). `build(config, num_classes, image_size=None,
    init=True)` returns an untrained network with `input_shape` (C, H, W); `train`'s parameters are the
    kind's own (the small networks: `(faces, config, out_root, *, device, callbacks, evaluate_test, ...)`)."""

    name: str
    label: str
    config: type
    build: Callable[..., Any]
    train: Callable[..., Any]
    aliases: tuple[str, ...] = ()

    def read_config(self, recorded: Mapping[str, Any]) -> Any:
        """The run config from config.json's "config" (keys beside it, such as the AlexNet weights' hash,
        are left out); a ConfigError naming a bad value."""
        names = {f.name for f in fields(self.config)}
        return from_dict(self.config, {k: v for k, v in recorded.items() if k in names})

    def group(self, size: int) -> str:
        """The name of a group of this kind's runs that differ by `size` alone ("mlp300": the MLPs with 300
        hidden units), from the Part 2 suite to the report's run-id comments."""
        return f"{self.name}{int(size)}"

    @property
    def run_kind(self) -> RunKind:
        """The kind as core.runs sees it: its model.pt loaded by `cnnlab.load_model`, inspected by `cnnlab.inspect`."""
        return RunKind(
            self.name,
            PART,
            load_model=lazy("cnnlab.faces.models.checkpoints:load_run_model"),
            inspect=lazy("cnnlab.faces.inspect.inspect_run:inspect_run"),
            files=(CHECKPOINT,),
        )


FACE_KINDS: Registry[FaceKind] = Registry("Part 2 model kind")
_ALIASES: dict[str, str] = {}  # an older checkpoint kind -> the kind it loads as


def register_face_kind(kind: FaceKind) -> FaceKind:
    """Register `kind` (names and aliases unique) here and with core.runs.kinds.RUN_KINDS; returns it."""
    taken = [n for n in (kind.name, *kind.aliases) if n in FACE_KINDS or n in _ALIASES]
    if taken:
        raise ValueError(f"Part 2 model kind {taken[0]!r} is already registered")
    register_kind(kind.run_kind)  # raises first if another part took the name
    FACE_KINDS.register(kind.name)(lambda: kind)
    _ALIASES.update(dict.fromkeys(kind.aliases, kind.name))
    return kind


def face_kind(name: str) -> FaceKind:
    """The registered Part 2 kind `name`; a ConfigError naming the choices."""
    return FACE_KINDS.create(name)


def checkpoint_kind(name: str) -> FaceKind:
    """The Part 2 kind a model.pt of kind `name` loads as (a registered name or an older alias); a ConfigError."""
    if name in _ALIASES:
        return FACE_KINDS.create(_ALIASES[name])
    if name not in FACE_KINDS:
        raise ConfigError(f"unknown Part 2 model kind {shorten(name)} (choose from: {', '.join(FACE_KINDS.names())})")
    return FACE_KINDS.create(name)


def is_checkpoint_kind(name: object) -> bool:
    """Whether a model.pt may name `name` as its kind."""
    return isinstance(name, str) and (name in FACE_KINDS or name in _ALIASES)


MLP_KIND = register_face_kind(
    FaceKind(
        "mlp",
        "MLP",
        MLPRunConfig,
        build=lazy("cnnlab.faces.models.builders:build_mlp"),
        train=lazy("cnnlab.faces.training.small:train_mlp"),
    )
)
FACE_CNN_KIND = register_face_kind(
    FaceKind(
        "face-cnn",
        "small CNN",
        CNNRunConfig,
        build=lazy("cnnlab.faces.models.builders:build_face_cnn"),
        train=lazy("cnnlab.faces.training.small:train_face_cnn"),
    )
)
FEATURES_KIND = register_face_kind(
    FaceKind(
        "alexnet-features",
        "AlexNet features + head",
        FeaturesRunConfig,
        build=lazy("cnnlab.faces.models.builders:build_features"),
        train=lazy("cnnlab.faces.training.transfer:alexnet_features"),
    )
)
# Its model.pt: the 2.2 network fine-tuned (from-features) or a whole AlexNet (the classic recipes). Before
# the kind named its checkpoints, they said "alexnet-features" (that kind's builder loads them, unchanged)
# and "alexnet" (the classic ones: the alias).
FINETUNE_KIND = register_face_kind(
    FaceKind(
        "alexnet-finetune",
        "fine-tuned AlexNet",
        FinetuneRunConfig,
        build=lazy("cnnlab.faces.models.builders:build_finetuned"),
        train=lazy("cnnlab.faces.training.finetune:alexnet_finetune"),
        aliases=("alexnet",),
    )
)
