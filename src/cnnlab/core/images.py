"""Image and name helpers shared by the art folders (Part 1) and the face lists (Part 2).

One pixel limit guards every image cnnlab decodes (downloaded faces, art folders, predict/explain
inputs): an image whose header claims more than MAX_IMAGE_PIXELS pixels is refused before its
pixels are decoded, so a small decompression bomb cannot claim gigabytes of memory.
"""

from __future__ import annotations

import contextlib
import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from cnnlab.core.errors import DataError, first_line

if TYPE_CHECKING:
    from PIL import Image

MAX_IMAGE_SIZE = 1024  # the largest side any model input (data.image_size, a checkpoint's image_size) may have
MAX_IMAGE_PIXELS = 40_000_000  # decompression-bomb guard (about 160 MB as decoded RGBA); a 6000x6000 photo passes
MID_GREY = (128, 128, 128)
WHITE = (255, 255, 255)
_HIGH_DEPTH_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def display_name(raw: str) -> str:
    """A person's name from a folder or list entry: underscores as spaces, whitespace collapsed, and
    all-lowercase names title-cased ('paul sandby ' -> 'Paul Sandby', 'Alec_Baldwin' -> 'Alec Baldwin');
    names already in mixed case keep their case."""
    name = " ".join(str(raw).replace("_", " ").split())
    return name.title() if name == name.lower() else name


def to_rgb(img: Image.Image, background: tuple[int, int, int] = MID_GREY) -> Image.Image:
    """An RGB copy of any Pillow mode.

    16-bit and float images are scaled to 8 bits by their range (65535 when any value exceeds 255);
    transparency (alpha, or a palette's transparent colour) is composited over `background`.
    """
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in _HIGH_DEPTH_MODES:
        import numpy as np

        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if arr.max(initial=0) > 255 else 255.0
        img = Image.fromarray((np.clip(arr / top, 0, 1) * 255 + 0.5).astype(np.uint8), "L")
    if img.mode in _ALPHA_MODES or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (*background, 255)), rgba).convert("RGB")
    return img.convert("RGB")


def check_pixels(width: int, height: int, what: object, max_pixels: int = MAX_IMAGE_PIXELS) -> None:
    """DataError naming `what` when a width x height image has more than `max_pixels` pixels."""
    if width * height > max_pixels:
        raise DataError(
            f"{what}: {width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,} "
            "(a decompression bomb, or a picture far larger than any model input)"
        )


@contextlib.contextmanager
def open_image(path: str | os.PathLike, max_pixels: int | None = MAX_IMAGE_PIXELS) -> Iterator[Image.Image]:
    """An image file opened by Pillow (header read, pixels not yet decoded), closed after the block.

    One-line DataErrors for a missing path, a directory, a special file (FIFO, device: never read) and
    more than `max_pixels` pixels (None: the caller checks, e.g. after a JPEG draft). Decoding errors
    inside the block are the caller's.
    """
    from PIL import Image

    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataError(f"image not found: {path}") from None
    except OSError as exc:
        raise DataError(f"cannot read image {path}: {first_line(exc)}") from None
    if stat.S_ISDIR(mode):
        raise DataError(f"{path} is a directory, not an image file")
    if not stat.S_ISREG(mode):
        raise DataError(f"{path} is not a regular file (a FIFO, device or socket), not an image file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is lower
        try:
            img = Image.open(path)
        except Image.DecompressionBombError as exc:
            raise DataError(f"{path}: {first_line(exc)}") from None
    with img:
        if max_pixels is not None:
            check_pixels(*img.size, path, max_pixels)
        yield img
