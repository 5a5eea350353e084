"""AlexNet activations as fixed features: extracted under inference_mode and cached on disk.

The cache key covers the weights hash, the layer, the data hash and the input shape, so a cached file
is only ever reused for the very same computation.
"""

from __future__ import annotations

import hashlib
import os
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnnlab.core.errors import CnnlabError
from cnnlab.core.io import atomic_path, atomic_write_json, short_hash
from cnnlab.faces.alexnet import FEATURE_CACHE_FORMAT, AlexNetTrunk, Normalize, layer_spec

log = logging.getLogger(__name__)


def _to_device(x: torch.Tensor, device: str, channels_last: bool) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def extract_features(
    trunk: nn.Module,
    x: torch.Tensor,
    *,
    batch_size: int = 64,
    device: str = "cpu",
    channels_last: bool = False,
    normalize: bool = True,
) -> torch.Tensor:
    """Activations of `trunk` for images `x` (N, 3, H, W) in [0, 1]; returns (N, D) float32 on CPU.

    ImageNet normalisation is applied per batch (so the full normalised copy never exists), under
    inference_mode, writing into one preallocated output.
    """
    if x.ndim != 4 or x.shape[1] != 3:
        raise CnnlabError(f"AlexNet needs (N, 3, H, W) images, got shape {tuple(x.shape)}")
    trunk = trunk.eval().to(device)
    if channels_last:
        trunk = trunk.to(memory_format=torch.channels_last)
    norm = Normalize().to(device)
    out: torch.Tensor | None = None
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            xb = _to_device(x[start : start + batch_size], device, channels_last)
            yb = trunk(norm(xb) if normalize else xb).flatten(1)  # (b, D)
            if out is None:
                out = torch.empty((len(x), yb.shape[1]), dtype=torch.float32)
            out[start : start + len(yb)] = yb.float().cpu()
    if out is None:
        out = torch.empty((0, 0))
    return out


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
    device: str = "cpu",
    channels_last: bool = False,
) -> CachedFeatures:
    """AlexNet `layer` activations of `x`, computed once and kept in `cache_dir`.

    The cache key is (weights sha256, layer, data hash, input shape, format): new weights, another
    layer or other images get a new file; `data_hash` defaults to a hash of `x`'s bytes.
    """
    layer_spec(layer)
    data_hash = data_hash or tensor_hash(x)
    key_obj = {
        "format": FEATURE_CACHE_FORMAT,
        "weights": weights_sha256,
        "layer": layer,
        "data": data_hash,
        "shape": list(x.shape),
    }
    key = short_hash(key_obj, 20)
    cache_dir = Path(cache_dir)
    path = cache_dir / f"alexnet-{layer}-{key}.npy"
    if path.is_file():
        try:
            arr = np.load(path, allow_pickle=False)
            if arr.ndim == 2 and arr.shape[0] == len(x) and arr.dtype == np.float32:
                log.info("feature cache hit: %s", path)
                return CachedFeatures(torch.from_numpy(arr), path, True, key)
            log.warning("feature cache %s has shape %s; recomputing", path, arr.shape)
        except (OSError, ValueError) as exc:
            log.warning("feature cache %s is unreadable (%s); recomputing", path, exc)
    trunk = AlexNetTrunk(layer)
    trunk.load_from_alexnet(state_dict)
    feats = extract_features(trunk, x, batch_size=batch_size, device=device, channels_last=channels_last)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, feats.numpy(), allow_pickle=False)
    atomic_write_json(path.with_suffix(".json"), {**key_obj, "key": key, "features": list(feats.shape)})
    log.info("feature cache written: %s %s", path, tuple(feats.shape))
    return CachedFeatures(feats, path, False, key)
