"""What every AlexNet run reads (2.2 features, the layer sweep, 2.4 fine-tuning and its LR range test), in one bundle.

`AlexNetInputs` holds the faces (RGB at the AlexNet input size), the weights (state dict and provenance,
cnnlab.faces.alexnet.weights.resolve_weights) and where activations are cached; `RuntimeOptions` (out, device)
says where the runs go and what trains them. Loading the weights and the faces once and passing the bundle is
what lets the report's 2.2 runs, the layer sweep and the fine-tuning share one AlexNet and one feature cache.

    inputs = AlexNetInputs.load(config, config.features.weights)        # faces + weights, loaded once
    alexnet_features(inputs, config, RuntimeOptions(out="runs"))
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnlab.core.config import to_dict
from cnnlab.core.device import device_name, resolve_device
from cnnlab.core.errors import ConfigError
from cnnlab.core.runs.cached import RunSpec
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.core.train.callbacks import Callback
from cnnlab.faces.data.run_faces import RunFacesSpec, check_faces
from cnnlab.faces.run_configs import RANDOM_WEIGHTS, FaceRunConfig

if TYPE_CHECKING:  # importing the dataset imports torch
    import torch

    from cnnlab.faces.data.dataset import FaceData

EXTRACT_BATCH_SIZE = 64  # images per AlexNet forward pass when activations are extracted


def feature_cache_dir(out_root: str | Path, cache_dir: str | Path | None = None) -> Path:
    """Where AlexNet activations are cached: `cache_dir`, or <out_root>/cache/features."""
    return Path(cache_dir) if cache_dir is not None else Path(out_root) / "cache" / "features"


@dataclass(frozen=True)
class AlexNetInputs:
    """The faces (FaceData, RGB at the run config's input size), the AlexNet weights (state dict and their
    provenance dict, as resolve_weights returns them), the feature cache folder (None: <out>/cache/features)
    and the batch size of the feature pass."""

    faces: FaceData
    state_dict: Mapping[str, Any]  # {name: tensor}
    weights: dict[str, Any]
    cache_dir: Path | None = None
    extract_batch_size: int = EXTRACT_BATCH_SIZE

    def __post_init__(self) -> None:
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))

    @classmethod
    def load(
        cls,
        config: RunFacesSpec,
        weights_spec: str | os.PathLike | None,
        *,
        hub_dir: str | os.PathLike | None = None,
        url: str | None = None,
        progress: bool = False,
        cache_dir: str | Path | None = None,
    ) -> AlexNetInputs:
        """The faces `config` asks for (load_run_faces) and the weights of `weights_spec` (resolve_weights: a
        path, "random", or None for the ImageNet weights from the hub cache, else a checked download from `url`)."""
        from cnnlab.faces.alexnet.model import OFFICIAL_URL
        from cnnlab.faces.alexnet.weights import resolve_weights
        from cnnlab.faces.data.run_faces import load_run_faces

        state_dict, weights = resolve_weights(weights_spec, hub_dir=hub_dir, url=url or OFFICIAL_URL, progress=progress)
        return cls(load_run_faces(config), state_dict, weights, None if cache_dir is None else Path(cache_dir))

    def cache(self, runtime: RuntimeOptions) -> Path:
        """The feature cache folder of runs written under runtime.out."""
        return feature_cache_dir(runtime.out, self.cache_dir)

    def checked(self, config: RunFacesSpec) -> AlexNetInputs:
        """self, once its faces are checked to be what `config` expects (ConfigError otherwise)."""
        check_faces(self.faces, config, "AlexNet")
        return self


def alexnet_run_spec(
    kind: str,
    inputs: AlexNetInputs,
    identity: Mapping[str, Any],
    seed: int,
    runtime: RuntimeOptions,
    *,
    force: bool = False,
    callbacks: Sequence[Callback] = (),
) -> RunSpec:
    """The RunSpec of an AlexNet run (kind alexnet-features or alexnet-finetune) on inputs.faces, in runtime.out."""
    device = device_name(resolve_device(runtime.device))
    return RunSpec(
        runtime.out, kind, identity, inputs.faces.info, seed, force=force, callbacks=callbacks, device=device
    )


UNTRAINED = "untrained AlexNet: random weights, no ImageNet knowledge to transfer"  # the summary's warning


def alexnet_label(weights: dict) -> str:
    from cnnlab.faces.alexnet.model import UNTRAINED_LABEL

    return "ImageNet AlexNet" if weights["pretrained"] else UNTRAINED_LABEL


def alexnet_summary(question: str, desc: str, weights: dict, fields: dict[str, Any], untrained: str) -> dict[str, Any]:
    """The summary.json of an AlexNet run (2.2, 2.4): the question, what the model is, which AlexNet and
    weights, the run's own `fields`, and, for untrained weights, the `untrained` warning."""
    summary = {"question": question, "model": desc, "alexnet": alexnet_label(weights), "weights": weights, **fields}
    if not weights["pretrained"]:
        summary["warning"] = untrained
    return summary


def run_identity(config: FaceRunConfig, spec: str | None, weights: dict) -> dict[str, Any]:
    """config.json's config: the resolved run config plus the weights actually used (by hash).

    `spec` is the config's weights spec; None (ImageNet weights) and "random" must match `weights`.
    """
    if spec in (None, RANDOM_WEIGHTS) and (spec == RANDOM_WEIGHTS) == bool(weights["pretrained"]):
        raise ConfigError(
            f"the config asks for {'an untrained' if spec else 'the ImageNet'} AlexNet but the weights given "
            f"are {'ImageNet' if weights['pretrained'] else 'untrained'} ones"
        )
    return {**to_dict(config), "weights_sha256": weights["sha256"], "alexnet": alexnet_label(weights)}


def layer_features(
    inputs: AlexNetInputs,
    layers: Sequence[str],
    cache_dir: str | Path,
    device: Any,
    grid: int | None = None,
) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Cached activations of every split of inputs.faces at each of `layers` (extracted together where not
    cached, pooled to grid x grid when given); returns ({layer: {split: (N, D)}}, timing/cache info)."""
    from cnnlab.faces.alexnet.features import cached_layers

    faces = inputs.faces
    feats: dict[str, dict[str, torch.Tensor]] = {layer: {} for layer in layers}
    info: dict[str, Any] = {"cache_hits": [], "extract_seconds": 0.0}
    for name, (x, _) in faces.splits.items():
        t0 = time.perf_counter()
        found = cached_layers(
            x,
            state_dict=inputs.state_dict,
            weights_sha256=inputs.weights["sha256"],
            layers=layers,
            cache_dir=cache_dir,
            data_hash=f"{faces.data_hash}:{name}",
            batch_size=inputs.extract_batch_size,
            device=device,
            grid=grid,
        )
        info["extract_seconds"] += time.perf_counter() - t0
        if found[layers[0]].hit:
            info["cache_hits"].append(name)
        for layer, cf in found.items():
            feats[layer][name] = cf.features
    info["extract_seconds"] = round(info["extract_seconds"], 3)
    return feats, info
