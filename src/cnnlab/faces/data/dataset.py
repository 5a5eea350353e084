"""Face data for the Part 2 models: per-person splits and tensors.

`load_faces("olivetti")` uses the embedded Olivetti faces; `load_faces(DIR)` uses a folder made by
`cnnlab faces download` (the ok rows of its manifest).

Split rule: cnnlab.faces.data.splits (the handout's 70 training faces per person, the rest divided evenly
between validation and test; Olivetti's 10 faces per person give 6/2/2).
Which faces go where is a seeded permutation per person (independent of list order and of the
other persons), so the same seed always gives the same split.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cnnlab.core.errors import ConfigError, DataError, first_line
from cnnlab.core.images import display_name, open_image
from cnnlab.core.readback import inside
from cnnlab.faces.data.splits import FaceSplitConfig, assign_split, split_sizes
from cnnlab.faces.facescrub.lists import name_key

if TYPE_CHECKING:  # torch is imported lazily (import cnnlab.faces stays cheap)
    import torch

log = logging.getLogger(__name__)

COURSE_ACTORS: tuple[str, ...] = (
    "Alec Baldwin",
    "Bill Hader",
    "Steve Carell",
    "Lorraine Bracco",
    "Peri Gilpin",
    "Angie Harmon",
)
COURSE = "course"  # the name that stands for COURSE_ACTORS wherever actors are chosen


def resolve_actors(names: Sequence[str] | None) -> list[str] | None:
    """Actor names as the user gave them, with "course" expanded to the six of the course project.

    Items may be comma-separated ("Alec Baldwin,Bill_Hader"); None or nothing means every actor.
    """
    if not names:
        return None
    out: list[str] = []
    for item in names:
        for name in (part.strip() for part in str(item).split(",")):
            if name.lower() == COURSE:
                out.extend(a for a in COURSE_ACTORS if a not in out)
            elif name and name not in out:
                out.append(name)
    return out or None


@dataclass(frozen=True)
class FaceData:
    source: str  # "olivetti" or the FaceScrub folder path
    provenance: str  # one human sentence
    class_names: tuple[str, ...]
    train_x: torch.Tensor  # float32 (N, C, H, W) in [0, 1]
    train_y: torch.Tensor  # int64 (N,)
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    data_hash: str  # content hash of the selected faces + split config + image size
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # per class (train, val, test)

    @property
    def splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """{"train": (x, y), "val": ..., "test": ...}; an empty split is a DataError naming it."""
        out = {
            "train": (self.train_x, self.train_y.long()),
            "val": (self.val_x, self.val_y.long()),
            "test": (self.test_x, self.test_y.long()),
        }
        for name, (_, y) in out.items():
            if len(y) == 0:
                raise DataError(f"the {name} split of {self.source} is empty")
        return out

    @property
    def info(self) -> dict:
        """What a run records about its data (the hash makes it part of the run id)."""
        return {
            "name": str(self.source),
            "hash": str(self.data_hash),
            "provenance": self.provenance,
            "classes": list(self.class_names),
            "n_train": int(len(self.train_y)),
            "n_val": int(len(self.val_y)),
            "n_test": int(len(self.test_y)),
            "counts": {k: list(v) for k, v in self.counts.items()},
            "image_shape": list(self.train_x.shape[1:]),
        }


def _select(available: dict[str, str], actors: Sequence[str] | None, what: str) -> list[str]:
    """Class names to use, in the caller's order (or the natural order); unknown -> DataError."""
    if actors is None:
        return list(available.values())
    if isinstance(actors, str):
        actors = [actors]
    chosen, unknown = [], []
    for a in actors:
        key = name_key(a)
        if key in available:
            if available[key] not in chosen:
                chosen.append(available[key])
        else:
            unknown.append(a)
    if unknown:
        known = ", ".join(list(available.values())[:12]) + (" ..." if len(available) > 12 else "")
        raise DataError(f"unknown {what}(s) {', '.join(map(repr, unknown))} (known: {known})")
    if not chosen:
        raise DataError(f"no {what} selected")
    return chosen


def _check_args(image_size: int, channels: int) -> None:
    if not isinstance(image_size, int) or isinstance(image_size, bool) or not 1 <= image_size <= 1024:
        raise ConfigError(f"image_size={image_size!r}: must be an int in 1..1024")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ConfigError(f"channels={channels!r}: must be 1 or 3")


def _content_hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def _tensors(arrays: list[np.ndarray], labels: list[int], size: int, channels: int):
    """uint8 (H, W) or (H, W, 3) arrays -> float32 (N, C, H, W) in [0, 1] and int64 (N,)."""
    import torch

    x = np.zeros((len(arrays), channels, size, size), dtype=np.uint8)
    for i, a in enumerate(arrays):
        x[i] = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)  # (C, H, W); gray broadcasts to 3
    return torch.from_numpy(x).float().div_(255.0), torch.tensor(labels, dtype=torch.int64)


