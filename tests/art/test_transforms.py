"""Tests for cnnlab.art.transforms: the handout's batched image transformations and random augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlab.art.config import AugmentConfig
from cnnlab.art.transforms import (
    AUGMENT_ORDER,
    BINARY,
    SEVERITIES,
    TRANSFORMS,
    apply_transform,
    augment_order,
    random_augment,
)
from cnnlab.core.errors import ConfigError


def batch(b: int = 8, seed: int = 0, lo: float = -0.5, hi: float = 0.5) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, 50, 50, generator=g) * (hi - lo) + lo  # (B, 3, 50, 50)


@pytest.mark.parametrize("name", TRANSFORMS.names())
def test_every_transform_on_a_batch(name: str) -> None:
    x = batch()
    for severity in SEVERITIES[name]:
        y = apply_transform(name, x, severity, torch.Generator().manual_seed(1))
        assert y.shape == x.shape and y.dtype == x.dtype
        assert float(y.min()) >= -0.5 and float(y.max()) <= 0.5
    assert torch.equal(apply_transform(name, x, 0.0), x)  # severity 0 is the identity
    assert not torch.equal(apply_transform(name, x, 1.0, torch.Generator().manual_seed(1)), x)
    assert torch.equal(x, batch())  # the input is not modified in place


def test_severity_grid() -> None:
    assert set(SEVERITIES) == set(TRANSFORMS.names())
    for name, grid in SEVERITIES.items():
        assert grid[0] == 0.0 and all(0.0 <= s <= 1.0 for s in grid) and list(grid) == sorted(grid)
        if name in BINARY:
            assert grid == (0.0, 1.0)


def test_invert() -> None:
    x = batch()
    assert torch.equal(apply_transform("invert", x, 1.0), -x)
    assert torch.equal(apply_transform("invert", x, 0.3), -x)  # binary: any severity > 0


def test_hflip_twice_is_identity() -> None:
    x = batch()
    once = apply_transform("hflip", x, 1.0)
    assert torch.equal(once[..., 0], x[..., -1])
    assert torch.equal(apply_transform("hflip", once, 1.0), x)


def test_brighten_then_darken() -> None:
    x = batch(lo=-0.2, hi=0.2)
    y = apply_transform("darken", apply_transform("brighten", x, 0.5), 0.5)
    assert torch.allclose(y, x, atol=1e-6)
    assert torch.allclose(apply_transform("brighten", x, 0.4), x + 0.2, atol=1e-6)
    # Severity 1 is a step of 0.5, clipped: from [-0.2, 0.2] to [0.3, 0.5] and [-0.5, -0.3].
    assert torch.equal(apply_transform("brighten", x, 1.0), torch.clamp(x + 0.5, -0.5, 0.5))
    assert torch.equal(apply_transform("darken", x, 1.0), torch.clamp(x - 0.5, -0.5, 0.5))
    assert float(apply_transform("darken", x, 1.0).max()) <= -0.3 + 1e-6


def test_contrast_constants() -> None:
    x = batch(lo=-0.1, hi=0.1)
    assert torch.allclose(apply_transform("contrast_high", x, 0.5), 2 * x, atol=1e-6)  # 1 + 2 * 0.5
    assert torch.allclose(apply_transform("contrast_high", x, 1.0), 3 * x, atol=1e-6)
    assert torch.allclose(apply_transform("contrast_low", x, 1.0), 0.2 * x, atol=1e-6)  # 1 - 0.8
    wide = batch()
    assert float(apply_transform("contrast_high", wide, 1.0).abs().max()) == 0.5  # clipped


def test_translate_moves_a_known_pattern() -> None:
    x = torch.zeros(64, 3, 50, 50)
    x[:, :, 25, 25] = 0.5  # one bright pixel in the middle
    y = apply_transform("translate", x, 0.5, torch.Generator().manual_seed(0))  # 0.5 * 10 = 5 px
    seen = set()
    for img in y:
        pos = img[0].nonzero()
        assert pos.shape == (1, 2) and torch.all(img[:, pos[0, 0], pos[0, 1]] == 0.5)
        dy, dx = int(pos[0, 0]) - 25, int(pos[0, 1]) - 25
        assert (dy, dx) != (0, 0) and dy in (-5, 0, 5) and dx in (-5, 0, 5)
        seen.add((dy, dx))
    assert len(seen) == 8  # all compass directions occur in a batch of 64
    again = apply_transform("translate", x, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(y, again)  # deterministic per generator seed


def test_translate_fills_with_grey() -> None:
    x = torch.full((16, 3, 50, 50), 0.3)
    y = apply_transform("translate", x, 1.0, torch.Generator().manual_seed(2))  # 10 px
    for img in y:
        zero_rows = int((img[0] == 0).all(1).sum())
        zero_cols = int((img[0] == 0).all(0).sum())
        assert zero_rows in (0, 10) and zero_cols in (0, 10) and zero_rows + zero_cols > 0
        assert int((img[0] == 0.3).sum()) == (50 - zero_rows) * (50 - zero_cols)
    assert torch.equal(apply_transform("translate", x, 0.0), x)


def test_apply_transform_rejects_bad_input() -> None:
    with pytest.raises(ConfigError, match="severity"):
        apply_transform("brighten", batch(), 1.5)
    with pytest.raises(ConfigError, match="unknown transform"):
        apply_transform("rotate", batch(), 0.5)
    with pytest.raises(ValueError):
        apply_transform("brighten", torch.zeros(3, 50, 50), 0.5)


def test_augment_config_validation() -> None:
    assert not AugmentConfig().enabled
    assert not AugmentConfig({"invert": 0.0}).enabled
    assert AugmentConfig({"hflip": 0.5}).enabled
    with pytest.raises(ConfigError, match="unknown transform"):
        AugmentConfig({"rotate": 0.5})
    with pytest.raises(ConfigError):
        AugmentConfig({"hflip": 1.5})
    with pytest.raises(ConfigError):
        AugmentConfig({"hflip": "often"})
    with pytest.raises(ConfigError):
        AugmentConfig({"hflip": True})
    with pytest.raises(ConfigError):
        AugmentConfig(max_severity=2.0)
    with pytest.raises(ConfigError, match="max_severity must be a number"):
        AugmentConfig(max_severity="strong")
    with pytest.raises(ConfigError, match="mapping"):
        AugmentConfig(["hflip"])
    assert AugmentConfig({"hflip": 1}, max_severity=1).max_severity == 1.0
    probs = {"hflip": 0.5}
    cfg = AugmentConfig(probs)
    probs["hflip"] = 0.0  # the config keeps its own copy
    assert cfg.probabilities["hflip"] == 0.5


def test_augment_order_lists_every_transform_geometry_first() -> None:
    order = augment_order()
    assert sorted(order) == TRANSFORMS.names() and len(set(order)) == len(order)
    assert order[: len(AUGMENT_ORDER)] == AUGMENT_ORDER


def test_random_augment_probability_zero_is_identity() -> None:
    x = batch()
    cfg = AugmentConfig({name: 0.0 for name in TRANSFORMS.names()})
    assert torch.equal(random_augment(x, cfg, torch.Generator().manual_seed(0)), x)


def test_random_augment_probability_one() -> None:
    x = batch()
    g = torch.Generator().manual_seed(0)
    assert torch.equal(random_augment(x, AugmentConfig({"invert": 1.0}), g), -x)
    assert torch.equal(random_augment(x, AugmentConfig({"hflip": 1.0}), g), x.flip(-1))
    assert torch.equal(random_augment(x, AugmentConfig({"brighten": 1.0}, max_severity=0.0), g), x)
    brighter = random_augment(x, AugmentConfig({"brighten": 1.0}, max_severity=0.4), g)
    shift = (brighter - x).mean((1, 2, 3))  # per-image severity * 0.5, before some clipping
    assert torch.all(shift >= 0) and torch.all(shift <= 0.2 + 1e-6) and shift.std() > 0


def test_random_augment_is_deterministic_and_random_per_image() -> None:
    x = batch(200)
    cfg = AugmentConfig({name: 0.5 for name in TRANSFORMS.names()}, max_severity=0.5)
    a = random_augment(x, cfg, torch.Generator().manual_seed(7))
    b = random_augment(x, cfg, torch.Generator().manual_seed(7))
    c = random_augment(x, cfg, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= -0.5 and float(a.max()) <= 0.5
    inverted = random_augment(x, AugmentConfig({"invert": 0.5}), torch.Generator().manual_seed(3))
    n = int((inverted == -x).flatten(1).all(1).sum())
    assert 60 < n < 140  # about half of 200 images


# ----------------------------------------------------------------------------- the course's transformations
def _test_image() -> np.ndarray:
    """A 50x50 RGB test image with full-range noise, saturated patches and a grey border (uint8, H x W x 3)."""
    import numpy as np

    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (50, 50, 3), dtype=np.uint8)
    arr[5:20, 10:30] = (250, 30, 200)
    arr[30:45, 0:15] = (255, 255, 255)
    arr[:, 45:] = 128  # mid-grey padding, as the loader pads
    return arr


def _pil_reference(name: str, arr):
    import numpy as np
    from PIL import Image, ImageEnhance, ImageOps

    img = Image.fromarray(arr)
    return np.asarray(
        {
            "course_translate": lambda: Image.fromarray(np.roll(arr, (10, 10), axis=(0, 1))),
            "course_brighten": lambda: ImageEnhance.Brightness(img).enhance(1.5),
            "course_darken": lambda: ImageEnhance.Brightness(img).enhance(0.75),
            "course_contrast_high": lambda: ImageEnhance.Contrast(img).enhance(1.5),
            "course_contrast_low": lambda: ImageEnhance.Contrast(img).enhance(0.75),
            "course_flip_lr": lambda: ImageOps.mirror(img),
            "course_rotate_180": lambda: img.transpose(Image.Transpose.ROTATE_180),
            "course_invert": lambda: ImageOps.invert(img),
        }[name]()
    ).astype(np.float32)


@pytest.mark.parametrize(
    "name",
    [
        "course_translate",
        "course_brighten",
        "course_darken",
        "course_contrast_high",
        "course_contrast_low",
        "course_flip_lr",
        "course_rotate_180",
        "course_invert",
    ],
)
def test_course_transform_matches_pil(name: str) -> None:
    """Each course transform on a batch in [-0.5, 0.5] equals PIL / NumPy on the 8-bit image within 1/255."""
    from cnnlab.art.transforms.course import COURSE_ORDER, COURSE_TRANSFORMS, apply_course_transform, to_uint8_values

    assert set(COURSE_ORDER) == set(COURSE_TRANSFORMS.names()) and name in COURSE_ORDER
    arr = _test_image()
    x = torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255 - 0.5  # (1, 3, 50, 50), the art data's convention
    batch = torch.cat([x, x.flip(-1)])  # a batch: each image is transformed on its own
    out = apply_course_transform(name, batch)
    assert out.shape == batch.shape and out.dtype == batch.dtype
    assert out.min() >= -0.5 and out.max() <= 0.5
    got = to_uint8_values(out[0:1])[0].permute(1, 2, 0).numpy()
    assert abs(got - _pil_reference(name, arr)).max() <= 1.0  # <= 1/255 after rounding
    second = to_uint8_values(out[1:2])[0].permute(1, 2, 0).numpy()
    assert abs(second - _pil_reference(name, arr[:, ::-1].copy())).max() <= 1.0


def test_course_contrast_uses_each_images_own_grey_mean() -> None:
    from cnnlab.art.transforms.course import apply_course_transform

    dark, bright = torch.full((1, 3, 8, 8), -0.4), torch.full((1, 3, 8, 8), 0.4)
    out = apply_course_transform("course_contrast_high", torch.cat([dark, bright]))
    # a uniform image equals its own mean: contrast leaves it (up to 8-bit rounding) unchanged
    assert torch.allclose(out, torch.cat([dark, bright]), atol=1 / 255)
    with pytest.raises(ValueError):
        apply_course_transform("course_invert", torch.zeros(3, 8, 8))
    with pytest.raises(ConfigError):
        apply_course_transform("course_blur", torch.zeros(1, 3, 8, 8))


def test_grayscale_is_the_luminance_on_three_equal_channels():
    from cnnlab.art.transforms import LUMA, grayscale

    x = torch.tensor([[0.5, -0.5, 0.0], [-0.5, 0.5, 0.0], [-0.5, -0.5, 0.0]]).T.reshape(3, 3, 1, 1)  # red, green, grey
    g = grayscale(x)
    assert g.shape == x.shape and torch.equal(g[:, 0], g[:, 1]) and torch.equal(g[:, 1], g[:, 2])
    assert g[0, 0, 0, 0].item() == pytest.approx(LUMA[0] - 0.5) and g[2].abs().max() == 0  # mid-grey padding stays 0
    from cnnlab.art.config import RunConfig
    from cnnlab.art.run import prepare_data
    from cnnlab.core.config import resolve_config

    gray = prepare_data(resolve_config(RunConfig, None, ["data.grayscale=true"]))
    colour = prepare_data(RunConfig())
    assert torch.equal(gray.test[1], colour.test[1]) and torch.allclose(gray.test[0], grayscale(colour.test[0]))
    assert gray.info["hash"] == colour.info["hash"]  # the same images; the run config says grayscale
