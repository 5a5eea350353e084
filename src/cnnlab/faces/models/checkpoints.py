"""Part 2 face classifiers as self-describing checkpoints, plus `predict` for any image file.

Every Part 2 kind (cnnlab.faces.kinds: mlp, face-cnn, alexnet-features, alexnet-finetune) saves its
network in one checkpoint format (a dict of plain types and tensors, loadable with
`torch.load(weights_only=True)`) under its own kind name; the kind's record builds the network back
(its `build`, faces.models.builders). Older checkpoints of kind "alexnet" load as alexnet-finetune.
Each carries its class names, input size and channels, so predict/explain need nothing else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.core.errors import CnnlabError, ConfigError, first_line
from cnnlab.core.images import MAX_IMAGE_SIZE, open_image
from cnnlab.core.io import atomic_path, atomic_write_json
from cnnlab.core.runs.state_dicts import load_weights, state_dict_problem
from cnnlab.core.runtime import DEFAULT_DEVICE
from cnnlab.faces.alexnet.model import INPUT_SIZE, UNTRAINED_LABEL
from cnnlab.faces.kinds import FACE_KINDS, checkpoint_kind, face_kind, is_checkpoint_kind

CHECKPOINT_FORMAT = "cnnlab-face-classifier"
CHECKPOINT_VERSION = 1
MIN_IMAGE_SIZE = 8  # the smallest input side a checkpoint may declare (MAX_IMAGE_SIZE: cnnlab.core.images)


def build_model(
    kind: str, config: Mapping[str, Any], num_classes: int, image_size: int | None = None, init: bool = True
) -> nn.Module:
    """An untrained network of the Part 2 kind a checkpoint names (cnnlab.faces.kinds: a kind or an older
    alias) from its plain-dict config (init=False: AlexNet parameters are left uninitialised, for loading a
    checkpoint). It has `input_shape` (C, H, W). A ConfigError names the kinds when `kind` is none of them."""
    return checkpoint_kind(kind).build(config, num_classes, image_size=image_size, init=init)


@dataclass
class FaceClassifier:
    """A loaded checkpoint: the model (eval mode) and what is needed to feed it."""

    model: nn.Module
    kind: str
    config: dict[str, Any]
    class_names: list[str]
    image_size: int
    channels: int
    meta: dict[str, Any]

    @property
    def description(self) -> str:
        """The checkpoint's own description, else its kind's label."""
        return self.meta.get("description") or checkpoint_kind(self.kind).label


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    kind: str,
    config: dict[str, Any],
    class_names: Sequence[str],
    image_size: int,
    channels: int,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write model + everything predict/explain need to `path` (and a readable `path`.json beside it)."""
    header = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "kind": face_kind(kind).name,  # an unregistered kind is a ConfigError naming the choices
        "config": json.loads(json.dumps(config)),  # plain types only (weights_only loading)
        "class_names": list(class_names),
        "image_size": int(image_size),
        "channels": int(channels),
        "input": "RGB or grayscale image resized to image_size, scaled to [0, 1]; normalisation is inside the model",
        "meta": json.loads(json.dumps(meta or {}, default=str)),
    }
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: a full disk stays an OSError
        torch.save({**header, "state_dict": state}, f)
    atomic_write_json(path.with_suffix(".json"), header)
    return path


def load_run_model(run_path: str | os.PathLike) -> nn.Module:
    """The network of a finished Part 2 run folder (its model.pt), in eval mode: what `cnnlab.load_model` returns."""
    return load_checkpoint(Path(run_path) / "model.pt").model.eval()


