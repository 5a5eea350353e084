"""Image and name helpers shared by the art folders (Part 1) and the face lists (Part 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

MAX_IMAGE_SIZE = 1024  # the largest side any model input (data.image_size, a checkpoint's image_size) may have
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


def to_rgb(img: "Image.Image", background: tuple[int, int, int] = MID_GREY) -> "Image.Image":
    """An RGB copy of any Pillow mode.

    16-bit and float images are scaled to 8 bits by their range (65535 when any value exceeds 255);
    transparency (alpha, or a palette's transparent colour) is composited over `background`.
    """
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in _HIGH_DEPTH_MODES:
        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if arr.max(initial=0) > 255 else 255.0
        img = Image.fromarray((np.clip(arr / top, 0, 1) * 255 + 0.5).astype(np.uint8), "L")
    if img.mode in _ALPHA_MODES or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (*background, 255)), rgba).convert("RGB")
    return img.convert("RGB")
