"""The embedded default face data: the Olivetti faces (AT&T Laboratories Cambridge).

40 people x 10 grayscale 64x64 images, research use with acknowledgement to AT&T Laboratories
Cambridge. The package ships them as src/cnnlab/embedded/olivetti.npz (images uint8 (400, 64, 64),
labels int64 (400,), person k = images 10k..10k+9), made once from olivettifaces.mat by
`convert_olivetti` (`cnnlab faces convert-olivetti`).
"""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

import numpy as np

from cnnlab.core.errors import DataError
from cnnlab.core.io import atomic_write_bytes

ACKNOWLEDGEMENT = (
    "Olivetti faces: AT&T Laboratories Cambridge (formerly the Olivetti Research Laboratory), "
    "40 people x 10 images, 64x64 grayscale; used for research with acknowledgement."
)
N_PEOPLE, PER_PERSON, SIDE = 40, 10, 64
CLASS_NAMES = tuple(f"s{k}" for k in range(1, N_PEOPLE + 1))  # the AT&T archive's folder names


def convert_olivetti(mat_path: str | Path, out_path: str | Path) -> Path:
    """Convert olivettifaces.mat (variable 'faces', uint8 4096x400, column-major images) to an npz."""
    from scipy.io import loadmat  # heavy: only here

    mat_path, out_path = Path(mat_path), Path(out_path)
    try:
        mat = loadmat(str(mat_path))
    except FileNotFoundError:
        raise DataError(f"Olivetti .mat file not found: {mat_path}") from None
    except (ValueError, TypeError, OSError) as exc:
        raise DataError(f"cannot read {mat_path} as a MATLAB file: {exc}") from None
    faces = mat.get("faces")
    if not isinstance(faces, np.ndarray) or faces.shape != (SIDE * SIDE, N_PEOPLE * PER_PERSON):
        shape = getattr(faces, "shape", None)
        raise DataError(f"{mat_path}: expected variable 'faces' of shape (4096, 400), got {shape}")
    if faces.dtype != np.uint8:
        if faces.min() < 0 or faces.max() > 255:
            raise DataError(f"{mat_path}: 'faces' values outside 0..255")
        faces = faces.astype(np.uint8)
    # column j is image j stored column-major: faces[r + 64 c, j] = pixel (row r, column c)
    images = np.ascontiguousarray(faces.reshape(SIDE, SIDE, -1, order="F").transpose(2, 0, 1))  # (400, 64, 64)
    labels = np.repeat(np.arange(N_PEOPLE, dtype=np.int64), PER_PERSON)  # (400,)
    buf = io.BytesIO()
    np.savez_compressed(buf, images=images, labels=labels)
    atomic_write_bytes(out_path, buf.getvalue())
    return out_path


def embedded_path() -> Path:
    return Path(str(resources.files("cnnlab") / "embedded" / "olivetti.npz"))


def load_olivetti() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (400, 64, 64), labels int64 (400,)) from the embedded file."""
    path = embedded_path()
    try:
        with np.load(path) as npz:
            images, labels = npz["images"], npz["labels"]
    except FileNotFoundError:
        raise DataError(f"embedded Olivetti data missing: {path} (reinstall cnnlab)") from None
    if images.shape != (N_PEOPLE * PER_PERSON, SIDE, SIDE) or labels.shape != (N_PEOPLE * PER_PERSON,):
        raise DataError(f"embedded Olivetti data has unexpected shape {images.shape}")
    return images, labels