def _resize(img, size: int, channels: int) -> np.ndarray:
    from PIL import Image

    img = img.convert("L" if channels == 1 else "RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def _build(
    source: str,
    provenance: str,
    classes: list[str],
    splits: dict[str, list[list]],
    load,
    size: int,
    channels: int,
    data_hash: str,
) -> FaceData:
    out = {}
    for part in ("train", "val", "test"):
        arrays, labels = [], []
        for label, items in enumerate(splits[part]):
            for item in items:
                arrays.append(load(item))
                labels.append(label)
        out[part] = _tensors(arrays, labels, size, channels)
    counts = {c: tuple(len(splits[p][i]) for p in ("train", "val", "test")) for i, c in enumerate(classes)}
    return FaceData(
        source,
        provenance,
        tuple(classes),
        out["train"][0],
        out["train"][1],
        out["val"][0],
        out["val"][1],
        out["test"][0],
        out["test"][1],
        data_hash,
        counts,
    )  # type: ignore[arg-type]


def _sizes_text(counts: dict[str, tuple[int, int, int]], split: FaceSplitConfig) -> str:
    """E.g. "70 training faces per actor (fewer for 2), the rest halved: 201 validation, 204 test"."""
    short = sum(c[0] < split.train_per_actor for c in counts.values())
    totals = [sum(c[k] for c in counts.values()) for k in (1, 2)]
    return (
        f"{split.train_per_actor} training faces per actor{f' (fewer for {short})' if short else ''}, the rest "
        f"halved: {totals[0]} validation, {totals[1]} test"
    )


def _split_all(
    names: list[str], items: dict[str, list], split: FaceSplitConfig, warn: bool
) -> tuple[list[str], dict[str, list[list]]]:
    classes, splits = [], {"train": [], "val": [], "test": []}
    for name in names:
        sizes = split_sizes(len(items[name]), split)
        if sizes is None:
            log.warning("%s: only %d usable face(s), too few to split: left out", name, len(items[name]))
            continue
        if sizes[0] < split.train_per_actor and warn:
            log.warning(
                "%s: %d usable faces, fewer than %d training + %d validation + %d test: split %d/%d/%d",
                name,
                len(items[name]),
                split.train_per_actor,
                split.min_eval_per_actor,
                split.min_eval_per_actor,
                *sizes,
            )
        tr, va, te = assign_split(items[name], sizes, split.seed, name)
        classes.append(name)
        splits["train"].append(tr)
        splits["val"].append(va)
        splits["test"].append(te)
    if not classes:
        raise DataError("no person has enough usable faces to split")
    return classes, splits


def load_faces(
    source: str = "olivetti",
    *,
    image_size: int = 28,
    channels: int = 1,
    actors: Sequence[str] | None = None,
    split: FaceSplitConfig | None = None,
) -> FaceData:
    """Face tensors split per person: the embedded Olivetti faces or a `cnnlab faces download` folder.

    Olivetti (source "olivetti"): classes s1..s40, 10 images each; the default split rule gives 6/2/2
    per person (training gives way: 10 faces are fewer than the handout's 70 + 2 + 2);
    the 64x64 images are resized (PIL bilinear) to `image_size`. FaceScrub folder: the ok rows of
    manifest.csv, loading the downloader's gray<size>/rgb<size> copies when they match
    `image_size`/`channels`, otherwise resizing the crop. channels=3 on grayscale data replicates the
    channel. `actors` picks classes by name (case-insensitive, "Alec_Baldwin" == "Alec Baldwin").
    """
    _check_args(image_size, channels)
    split = split or FaceSplitConfig()
    if not isinstance(split, FaceSplitConfig):
        raise ConfigError("split must be a FaceSplitConfig")
    if str(source).lower() == "olivetti":
        return _load_olivetti(image_size, channels, actors, split)
    return _load_folder(Path(source), image_size, channels, actors, split)


