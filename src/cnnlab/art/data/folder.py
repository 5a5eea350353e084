"""Image folders: scan and hash a folder of class sub-folders, decode its images, and the on-disk cache.

Preprocessing follows the handout's DataLoader: each image is downsampled so that its longer side is
`image_size` (aspect ratio kept), centred and padded to a square with mid-grey (0.0), and RGB is
scaled to [-0.5, 0.5]. Grayscale, palette, CMYK and 16-bit images are converted to RGB; transparent
ones are composited over mid-grey. Files that cannot be decoded (truncated, corrupt, not images, more
pixels than cnnlab.core.images.MAX_IMAGE_PIXELS) are skipped with a warning and listed with the
reason; hidden files (.DS_Store) are listed there too. Only regular files (or links to them) are
read: a FIFO or a link to a device (/dev/zero) would hang the content hash, so they are skipped, named
in a warning.

Decoded tensors are cached under `default_cache_dir()`, keyed by a hash of the folder's content (or,
for generated data, of the generator's parameters), the image size and the preprocessing version, so
later runs do not decode again. cnnlab.art.data turns the result into an `ImageDataset`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cnnlab.core.errors import DataError, first_line
from cnnlab.core.images import check_pixels, display_name, open_image, to_rgb
from cnnlab.core.io import atomic_path, canonical_json, sha256_bytes
from cnnlab.core.runs.state_dicts import load_weights

log = logging.getLogger(__name__)

# Bump when decoding/resizing/padding changes: it is part of the cache key.
PREPROCESS_VERSION = 1
PAD_VALUE = 0.0  # mid-grey in [-0.5, 0.5]; invariant under the "invert" transform
IGNORED_DIRS = frozenset({"__MACOSX"})  # macOS zip artefacts: resource forks, never images
NOT_REGULAR = "not a regular file (a FIFO, device or socket): not read"


@dataclass(frozen=True, eq=False)
class FolderImages:
    """What `load_folder` found: the decoded images and what was left out."""

    images: torch.Tensor  # (N, 3, S, S) float32 in [-0.5, 0.5]
    labels: torch.Tensor  # (N,) int64, index into class_names
    class_names: tuple[str, ...]  # display names, in sorted folder order
    data_hash: str  # content hash of the folder
    skipped: tuple[tuple[str, str], ...]  # (absolute path, reason) of files not used


# ----------------------------------------------------------------------------- cache
def default_cache_dir() -> Path:
    """$CNNLAB_CACHE, or ~/.cache/cnnlab."""
    return Path(os.environ.get("CNNLAB_CACHE") or "~/.cache/cnnlab").expanduser()


def cache_path(data_hash: str, image_size: int, cache_dir: str | Path | None = None) -> Path:
    """The cache file for one data hash, image size and preprocessing version."""
    key = sha256_bytes(
        canonical_json({"data": data_hash, "size": int(image_size), "pre": PREPROCESS_VERSION}).encode()
    )[:24]
    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / "art" / f"{key}.pt"


def read_cache(path: Path, data_hash: str, image_size: int) -> dict | None:
    """The cached tensors, or None when missing, stale or unreadable (then they are rebuilt)."""
    if not path.is_file():
        return None
    try:
        obj = load_weights(path)
        ok = (
            isinstance(obj, dict)
            and obj.get("data_hash") == data_hash
            and obj.get("image_size") == image_size
            and obj.get("version") == PREPROCESS_VERSION
            and obj["images"].shape[-1] == image_size
        )
    except Exception as exc:  # noqa: BLE001 - a damaged cache file is rebuilt, never fatal
        log.warning("ignoring unreadable cache file %s (%s)", path, type(exc).__name__)
        return None
    return obj if ok else None


def write_cache(path: Path, payload: dict, data_hash: str, image_size: int) -> None:
    """Write `payload` (images, labels, class_names, skipped) atomically; a failure only logs a warning."""
    obj = dict(payload, data_hash=data_hash, image_size=image_size, version=PREPROCESS_VERSION)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            torch.save(obj, f)
    except OSError as exc:  # a read-only cache only costs time
        log.warning("could not write cache file %s (%s); continuing without cache", path, exc)


# ----------------------------------------------------------------------------- folders
def load_folder(root: Path, image_size: int, cache_dir: str | Path | None = None) -> FolderImages:
    """Decode every image under `root` (one sub-folder per class), or read them from the cache.

    Raises DataError for fewer than two class folders, two folders with the same display name, or a
    class folder without a readable image. Skipped files are logged (hidden ones at INFO level).
    """
    scan = _scan_folder(root)
    if not scan.class_dirs:
        raise DataError(f"no class folders in {root} (expected one sub-folder per artist)")
    if len(scan.class_dirs) < 2:
        raise DataError(f"need at least two class folders in {root}, found 1 ({scan.class_dirs[0]!r})")
    names = [display_name(d) for d in scan.class_dirs]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise DataError(
                f"class folders {scan.class_dirs[names.index(name)]!r} and {scan.class_dirs[i]!r} in "
                f"{root} have the same name {name!r}"
            )

    path = cache_path(scan.data_hash, image_size, cache_dir)
    cached = read_cache(path, scan.data_hash, image_size)
    if cached is None:
        cached = _decode_folder(root, scan, image_size)
        write_cache(path, cached, scan.data_hash, image_size)
    else:
        log.debug("loaded %s from cache %s", root, path)

    skipped = tuple((str(root / rel), reason) for rel, reason in cached["skipped"])
    for file, reason in skipped:
        if reason.startswith("hidden"):
            log.info("ignored %s: %s", file, reason)
        else:
            log.warning("skipped %s: %s", file, reason)
    if skipped:
        log.warning("skipped %d of the files in %s (see above)", len(skipped), root)
    return FolderImages(cached["images"], cached["labels"], tuple(names), scan.data_hash, skipped)


@dataclass
class _Scan:
    class_dirs: list[str]  # raw folder names, sorted
    files: list[list[str]]  # per class: relative paths of candidate image files, sorted
    ignored: list[tuple[str, str]]  # (relative path, reason)
    data_hash: str


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in IGNORED_DIRS


def _scan_folder(root: Path) -> _Scan:
    """List class folders and files, and hash relative paths plus bytes in one streaming pass."""
    h = hashlib.sha256()

    def add_entry(tag: bytes, rel: str) -> None:
        raw = rel.encode("utf-8", "surrogateescape")
        h.update(tag + len(raw).to_bytes(4, "little") + raw)

    def add_file(path: Path, rel: str) -> bool:
        """Hash one file; False (nothing read) when it is not a regular file."""
        add_entry(b"F", rel)
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then tells what was opened.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:  # unreadable: it changes the hash, and decoding will skip it
            h.update(b"!" + type(exc).__name__.encode())
            return True
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                h.update(b"S")
                return False
            try:
                h.update(st.st_size.to_bytes(8, "little"))
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            except OSError as exc:
                h.update(b"!" + type(exc).__name__.encode())
        return True

    class_dirs: list[str] = []
    files: list[list[str]] = []
    ignored: list[tuple[str, str]] = []
    try:
        with os.scandir(root) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        raise DataError(f"cannot read data folder {root}: {exc.strerror or exc}") from None
    for entry in entries:
        if entry.is_dir():
            if _hidden(entry.name):
                add_entry(b"X", entry.name)
                ignored.append((entry.name, "hidden or system folder"))
                continue
            add_entry(b"D", entry.name)
            class_dirs.append(entry.name)
            files.append([])
            for dirpath, dirnames, filenames in os.walk(entry.path):
                rel_dir = os.path.relpath(dirpath, root)
                for d in sorted(dirnames):
                    if _hidden(d):
                        ignored.append((os.path.join(rel_dir, d), "hidden or system folder"))
                dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
                for name in sorted(filenames):
                    rel = os.path.join(rel_dir, name)
                    if not add_file(Path(dirpath) / name, rel):
                        ignored.append((rel, NOT_REGULAR))
                    elif _hidden(name):
                        ignored.append((rel, "hidden file"))
                    else:
                        files[-1].append(rel)
        elif not add_file(Path(entry.path), entry.name):
            ignored.append((entry.name, NOT_REGULAR))
        else:
            ignored.append((entry.name, "hidden file" if _hidden(entry.name) else "not inside a class folder"))
    return _Scan(class_dirs, files, ignored, h.hexdigest())


def _decode_folder(root: Path, scan: _Scan, image_size: int) -> dict:
    jobs = [(c, rel) for c, rels in enumerate(scan.files) for rel in rels]
    workers = max(1, min(4, os.cpu_count() or 1))
    # Pillow releases the GIL while decoding, so threads help; map keeps the order deterministic.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda job: _try_decode(root / job[1], image_size), jobs))
    images, labels, skipped = [], [], list(scan.ignored)
    for (c, rel), (array, reason) in zip(jobs, results):
        if array is None:
            skipped.append((rel, reason))
        else:
            images.append(array)
            labels.append(c)
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(scan.class_dirs))
    for c, n in enumerate(counts):
        if n == 0:
            n_files = len(scan.files[c])
            raise DataError(
                f"class folder {scan.class_dirs[c]!r} in {root} has no readable images "
                f"({n_files} file{'s' if n_files != 1 else ''} there)"
            )
    skipped.sort()
    return {
        "images": torch.from_numpy(np.stack(images)),
        "labels": torch.tensor(labels, dtype=torch.int64),
        "class_names": [display_name(d) for d in scan.class_dirs],
        "skipped": [list(s) for s in skipped],
    }


def _try_decode(path: Path, image_size: int) -> tuple[np.ndarray | None, str]:
    try:
        return _decode_image(path, image_size), ""
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on corrupt files; skip, never crash
        return None, f"cannot decode ({first_line(exc, 200, with_type=True)})"


def _decode_image(path: Path, image_size: int) -> np.ndarray:
    """Decode one file to (3, S, S) float32 in [-0.5, 0.5]: fit the longer side, pad with grey."""
    from PIL import Image, ImageOps

    with open_image(path, max_pixels=None) as im:
        # JPEG: decode at a reduced scale (>= 2x the target) - much faster for large scans.
        im.draft(None, (2 * image_size, 2 * image_size))
        check_pixels(*im.size, "too large")  # after the draft: the pixels that will really be decoded
        im.load()  # raises on truncated files (Pillow's LOAD_TRUNCATED_IMAGES stays False)
        try:
            im = ImageOps.exif_transpose(im)
        except Exception:  # noqa: BLE001 - a broken EXIF block only loses the rotation
            pass
        im = to_rgb(im)  # transparency over mid-grey, like the padding
        w, h = im.size
        scale = image_size / max(w, h)
        nw, nh = max(1, min(image_size, round(w * scale))), max(1, min(image_size, round(h * scale)))
        im = im.resize((nw, nh), Image.Resampling.LANCZOS)
        arr = np.asarray(im, dtype=np.float32) / 255.0 - 0.5  # (nh, nw, 3)
    out = np.full((3, image_size, image_size), PAD_VALUE, dtype=np.float32)
    top, left = (image_size - nh) // 2, (image_size - nw) // 2
    out[:, top : top + nh, left : left + nw] = arr.transpose(2, 0, 1)
    return out
