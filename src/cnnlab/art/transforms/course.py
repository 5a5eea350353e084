"""The course's own image transformations of question 1.7 (MIT 6.867), on batches of tensors.

The handout's Figure 3 shows the test images translated, brightened, darkened, with high and low
contrast, flipped and inverted. The course code applies these to the original 8-bit images with PIL
and NumPy; published student tables of this practical use these definitions, so they are the columns
of the report's headline robustness table. Each is implemented here on a batch (B, 3, H, W) in
[-0.5, 0.5] (= v / 255 - 0.5 for 8-bit values v, mid-grey padding 0): the batch is first rounded to
its 8-bit values, transformed as PIL would, and mapped back. Definitions (tests check each against
PIL on a test image):

- course_translate:     np.roll by 10 px down and 10 px right, wrapping around (torch.roll)
- course_brighten:      ImageEnhance.Brightness(1.5): v * 1.5, clipped to 0..255, truncated
- course_darken:        ImageEnhance.Brightness(0.75): v * 0.75, truncated
- course_contrast_high: ImageEnhance.Contrast(1.5): m + 1.5 (v - m), clipped, truncated, where m is the
                        mean of the image's "L" conversion (L = (19595 R + 38470 G + 7471 B + 2^15) >> 16),
                        rounded to an integer, as PIL computes it
- course_contrast_low:  ImageEnhance.Contrast(0.75)
- course_flip_lr:       mirrored left-right (ImageOps.mirror)
- course_rotate_180:    rotated by 180 degrees (the course code's "flip"; the handout's figure is ambiguous)
- course_invert:        255 - v (ImageOps.invert)

`COURSE_SEVERITY` says where each one sits on the graded transforms of cnnlab.art.transforms, so the
severity curves can mark the course's point.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from cnnlab.core.registry import Registry

SHIFT = 10  # pixels, down and right
BRIGHTEN, DARKEN = 1.5, 0.75
CONTRAST_HIGH, CONTRAST_LOW = 1.5, 0.75

CourseFn = Callable[[torch.Tensor], torch.Tensor]  # 8-bit values (B, 3, H, W) as float -> same
COURSE_TRANSFORMS: Registry[torch.Tensor] = Registry("course transform")
COURSE_ORDER = (
    "course_translate",
    "course_brighten",
    "course_darken",
    "course_contrast_high",
    "course_contrast_low",
    "course_flip_lr",
    "course_rotate_180",
    "course_invert",
)
COURSE_LABELS = {
    "course_translate": "translated 10 px",
    "course_brighten": "brightened ×1.5",
    "course_darken": "darkened ×0.75",
    "course_contrast_high": "contrast ×1.5",
    "course_contrast_low": "contrast ×0.75",
    "course_flip_lr": "flipped left-right",
    "course_rotate_180": "rotated 180°",
    "course_invert": "inverted",
}
GEOMETRIC = ("course_translate", "course_flip_lr", "course_rotate_180")
PHOTOMETRIC = ("course_brighten", "course_darken", "course_contrast_high", "course_contrast_low", "course_invert")
# Where a course transform sits on a graded transform (name, severity): the same shift (translate:
# 10 px, diagonal and wrapped here), the same change of a mid-grey pixel (brighten: 1.5 v is +0.25 in
# [-0.5, 0.5], severity 0.5; darken: -0.125, severity 0.25), the same contrast gain (1 + 2 s = 1.5;
# 1 - 0.8 s = 0.75). Flips and inversion are binary in both families.
COURSE_SEVERITY = {
    "course_translate": ("translate", 1.0),
    "course_brighten": ("brighten", 0.5),
    "course_darken": ("darken", 0.25),
    "course_contrast_high": ("contrast_high", 0.25),
    "course_contrast_low": ("contrast_low", 0.3125),
    "course_flip_lr": ("hflip", 1.0),
    "course_invert": ("invert", 1.0),
}


def to_uint8_values(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) in [-0.5, 0.5] -> the 8-bit values round((x + 0.5) * 255) in 0..255, as float32."""
    return torch.round((x.float() + 0.5) * 255.0).clamp(0.0, 255.0)


def from_uint8_values(v: torch.Tensor) -> torch.Tensor:
    """8-bit values (float) -> [-0.5, 0.5], the storage convention of the art data."""
    return v / 255.0 - 0.5


def _enhance(v: torch.Tensor, degenerate: torch.Tensor, factor: float) -> torch.Tensor:
    """PIL's Image.blend(degenerate, image, factor) on 8-bit values: clipped to 0..255, truncated."""
    return torch.floor((degenerate + factor * (v - degenerate)).clamp(0.0, 255.0))


def _grey_mean(v: torch.Tensor) -> torch.Tensor:
    """(B, 1, 1, 1): the rounded mean of PIL's "L" conversion of each RGB image (v: (B, 3, H, W) 8-bit)."""
    r, g, b = v.to(torch.int64).unbind(1)
    lum = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16  # (B, H, W), ITU-R 601-2 luma in PIL's integer arithmetic
    return torch.floor(lum.double().mean(dim=(1, 2)) + 0.5).float().view(-1, 1, 1, 1)


@COURSE_TRANSFORMS.register("course_translate")
def _translate(v: torch.Tensor) -> torch.Tensor:
    return torch.roll(v, shifts=(SHIFT, SHIFT), dims=(-2, -1))


@COURSE_TRANSFORMS.register("course_brighten")
def _brighten(v: torch.Tensor) -> torch.Tensor:
    return _enhance(v, torch.zeros_like(v), BRIGHTEN)


@COURSE_TRANSFORMS.register("course_darken")
def _darken(v: torch.Tensor) -> torch.Tensor:
    return _enhance(v, torch.zeros_like(v), DARKEN)


@COURSE_TRANSFORMS.register("course_contrast_high")
def _contrast_high(v: torch.Tensor) -> torch.Tensor:
    return _enhance(v, _grey_mean(v).expand_as(v), CONTRAST_HIGH)


@COURSE_TRANSFORMS.register("course_contrast_low")
def _contrast_low(v: torch.Tensor) -> torch.Tensor:
    return _enhance(v, _grey_mean(v).expand_as(v), CONTRAST_LOW)


@COURSE_TRANSFORMS.register("course_flip_lr")
def _flip_lr(v: torch.Tensor) -> torch.Tensor:
    return v.flip(-1)


@COURSE_TRANSFORMS.register("course_rotate_180")
def _rotate_180(v: torch.Tensor) -> torch.Tensor:
    return v.flip(-2, -1)


@COURSE_TRANSFORMS.register("course_invert")
def _invert(v: torch.Tensor) -> torch.Tensor:
    return 255.0 - v


def apply_course_transform(name: str, x: torch.Tensor) -> torch.Tensor:
    """Course transform `name` of a batch (B, 3, H, W) in [-0.5, 0.5], on its 8-bit values; same shape and range."""
    fn = COURSE_TRANSFORMS.get(name)
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected a (B, 3, H, W) tensor, got {getattr(x, 'shape', type(x))}")
    return from_uint8_values(fn(to_uint8_values(x))).to(x.dtype)
