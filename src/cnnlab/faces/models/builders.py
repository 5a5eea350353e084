"""Each Part 2 kind's network from a checkpoint's config: the `build` of its record (cnnlab.faces.kinds).

Each builder: (config from a checkpoint, num_classes, image_size or None for the kind's default, init) -> an
untrained network with `input_shape` (C, H, W). Missing config keys take the Part 2 config defaults, so older
checkpoints load; init=False leaves AlexNet parameters uninitialised (a checkpoint's weights replace them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from torch import nn

from cnnlab.core.config import from_dict
from cnnlab.faces.alexnet.model import feature_shape
from cnnlab.faces.models.heads import FaceAlexNet, FeatureClassifier
from cnnlab.faces.models.mlp import MLP
from cnnlab.faces.run_configs import FaceCNNConfig, FeaturesConfig, FinetuneConfig, MLPConfig

__all__ = ["build_mlp", "build_face_cnn", "build_features", "build_finetuned"]


def build_mlp(
    config: Mapping[str, Any], num_classes: int, image_size: int | None = None, init: bool = True
) -> nn.Module:
    """The MLP of 2.1/2.3 (its input standardisation in buffers)."""
    known = {f.name for f in fields(MLPConfig)}
    data = {k: v for k, v in config.items() if k in known}  # older checkpoints also stored num_classes
    data.setdefault("per_image", False)  # checkpoints from before per-image standardisation were trained without it
    if image_size is not None:
        data["image_size"] = int(image_size)
    return MLP(from_dict(MLPConfig, data), num_classes)


def build_face_cnn(
    config: Mapping[str, Any], num_classes: int, image_size: int | None = None, init: bool = True
) -> nn.Module:
    """The small CNN beside the MLP (cnnlab.faces.models.cnn), standardised the same way."""
    from cnnlab.faces.models.cnn import FaceCNN

    known = {f.name for f in fields(FaceCNNConfig)}
    data = {k: v for k, v in config.items() if k in known}
    if image_size is not None:
        data["image_size"] = int(image_size)
    return FaceCNN(from_dict(FaceCNNConfig, data), num_classes)


def build_features(
    config: Mapping[str, Any], num_classes: int, image_size: int | None = None, init: bool = True
) -> nn.Module:
    """2.2: AlexNet up to a layer (frozen, ImageNet-normalised) + a fully connected head."""
    defaults = FeaturesConfig()
    size = int(image_size or defaults.input_size)
    layer = str(config.get("layer", defaults.layer))
    grid = None if config.get("grid") is None else int(config["grid"])
    in_features = int(config.get("in_features") or math.prod(feature_shape(layer, size, grid)))
    hidden = [int(h) for h in config.get("hidden", defaults.head_hidden)]
    dropout = float(config.get("dropout", defaults.dropout))
    model = FeatureClassifier(layer, in_features, hidden, num_classes, dropout, init=init, grid=grid)
    model.input_shape = (3, size, size)
    return model


def build_finetuned(
    config: Mapping[str, Any], num_classes: int, image_size: int | None = None, init: bool = True
) -> nn.Module:
    """2.4: fine-tuning from features keeps the 2.2 network, whose config names its `layer` (build_features);
    the classic recipes train a whole AlexNet whose last layer has one output per person."""
    if "layer" in config:
        return build_features(config, num_classes, image_size, init)
    defaults = FinetuneConfig()
    size = int(image_size or defaults.input_size)
    model = FaceAlexNet(num_classes, float(config.get("dropout", defaults.dropout)), init=init)
    model.input_shape = (3, size, size)
    return model