def load_checkpoint(path: str | os.PathLike, device: str = DEFAULT_DEVICE) -> FaceClassifier:
    """Load a checkpoint written by `save_checkpoint` (weights_only); one-line errors for bad files.

    Everything in the file is validated before any model is built (`checkpoint_problem`), and the
    weights' shapes are compared with a model built on the "meta" device (nothing allocated), so a
    hand-edited or foreign file can neither crash the loader nor make it allocate gigabytes.
    """
    path = Path(path)
    if path.is_dir():
        raise CnnlabError(f"{path} is a directory, not a checkpoint file")
    if not path.is_file():
        raise CnnlabError(f"checkpoint not found: {path}")
    try:
        obj = load_weights(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file: one line
        raise CnnlabError(f"cannot read checkpoint {path}: {first_line(exc, 120, with_type=True)}") from None
    problem = checkpoint_problem(obj)
    if problem is not None:
        raise CnnlabError(f"{path} {problem}")
    kind, config, names, size = checkpoint_kind(obj["kind"]).name, obj["config"], obj["class_names"], obj["image_size"]
    try:
        with torch.device("meta"):  # shapes only: a config asking for a huge model allocates nothing
            expected = build_model(kind, config, len(names), image_size=size, init=True)
    except Exception as exc:  # noqa: BLE001 - any config the builders reject
        raise CnnlabError(f"checkpoint {path} has an invalid {kind} config: {first_line(exc, 160)}") from None
    if tuple(expected.input_shape) != (obj["channels"], size, size):
        raise CnnlabError(
            f"checkpoint {path}: channels {obj['channels']} and image_size {size} do not match its "
            f"model's input {list(expected.input_shape)}"
        )
    mismatch = state_dict_problem(expected.state_dict(), obj["state_dict"])
    if mismatch is not None:
        raise CnnlabError(f"checkpoint {path} does not match its model: {mismatch}")
    model = build_model(kind, config, len(names), image_size=size, init=False)
    try:
        model.load_state_dict(obj["state_dict"], strict=True)
    except RuntimeError as exc:
        raise CnnlabError(f"checkpoint {path} does not match its model: {first_line(exc, 160)}") from None
    model.to(device).eval()
    return FaceClassifier(model, kind, config, list(names), size, obj["channels"], obj.get("meta", {}))


_HEADER_KEYS = ("format_version", "kind", "config", "class_names", "image_size", "channels", "state_dict")


def checkpoint_problem(obj: object) -> str | None:
    """Why `obj` (a loaded checkpoint file) is not a usable face classifier checkpoint, or None.

    Types and ranges of every header field; the state dict's shapes are checked against the model later.
    """

    def is_int(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        return "is not a cnnlab face classifier checkpoint (written by cnnlab part2 ...)"
    missing = [k for k in _HEADER_KEYS if k not in obj]
    if missing:
        return f"is an incomplete checkpoint: it lacks {', '.join(missing)}"
    version = obj["format_version"]
    if not is_int(version) or version < 1:
        return f"has an invalid format_version {str(version)[:40]!r}"
    if version > CHECKPOINT_VERSION:
        return f"has checkpoint format {version}; this cnnlab reads up to {CHECKPOINT_VERSION}"
    if not is_checkpoint_kind(obj["kind"]):
        return f"names an unknown model kind {str(obj['kind'])[:40]!r} (known: {', '.join(FACE_KINDS.names())})"
    if not isinstance(obj["config"], dict) or not all(isinstance(k, str) for k in obj["config"]):
        return "has no model config (a mapping of names to values)"
    names = obj["class_names"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return "has no class names (a non-empty list of strings)"
    size = obj["image_size"]
    if not is_int(size) or not MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE:
        return f"has image_size {str(size)[:40]!r}; it must be an integer in [{MIN_IMAGE_SIZE}, {MAX_IMAGE_SIZE}]"
    if not is_int(obj["channels"]) or obj["channels"] not in (1, 3):
        return f"has channels {str(obj['channels'])[:40]!r}; it must be 1 or 3"
    meta = obj.get("meta", {})
    if (
        not isinstance(meta, dict)
        or not isinstance(meta.get("weights") or {}, dict)
        or not isinstance(meta.get("description", ""), str)
    ):
        return "has an invalid meta section (a mapping; its weights entry a mapping, its description a string)"
    return None


# ----------------------------------------------------------------------------- images


def load_image(path: str | os.PathLike, image_size: int, channels: int) -> torch.Tensor:
    """An image file as (1, C, S, S) float32 in [0, 1]: centre square crop, then resize (like the face crops).

    One-line errors for a missing file, a directory, a special file, more than MAX_IMAGE_PIXELS pixels
    (checked from the header, before decoding) and an undecodable file.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with open_image(path) as im:
            im.load()
            img = im.convert("L" if channels == 1 else "RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise CnnlabError(f"cannot read image {path}: {first_line(exc, 120)}") from None
    w, h = img.size
    if w == 0 or h == 0:
        raise CnnlabError(f"image {path} is empty")
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    img = img.crop((left, top, left + s, top + s)).resize((image_size, image_size), Image.BILINEAR)
    import numpy as np

    arr = np.asarray(img, dtype=np.float32) / 255.0  # (S, S) or (S, S, 3)
    t = torch.from_numpy(arr.copy())
    t = t.unsqueeze(0) if channels == 1 else t.permute(2, 0, 1)
    return t.unsqueeze(0).contiguous()  # (1, C, S, S)


@torch.inference_mode()
def predict_probs(clf: FaceClassifier, x: torch.Tensor) -> torch.Tensor:
    """Class probabilities (B, K) for images (B, C, S, S) in [0, 1]."""
    dev = next(clf.model.parameters()).device
    return torch.softmax(clf.model(x.to(dev)).float(), dim=1).cpu()


def predict(
    image: str | os.PathLike, checkpoint: str | os.PathLike | FaceClassifier, top_k: int = 3
) -> list[tuple[str, float]]:
    """The top-k (class name, probability) for an image file, most probable first."""
    clf = checkpoint if isinstance(checkpoint, FaceClassifier) else load_checkpoint(checkpoint)
    if top_k < 1:
        raise ConfigError(f"--top-k must be >= 1, got {top_k}")
    probs = predict_probs(clf, load_image(image, clf.image_size, clf.channels))[0]
    k = min(top_k, len(clf.class_names))
    p, idx = probs.topk(k)
    return [(clf.class_names[i], float(v)) for v, i in zip(p.tolist(), idx.tolist())]


def untrained_note(clf: FaceClassifier) -> str:
    """ "untrained AlexNet" for models built on random AlexNet weights, else ""."""
    w = clf.meta.get("weights") or {}
    return UNTRAINED_LABEL if w and not w.get("pretrained", True) else ""


__all__ = [
    "FaceClassifier",
    "build_model",
    "load_run_model",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_problem",
    "load_image",
    "predict",
    "predict_probs",
    "untrained_note",
    "INPUT_SIZE",
]
