"""Fixtures of the core tests that run a real suite (the cluster tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def tiny_art(tmp_path_factory) -> Path:
    """3 'artists' x 9 small images, one colour cast per class (as tests/art/test_suites.py)."""
    root = tmp_path_factory.mktemp("tiny_art")
    rng = np.random.default_rng(0)
    for c, name in enumerate(["anna a", "bert b", "carl c "]):
        (root / name).mkdir()
        for i in range(9):
            img = rng.integers(0, 60, (30, 40, 3), dtype=np.uint8)
            img[..., c] += 150
            Image.fromarray(img).save(root / name / f"{i}.png")
    return root
