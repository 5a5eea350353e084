"""The handout's image transformations (question 1.7), on whole batches of tensors.

Images are (B, C, H, W) in [-0.5, 0.5], where 0 is mid-grey. Every transform takes a severity in
[0, 1] (0 = identity, 1 = strongest), returns a new tensor clipped to [-0.5, 0.5], and draws any
randomness from an explicit torch.Generator, so results are reproducible. Constants:

- translate:     shift by round(severity * 0.2 * min(H, W)) pixels (10 px at 50x50) in one of the 8
                 compass directions, chosen per image; uncovered pixels are mid-grey (0).
- brighten:      x + 0.5 * severity          darken: x - 0.5 * severity
- contrast_high: x * (1 + 2 * severity)      (about mid-grey; severity 1 triples the contrast)
- contrast_low:  x * (1 - 0.8 * severity)    (severity 1 keeps a fifth of the contrast)
- hflip:         mirror left-right when severity > 0 (binary)
- invert:        x -> -x when severity > 0 (binary; the negative image, as 255 - pixel)

`random_augment` applies them at training time, as a run's `AugmentConfig` (cnnlab.art.config) says:
each transform independently per image with its probability, at a random severity in
[0, max_severity] (binary ones at full strength).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import torch

from cnnlab.core.errors import ConfigError
from cnnlab.core.registry import Registry

LO, HI = -0.5, 0.5
MAX_SHIFT_FRACTION = 0.2
BRIGHTNESS_STEP = 0.5
CONTRAST_HIGH_GAIN = 2.0
CONTRAST_LOW_GAIN = 0.8

# A transform maps (x (B, C, H, W), severity (B,) in [0, 1], generator) -> (B, C, H, W).
TransformFn = Callable[[torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]
TRANSFORMS: Registry[torch.Tensor] = Registry("transform")
BINARY = frozenset({"hflip", "invert"})
# Order in which random_augment applies transforms: geometry first, then photometry.
AUGMENT_ORDER = ("translate", "hflip", "brighten", "darken", "contrast_high", "contrast_low", "invert")

SEVERITIES: dict[str, tuple[float, ...]] = {
    name: (0.0, 1.0) if name in BINARY else (0.0, 0.25, 0.5, 0.75, 1.0) for name in AUGMENT_ORDER
}


def _per_image(severity: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return severity.to(device=x.device, dtype=x.dtype).view(-1, 1, 1, 1)  # (B, 1, 1, 1)


@TRANSFORMS.register("translate")
def _translate(x: torch.Tensor, severity: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    b, _, h, w = x.shape
    max_shift = round(MAX_SHIFT_FRACTION * min(h, w))
    shift = torch.round(severity.to(torch.float64) * max_shift).to(torch.int64)  # (B,)
    # One of the 8 compass directions per image (always drawn, so draws do not depend on values).
    direction = torch.randint(0, 8, (b,), generator=generator)
    steps = torch.tensor([[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1]])
    dy, dx = (steps[direction] * shift[:, None]).unbind(1)  # (B,), (B,)
    # Gather: output pixel (i, j) comes from (i - dy, j - dx); outside the image it is grey.
    dev = x.device
    src_y = torch.arange(h, device=dev)[None, :] - dy.to(dev)[:, None]  # (B, H)
    src_x = torch.arange(w, device=dev)[None, :] - dx.to(dev)[:, None]  # (B, W)
    valid = ((src_y >= 0) & (src_y < h))[:, :, None] & ((src_x >= 0) & (src_x < w))[:, None, :]
    bi = torch.arange(b, device=dev)[:, None, None]
    out = x[bi, :, src_y.clamp(0, h - 1)[:, :, None], src_x.clamp(0, w - 1)[:, None, :]]  # (B, H, W, C)
    out = out.permute(0, 3, 1, 2) * valid[:, None].to(x.dtype)
    return out.contiguous()


@TRANSFORMS.register("brighten")
def _brighten(x: torch.Tensor, severity: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return x + BRIGHTNESS_STEP * _per_image(severity, x)


@TRANSFORMS.register("darken")
def _darken(x: torch.Tensor, severity: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return x - BRIGHTNESS_STEP * _per_image(severity, x)


@TRANSFORMS.register("contrast_high")
def _contrast_high(x: torch.Tensor, severity: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return x * (1 + CONTRAST_HIGH_GAIN * _per_image(severity, x))


@TRANSFORMS.register("contrast_low")
def _contrast_low(x: torch.Tensor, severity: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return x * (1 - CONTRAST_LOW_GAIN * _per_image(severity, x))


@TRANSFORMS.register("hflip")
def _hflip(x: torch.Tensor, severity: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    on = _per_image(severity > 0, x)
    return torch.where(on > 0, x.flip(-1), x)


@TRANSFORMS.register("invert")
def _invert(x: torch.Tensor, severity: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    on = _per_image(severity > 0, x)
    return torch.where(on > 0, -x, x)


def _check_batch(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"expected a (B, C, H, W) tensor, got {getattr(x, 'shape', type(x))}")


def apply_transform(
    name: str, x: torch.Tensor, severity: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Apply transform `name` at `severity` in [0, 1] to a batch (B, C, H, W) in [-0.5, 0.5].

    Random transforms (translate) draw from `generator`; without one they use a fixed seed (0), so
    the result is still reproducible. Deterministic transforms ignore it. Output is clipped.
    """
    fn = TRANSFORMS.get(name)
    _check_batch(x)
    severity = float(severity)
    if not 0.0 <= severity <= 1.0:
        raise ConfigError(f"severity of {name!r} must be in [0, 1], got {severity}")
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    sev = torch.full((x.shape[0],), severity, dtype=torch.float32)
    return fn(x, sev, generator).clamp(LO, HI)


class AugmentSettings(Protocol):
    """What random_augment reads: in practice cnnlab.art.config.AugmentConfig, which validates it.

    (A protocol, not that class: the config checks transform names against TRANSFORMS, so this
    module stays below it.)
    """

    @property
    def probabilities(self) -> Mapping[str, float]: ...  # transform name -> per-image probability

    @property
    def max_severity(self) -> float: ...


def augment_order() -> tuple[str, ...]:
    """Every registered transform in the order random_augment applies them: AUGMENT_ORDER, then any others."""
    return AUGMENT_ORDER + tuple(n for n in TRANSFORMS.names() if n not in AUGMENT_ORDER)


def random_augment(x: torch.Tensor, config: AugmentSettings, generator: torch.Generator) -> torch.Tensor:
    """Randomly transform each image of a batch (B, C, H, W), per the run's AugmentConfig; deterministic per generator.

    Each transform with probability p > 0 is applied to each image with probability p, at a severity
    drawn uniformly from [0, config.max_severity] (binary transforms at full strength).
    """
    _check_batch(x)
    b = x.shape[0]
    for name in augment_order():
        p = config.probabilities.get(name, 0.0)
        if p <= 0.0:
            continue
        chosen = torch.rand(b, generator=generator) < p  # (B,)
        if name in BINARY:
            sev = chosen.to(torch.float32)
        else:
            sev = torch.rand(b, generator=generator) * config.max_severity * chosen  # 0 where not chosen
        x = TRANSFORMS.get(name)(x, sev, generator).clamp(LO, HI)
    return x


LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B, as Pillow's convert("L")


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """Images (B, 3, H, W) in [-0.5, 0.5] as their luminance replicated to 3 channels (B, 3, H, W).

    The weights sum to 1, so mid-grey (0, the padding) stays 0 and the range stays [-0.5, 0.5].
    """
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True).expand(-1, 3, -1, -1).contiguous()
