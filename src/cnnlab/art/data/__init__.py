"""Part 1 data: the artists' images as one in-memory dataset, the dataset registry, and a stratified split.

`load_art_data(spec)` takes a registered dataset name (the default, "synthetic-artists", is a
procedural stand-in for the handout's 451 paintings; see cnnlab.art.data.synthetic) or a folder laid out
like the handout's art_data/artists: one sub-folder per artist, any image format Pillow reads.
Decoding, preprocessing and the on-disk tensor cache are in cnnlab.art.data.folder; files that could not
be used are listed in `ImageDataset.skipped`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cnnlab.art.data.folder import cache_path, load_folder, read_cache, write_cache
from cnnlab.core.errors import ConfigError, DataError
from cnnlab.core.io import canonical_json, sha256_bytes
from cnnlab.core.registry import Registry

SYNTHETIC_NAME = "synthetic-artists"


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """A whole labelled image set in memory (the handout's data is small: 451 images)."""

    name: str  # "synthetic-artists" or the resolved folder path
    images: torch.Tensor  # (N, 3, H, W) float32 in [-0.5, 0.5]
    labels: torch.Tensor  # (N,) int64 in [0, len(class_names))
    class_names: tuple[str, ...]  # display names, in sorted folder order
    data_hash: str  # content hash of the folder, or of the generator version and parameters
    synthetic: bool
    skipped: tuple[tuple[str, str], ...] = ()  # (path, reason) of files not used

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"images {tuple(self.images.shape)} and labels {tuple(self.labels.shape)} do not match")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def class_counts(self) -> dict[str, int]:
        """Images per class, in class order."""
        counts = torch.bincount(self.labels, minlength=self.num_classes).tolist()
        return dict(zip(self.class_names, counts))

    def summary(self) -> str:
        """One line for run summaries; names synthetic data as such."""
        kind = "SYNTHETIC procedural stand-in for the handout's paintings" if self.synthetic else "images"
        h, w = self.images.shape[-2:]
        return (
            f"{self.name} ({kind}): {len(self)} images, {self.num_classes} classes, {h}x{w}, "
            f"{len(self.skipped)} files skipped, data hash {self.data_hash[:12]}"
        )


@dataclass(frozen=True, eq=False)
class Split:
    """Sorted, disjoint int64 index tensors into an ImageDataset."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor


DATASETS: Registry[ImageDataset] = Registry("dataset")


def load_art_data(
    spec: str = SYNTHETIC_NAME, *, image_size: int = 50, cache_dir: str | Path | None = None
) -> ImageDataset:
    """Load a registered dataset by name, or a folder with one sub-folder per class.

    Registered names win over a folder of the same name (write ./synthetic-artists for the folder).
    `cache_dir` defaults to cnnlab.art.data.folder.default_cache_dir(). Raises DataError for a missing
    folder, fewer than two class folders, or a class folder without a readable image.
    """
    if not isinstance(image_size, int) or isinstance(image_size, bool) or not 8 <= image_size <= 1024:
        raise ConfigError(f"image size must be an integer in [8, 1024], got {image_size!r}")
    spec = str(spec)
    if spec in DATASETS:
        return DATASETS.create(spec, image_size=image_size, cache_dir=cache_dir)
    root = Path(spec).expanduser()
    if not root.exists():
        raise DataError(f"data folder not found: {spec} (or use a registered dataset: {', '.join(DATASETS.names())})")
    if not root.is_dir():
        raise DataError(f"data path is not a folder: {spec}")
    root = root.resolve()
    found = load_folder(root, image_size, cache_dir)
    return ImageDataset(
        name=str(root),
        images=found.images,
        labels=found.labels,
        class_names=found.class_names,
        data_hash=found.data_hash,
        synthetic=False,
        skipped=found.skipped,
    )


def stratified_split(
    labels: torch.Tensor, *, test_fraction: float = 0.15, folds: int = 5, fold: int = 0, seed: int = 0
) -> Split:
    """A fixed stratified test split, and fold `fold` of a stratified `folds`-fold split of the rest.

    Test: each class gives round(n * test_fraction) images, at least one when it has 3 or more, and
    always leaves two (one to train on, one to validate on) when it can; the test split depends only
    on `seed` and the fraction, never on the fold, and is meant to be touched only for final numbers.
    Validation: the remaining images of each class, in a seeded order, are dealt round-robin to the
    folds (continuing the deal across classes, so the folds differ in size by at most one); fold
    `fold` is the validation split and the other folds are the training split. Over folds 0..folds-1
    every non-test image is validated on exactly once. Deterministic from `seed`; one random stream
    per (seed, class), so a class's split does not depend on the other classes' images.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ConfigError(f"test fraction must be in [0, 1), got {test_fraction}")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ConfigError(f"folds must be an integer >= 2, got {folds!r}")
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < folds:
        raise ConfigError(f"fold must be an integer in [0, {folds}), got {fold!r}")
    labels_np = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
    if labels_np.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels_np.shape}")
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    dealt = 0  # images dealt to folds so far: the next class starts its deal at fold dealt % folds
    for c in np.unique(labels_np):
        idx = np.flatnonzero(labels_np == c)
        idx = idx[np.random.default_rng([int(seed) & 0xFFFFFFFF, int(c)]).permutation(len(idx))]
        n = len(idx)
        n_test = math.floor(n * test_fraction + 0.5)
        if n >= 3 and test_fraction > 0:
            n_test = min(max(n_test, 1), n - 2)
        n_test = max(0, min(n_test, n - 1))
        rest = idx[n_test:]
        fold_of = (dealt + np.arange(len(rest))) % folds  # (len(rest),): the fold of each remaining image
        dealt += len(rest)
        parts["test"].append(idx[:n_test])
        parts["val"].append(rest[fold_of == fold])
        parts["train"].append(rest[fold_of != fold])
    out = {k: _sorted(v) for k, v in parts.items()}
    if len(out["val"]) == 0 or len(out["train"]) == 0:
        raise ConfigError(
            f"{len(labels_np)} images leave no validation or no training image in fold {fold} of {folds}; use fewer folds"
        )
    return Split(**out)


def _sorted(arrays: list[np.ndarray]) -> torch.Tensor:
    out = np.sort(np.concatenate(arrays)) if arrays else np.zeros(0, np.int64)
    return torch.from_numpy(out.astype(np.int64))


# ----------------------------------------------------------------------------- embedded datasets
@DATASETS.register(SYNTHETIC_NAME)
def _synthetic_artists(image_size: int = 50, cache_dir: str | Path | None = None) -> ImageDataset:
    """The procedural stand-in for the handout's 11 artists (451 images, Table 1 counts)."""
    from cnnlab.art.data import synthetic

    data_hash = sha256_bytes(canonical_json(synthetic.generator_params()).encode())
    path = cache_path(data_hash, image_size, cache_dir)
    cached = read_cache(path, data_hash, image_size)
    if cached is None:
        images, labels = synthetic.render_artists(image_size)
        cached = {
            "images": torch.from_numpy(images),
            "labels": torch.from_numpy(labels),
            "class_names": list(synthetic.class_names()),
            "skipped": [],
        }
        write_cache(path, cached, data_hash, image_size)
    return ImageDataset(
        name=SYNTHETIC_NAME,
        images=cached["images"],
        labels=cached["labels"],
        class_names=tuple(cached["class_names"]),
        data_hash=data_hash,
        synthetic=True,
        skipped=(),
    )
