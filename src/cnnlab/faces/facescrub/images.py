"""Checking downloaded bytes and making the face crops.

`check_image` decides, in this order: not_image (no image signature / PIL cannot identify it),
decompression_bomb (more pixels than allowed, read from the header before decoding), hash_mismatch
(SHA-256 of the raw bytes differs from the list), truncated or corrupt_image (a full decode fails;
PIL's LOAD_TRUNCATED_IMAGES is never used, so a cut JPEG whose hash matches is still truncated).
`make_crops` then cuts I[y1:y2, x1:x2] (clipped; empty -> empty_box) and makes the model copies.
"""

from __future__ import annotations

import io
import logging
import struct
from dataclasses import dataclass

from PIL import Image, ImageFile

from cnnlab.core.images import WHITE, to_rgb
from cnnlab.core.io import sha256_bytes

log = logging.getLogger(__name__)

_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
)
_EXTENSIONS = {
    "JPEG": "jpg",
    "PNG": "png",
    "GIF": "gif",
    "BMP": "bmp",
    "TIFF": "tif",
    "WEBP": "webp",
    "ICO": "ico",
    "MPO": "jpg",
}
_TRUNCATION_WORDS = (
    "truncat",
    "premature",
    "end of file",
    "broken data stream",
    "not enough data",
    "unexpected end",
    "eof",
)


def sniff_format(data: bytes) -> str | None:
    """Image format from the magic bytes, or None (HTML pages, text, empty bodies...)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for magic, fmt in _SIGNATURES:
        if data.startswith(magic):
            return fmt
    return None


def extension_for(fmt: str | None) -> str:
    return _EXTENSIONS.get((fmt or "").upper(), (fmt or "bin").lower())


def known_extensions() -> tuple[str, ...]:
    """The extensions `extension_for` gives to the formats `sniff_format` recognises."""
    return tuple(dict.fromkeys(_EXTENSIONS.values()))


@dataclass
class Checked:
    status: str  # ok or the rejection status
    detail: str
    sha256: str
    image: Image.Image | None = None  # fully decoded, when status == "ok"
    fmt: str | None = None


def _decode_failure(data: bytes, exc: BaseException) -> tuple[str, str]:
    text = f"{type(exc).__name__}: {exc}"[:200]
    if any(w in str(exc).lower() for w in _TRUNCATION_WORDS) or isinstance(exc, (EOFError, struct.error)):
        return "truncated", text
    return "corrupt_image", text


def check_image(data: bytes, expected_sha256: str, max_pixels: int) -> Checked:
    """Classify raw downloaded bytes (see module docstring); decode them fully when they pass."""
    sha = sha256_bytes(data)
    magic = sniff_format(data)
    if not data:
        return Checked("not_image", "empty body", sha)
    if magic is None:
        head = data[:64].decode("latin-1").strip().lower()
        kind = "an HTML page" if ("<html" in head or "<!doctype" in head or "<head" in head) else "not an image"
        return Checked("not_image", f"{kind} ({len(data)} bytes)", sha)
    try:
        img = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError as exc:
        return Checked("decompression_bomb", str(exc)[:200], sha)
    except Exception as exc:  # noqa: BLE001 - any failure to parse the header of a signed file
        status, detail = _decode_failure(data, exc)
        if isinstance(exc, Image.UnidentifiedImageError) and len(data) < 1024:
            status = "truncated"  # an image signature but too few bytes for a header
        return Checked(status, detail, sha, fmt=magic)
    width, height = img.size
    if width * height > max_pixels:
        return Checked("decompression_bomb", f"{width}x{height} pixels > limit {max_pixels}", sha, fmt=img.format)
    if sha != expected_sha256.lower():
        return Checked("hash_mismatch", f"sha256 {sha[:12]}... != list {expected_sha256[:12]}...", sha, fmt=img.format)
    if ImageFile.LOAD_TRUNCATED_IMAGES and img.format == "JPEG" and b"\xff\xd9" not in data[-4096:]:
        # someone in this process switched PIL to accept truncated images; keep rejecting them
        return Checked("truncated", "JPEG has no end-of-image marker", sha, fmt=img.format)
    try:
        img.load()  # full decode: raises on truncated or corrupt data
    except Image.DecompressionBombError as exc:
        return Checked("decompression_bomb", str(exc)[:200], sha, fmt=img.format)
    except Exception as exc:  # noqa: BLE001 - every decoder error is a rejected face
        status, detail = _decode_failure(data, exc)
        return Checked(status, detail, sha, fmt=img.format)
    return Checked("ok", "", sha, img, img.format)


def clip_box(bbox: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int] | None:
    """Clip (x1, y1, x2, y2) to the image; None when nothing is left (I[y1:y2, x1:x2] is empty)."""
    x1, y1, x2, y2 = bbox
    x1, x2 = max(0, x1), min(width, x2)
    y1, y2 = max(0, y1), min(height, y2)
    if x2 <= x1 or y2 <= y1:
        return None
    return x1, y1, x2, y2


def make_crops(
    img: Image.Image, bbox: tuple[int, int, int, int], gray_size: int, rgb_size: int
) -> tuple[Image.Image, Image.Image, Image.Image] | None:
    """(crop RGB, gray_size^2 grayscale, rgb_size^2 RGB), or None for an empty box.

    The box applies to the stored pixel array (no EXIF rotation), as in the FaceScrub readme.
    """
    box = clip_box(bbox, *img.size)
    if box is None:
        return None
    crop = to_rgb(img, background=WHITE).crop(box)
    gray = crop.convert("L").resize((gray_size, gray_size), Image.BILINEAR)
    rgb = crop.resize((rgb_size, rgb_size), Image.BILINEAR)
    return crop, gray, rgb


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # caches: speed over size
    return buf.getvalue()
