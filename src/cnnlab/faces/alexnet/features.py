"""AlexNet activations as fixed features: extracted under inference_mode and cached on disk.

The cache key covers the weights hash, the layer, the data hash and the input shape, so a cached file
is only ever reused for the very same computation. Several layers can be extracted in one pass
(`cached_layers`): 2.2 caches conv4 and the fine-tuning of 2.4 starts from conv3, from one forward pass.

A cache file is untrusted when read back (it may be cut short, swapped with another split's, crafted or
not a file at all): it is read through core.readback (a plain .npy, header checked before anything is
allocated) and used only when its shape is (images of that split, the layer's width), float32, finite,
and its record (<file>.json) names the same key and the SHA-256 of these very bytes. Anything else is
rebuilt with one warning. A cache folder that is not a folder is one line (OutputError).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnnlab.core.device import resolve_device
from cnnlab.core.errors import CnnlabError, DataError, OutputError
from cnnlab.core.io import atomic_path, atomic_write_json, short_hash
from cnnlab.core.readback import UntrustedData, load_array, load_json
from cnnlab.core.runtime import DEFAULT_DEVICE, identity_device
from cnnlab.faces.alexnet import LAYER_ORDER
from cnnlab.faces.alexnet.model import FEATURE_CACHE_FORMAT, AlexNetTrunk, Normalize, layer_spec, pool_to_grid

log = logging.getLogger(__name__)


def _to_device(x: torch.Tensor, device: str, channels_last: bool) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def extract_features(
    trunk: nn.Module,
    x: torch.Tensor,
    *,
    batch_size: int = 64,
    device: str = DEFAULT_DEVICE,
    channels_last: bool = False,
    normalize: bool = True,
) -> torch.Tensor:
    """Activations of `trunk` for images `x` (N, 3, H, W) in [0, 1]; returns (N, D) float32 on CPU.

    ImageNet normalisation is applied per batch (so the full normalised copy never exists), under
    inference_mode, writing into one preallocated output.
    """
    return extract_outputs(
        trunk,
        x,
        {"output": trunk},
        batch_size=batch_size,
        device=device,
        channels_last=channels_last,
        normalize=normalize,
    )["output"]


def extract_outputs(
    trunk: nn.Module,
    x: torch.Tensor,
    taps: Mapping[str, nn.Module],
    *,
    batch_size: int = 64,
    device: str = DEFAULT_DEVICE,
    channels_last: bool = False,
    normalize: bool = True,
    grid: int | None = None,
) -> dict[str, torch.Tensor]:
    """The outputs of several modules of `trunk` (name -> module, the trunk itself included) in one pass
    over images `x` (N, 3, H, W) in [0, 1]: {name: (N, D) float32 on CPU}, each flattened per image
    (after average pooling to grid x grid, for a spatial output, when `grid` is given)."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise CnnlabError(f"AlexNet needs (N, 3, H, W) images, got shape {tuple(x.shape)}")
    trunk = trunk.eval().to(device)
    if channels_last:
        trunk = trunk.to(memory_format=torch.channels_last)
    norm = Normalize().to(device)
    out: dict[str, torch.Tensor] = {}
    batch: dict[str, torch.Tensor] = {}

    def hook(name: str):
        def keep(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            batch[name] = pool_to_grid(output, grid).flatten(1)  # (b, D)

        return keep

    handles = [module.register_forward_hook(hook(name)) for name, module in taps.items()]
    try:
        with torch.inference_mode():
            for start in range(0, len(x), batch_size):
                xb = _to_device(x[start : start + batch_size], device, channels_last)
                trunk(norm(xb) if normalize else xb)
                for name, yb in batch.items():
                    if name not in out:
                        out[name] = torch.empty((len(x), yb.shape[1]), dtype=torch.float32)
                    out[name][start : start + len(yb)] = yb.float().cpu()
    finally:
        for h in handles:
            h.remove()
    return {name: out.get(name, torch.empty((0, 0))) for name in taps}


def tap_module(trunk: AlexNetTrunk, layer: str) -> nn.Module:
    """The module of `trunk` whose output is the activation of `layer` (a layer at or before trunk.layer)."""
    stage, n = layer_spec(layer)
    if LAYER_ORDER.index(layer) > LAYER_ORDER.index(trunk.layer):
        raise CnnlabError(f"AlexNet layer {layer} lies beyond the trunk, which ends at {trunk.layer}")
    if stage == "features":
        return trunk.features[n - 1]
    if stage == "avgpool":
        return trunk.avgpool
    return trunk.classifier[n - 1]


def tensor_hash(x: torch.Tensor) -> str:
    """SHA-256 of a tensor's shape, dtype and bytes (the data key of the feature cache)."""
    t = x.detach().cpu().contiguous()
    h = hashlib.sha256(f"{tuple(t.shape)}|{t.dtype}|".encode())
    h.update(t.numpy().tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class CachedFeatures:
    features: torch.Tensor  # (N, D) float32
    path: Path
    hit: bool
    key: str


def cached_features(
    x: torch.Tensor,
    *,
    state_dict: dict[str, torch.Tensor],
    weights_sha256: str,
    layer: str,
    cache_dir: str | os.PathLike,
    data_hash: str | None = None,
    batch_size: int = 64,
    device: str = DEFAULT_DEVICE,
    channels_last: bool = False,
) -> CachedFeatures:
    """AlexNet `layer` activations of `x`, computed once and kept in `cache_dir` (see cached_layers)."""
    return cached_layers(
        x,
        state_dict=state_dict,
        weights_sha256=weights_sha256,
        layers=[layer],
        cache_dir=cache_dir,
        data_hash=data_hash,
        batch_size=batch_size,
        device=device,
        channels_last=channels_last,
    )[layer]


def cached_layers(
    x: torch.Tensor,
    *,
    state_dict: dict[str, torch.Tensor],
    weights_sha256: str,
    layers: Sequence[str],
    cache_dir: str | os.PathLike,
    data_hash: str | None = None,
    batch_size: int = 64,
    device: str = DEFAULT_DEVICE,
    channels_last: bool = False,
    grid: int | None = None,
) -> dict[str, CachedFeatures]:
    """AlexNet activations of `x` at each of `layers`, computed once and kept in `cache_dir`.

    One file per layer, keyed by `feature_key` (weights, layer, data, input shape, format, pooling grid
    and device type): new weights, another layer or other images get a new file; `data_hash` defaults to
    a hash of `x`'s bytes. The layers not cached yet are extracted together, in one pass through AlexNet
    up to the deepest of them.
    """
    for layer in layers:
        layer_spec(layer)
    data_hash = data_hash or tensor_hash(x)
    cache_dir = Path(cache_dir)
    _make_cache_dir(cache_dir)
    found: dict[str, CachedFeatures] = {}
    missing: dict[str, tuple[dict, str, Path]] = {}
    on = identity_device(resolve_device(device))
    for layer in dict.fromkeys(layers):
        key_obj = feature_key(weights_sha256, layer, data_hash, tuple(x.shape), grid, on)
        key = short_hash(key_obj, 20)
        path = cache_dir / f"alexnet-{layer}{f'-g{grid}' if grid is not None else ''}-{key}.npy"
        arr = _read_cache(path, key, (len(x), layer_width(layer, tuple(x.shape[1:]), grid)))
        if arr is None:
            missing[layer] = (key_obj, key, path)
        else:
            found[layer] = CachedFeatures(torch.from_numpy(arr), path, True, key)
    if missing:
        deepest = max(missing, key=LAYER_ORDER.index)
        trunk = AlexNetTrunk(deepest, init=False)
        trunk.load_from_alexnet(state_dict)
        feats = extract_outputs(
            trunk,
            x,
            {layer: tap_module(trunk, layer) for layer in missing},
            batch_size=batch_size,
            device=device,
            channels_last=channels_last,
            grid=grid,
        )
        for layer, (key_obj, key, path) in missing.items():
            arr = feats[layer].numpy()  # (N, D) float32
            if not np.isfinite(arr).all():  # never cached: it would only be rebuilt at every run
                raise DataError(f"AlexNet {layer} activations hold NaN or infinite values: are the weights sound?")
            _write_cache(path, arr, {**key_obj, "key": key, "features": list(arr.shape), "sha256": _array_sha256(arr)})
            found[layer] = CachedFeatures(feats[layer], path, False, key)
    return {layer: found[layer] for layer in layers}


def feature_key(
    weights_sha256: str, layer: str, data_hash: str, shape: tuple[int, ...], grid: int | None, device: str | None
) -> dict:
    """What identifies cached activations. `device` (core.runtime.identity_device: None on the CPU) is part of
    it, as of a run's identity: a CUDA run must never read CPU activations (its numbers would then depend on
    what ran before it). CPU keys, and unpooled ones, stay those of earlier caches."""
    return {
        "format": FEATURE_CACHE_FORMAT,
        "weights": weights_sha256,
        "layer": layer,
        "data": data_hash,
        "shape": list(shape),
        **({"grid": grid} if grid is not None else {}),
        **({"device": device} if device else {}),
    }


@functools.lru_cache(maxsize=64)
def layer_width(layer: str, image_shape: tuple[int, ...], grid: int | None = None) -> int:
    """D of the (N, D) activations cached_layers gives at `layer` for images of `image_shape` (C, H, W):
    found by a pass of shapes alone (the meta device), so it always agrees with extract_outputs."""
    trunk = AlexNetTrunk(layer, init=False).to("meta")
    seen: list[int] = []
    handle = tap_module(trunk, layer).register_forward_hook(
        lambda _m, _i, out: seen.append(int(pool_to_grid(out, grid).flatten(1).shape[1]))
    )
    try:
        trunk(torch.empty((1, *image_shape), device="meta"))
    finally:
        handle.remove()
    return seen[0]


def _array_sha256(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr)).hexdigest()


def _make_cache_dir(cache_dir: Path) -> None:
    """`cache_dir` made if absent; a one-line OutputError when it cannot be a folder (a file is in the way)."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(f"the feature cache folder {cache_dir} is not a folder (a file is in the way)") from None
    except OSError as exc:
        raise OutputError(f"cannot make the feature cache folder {cache_dir}: {exc.strerror or exc}") from None


def _read_cache(path: Path, key: str, shape: tuple[int, int]) -> np.ndarray | None:
    """The cached `shape` float32 array at `path` whose record names `key` and its bytes' SHA-256; None when
    absent, or damaged (one warning: it is then rebuilt)."""
    if not os.path.lexists(path):
        return None
    try:
        arr = load_array(path, f"feature cache {path}", shape=shape, dtype=np.float32, finite=True)
        record = load_json(path.with_suffix(".json"), f"its record {path.with_suffix('.json').name}")
        if not isinstance(record, dict) or record.get("key") != key:
            raise UntrustedData(f"its record {path.with_suffix('.json').name} names another key")
        if record.get("sha256") != _array_sha256(arr):
            raise UntrustedData(f"feature cache {path} does not hold the activations its record names")
    except FileNotFoundError as exc:  # the record, or a link's target
        log.warning("feature cache %s: %s is missing; rebuilding it", path, exc.filename)
        return None
    except (UntrustedData, OSError) as exc:
        log.warning("damaged feature cache, rebuilding it: %s", exc)
        return None
    log.info("feature cache hit: %s", path)
    return arr


def _write_cache(path: Path, arr: np.ndarray, record: dict) -> None:
    """`arr` to `path` and its record to <path>.json, each atomically. What stands in the way (a folder left
    at `path`) or a failed write leaves the features uncached, with a warning; the run goes on."""
    try:
        if path.is_dir() and not path.is_symlink():
            path.rmdir()  # an empty folder only; OSError otherwise
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, arr, allow_pickle=False)
        atomic_write_json(path.with_suffix(".json"), record)
    except OSError as exc:
        log.warning("feature cache %s not written (%s); the features are used uncached", path, exc.strerror or exc)
        return
    log.info("feature cache written: %s %s", path, arr.shape)
