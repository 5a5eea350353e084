"""Fixtures of the Part 1 tests."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def art_folder(tmp_path):
    """3 artists x 8 images of 16x16: each artist paints in its own colour, plus noise."""
    rng = np.random.default_rng(0)
    root = tmp_path / "art"
    for k, colour in enumerate([(200, 40, 40), (40, 200, 40), (40, 40, 200)]):
        folder = root / f"artist_{k}"
        folder.mkdir(parents=True)
        for i in range(8):
            pixels = np.clip(np.array(colour) + rng.normal(0, 30, (16, 16, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
    return root