def _load_olivetti(size: int, channels: int, actors: Sequence[str] | None, split: FaceSplitConfig) -> FaceData:
    from PIL import Image

    from cnnlab.faces.data.olivetti import CLASS_NAMES, load_olivetti

    images, labels = load_olivetti()
    available = {name_key(n): n for n in CLASS_NAMES}
    names = _select(available, actors, "Olivetti person")
    items = {n: list(np.flatnonzero(labels == CLASS_NAMES.index(n))) for n in names}
    classes, splits = _split_all(names, items, split, warn=False)

    def load(i: int) -> np.ndarray:
        return _resize(Image.fromarray(images[i]), size, 1)  # (H, W); replicated to 3 channels by _tensors

    counts_text = "/".join(map(str, split_sizes(10, split) or ()))
    how = "kept at" if size == 64 else ("upsampled" if size > 64 else "downsampled") + " (bilinear) to"
    provenance = (
        f"Olivetti faces (AT&T Laboratories Cambridge), {len(classes)} people x 10 images, "
        f"64x64 grayscale {how} {size}x{size}, {counts_text} train/val/test per person (seed {split.seed})"
    )
    digest = hashlib.sha256(images.tobytes()).hexdigest()
    payload = {
        "source": "olivetti",
        "images": digest,
        "size": size,
        "channels": channels,
        "split": asdict(split),
        "faces": {p: [[c, [int(i) for i in s]] for c, s in zip(classes, splits[p])] for p in splits},
    }
    log.info(provenance)
    return _build("olivetti", provenance, classes, splits, load, size, channels, _content_hash(payload))


def _face_order(row: dict[str, str]) -> tuple:
    fid = row["face_id"]
    # ASCII digits only (int() refuses other Unicode digits) and short enough for int() to accept.
    return (0, int(fid), "") if fid.isascii() and fid.isdigit() and len(fid) <= 4000 else (1, 0, fid)


def _load_folder(
    folder: Path, size: int, channels: int, actors: Sequence[str] | None, split: FaceSplitConfig
) -> FaceData:
    from PIL import Image, UnidentifiedImageError

    from cnnlab.faces.facescrub.download import read_manifest
    from cnnlab.faces.facescrub.manifest import MANIFEST

    if not folder.is_dir():
        raise DataError(f"face folder not found: {folder} (use 'olivetti' or a `cnnlab faces download` folder)")
    rows = read_manifest(folder)
    everyone: dict[str, str] = {}
    ok: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        name = display_name(r["actor"])
        if name:
            everyone.setdefault(name_key(name), name)
            if r["status"] == "ok":
                ok[name_key(name)].append(r)
    everyone = dict(sorted(everyone.items()))
    names = _select(everyone, actors, "actor")
    for n in names:
        if not ok.get(name_key(n)):
            log.warning("%s: no usable face in %s", n, folder)
    items = {n: sorted(ok.get(name_key(n), []), key=_face_order) for n in names}
    classes, splits = _split_all(names, items, split, warn=True)

    def load(row: dict[str, str]) -> np.ndarray:
        stored = {("gray", 1): row.get("gray", ""), ("rgb", 3): row.get("rgb", "")}
        kind = "gray" if channels == 1 else "rgb"
        rel = stored[(kind, channels)] if row.get(f"{kind}_size") == str(size) else ""
        column = kind if rel else "crop"
        # The manifest is untrusted: its paths stay inside the folder, images are regular files under the pixel cap.
        path = inside(
            folder,
            rel or row["crop"],
            f"{folder / MANIFEST}: {column} of {row['actor'][:80]} face {row['face_id'][:40]}",
        )
        try:
            with open_image(path) as img:
                return _resize(img, size, channels)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            raise DataError(f"cannot read face image {path}: {first_line(exc)}") from None

    counts = {
        c: (len(splits["train"][i]), len(splits["val"][i]), len(splits["test"][i])) for i, c in enumerate(classes)
    }
    provenance = (
        f"FaceScrub: {len(classes)} actors, {_sizes_text(counts, split)} (seed {split.seed}), "
        f"{size}x{size} {'grayscale' if channels == 1 else 'RGB'}, from {folder.name}"
    )
    payload = {
        "source": "facescrub",
        "size": size,
        "channels": channels,
        "split": asdict(split),
        "faces": {p: [[c, [[r["sha256"], r["bbox"]] for r in s]] for c, s in zip(classes, splits[p])] for p in splits},
    }
    log.info(provenance)
    return _build(str(folder), provenance, classes, splits, load, size, channels, _content_hash(payload))


def describe_faces(
    source: str = "olivetti", split: FaceSplitConfig | None = None
) -> list[tuple[str, int, int, tuple[int, int, int] | None]]:
    """Per person: (name, rows, usable faces, split sizes or None if left out), without loading images."""
    split = split or FaceSplitConfig()
    if str(source).lower() == "olivetti":
        from cnnlab.faces.data.olivetti import CLASS_NAMES, PER_PERSON

        return [(n, PER_PERSON, PER_PERSON, split_sizes(PER_PERSON, split)) for n in CLASS_NAMES]
    from cnnlab.faces.facescrub.download import read_manifest

    if not Path(source).is_dir():
        raise DataError(f"face folder not found: {source}")
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in read_manifest(source):
        name = display_name(r["actor"]) or "?"
        rows[name][0] += 1
        rows[name][1] += r["status"] == "ok"
    return [(n, total, usable, split_sizes(usable, split)) for n, (total, usable) in sorted(rows.items())]
