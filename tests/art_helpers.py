"""Tiny Part 1 data for tests: class folders of small images told apart by a colour cast (one class may
also be striped), and a call counter for a module function that still runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def write_art_folder(
    root: Path,
    names: Sequence[str] = ("anna", "bert", "carl"),
    per_class: int = 8,
    size: tuple[int, int] = (24, 24),
    noise: int = 60,
    cast: int = 150,
    seed: int = 0,
    striped: int | None = None,
) -> Path:
    """`root`/<name>/<i>.png: `per_class` images (height, width = `size`) per class, uint8 noise below `noise`
    plus `cast` on channel c of class c; class `striped` also has every 4th row white. Returns `root`."""
    rng = np.random.default_rng(seed)
    for c, name in enumerate(names):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, noise, (*size, 3), dtype=np.uint8)
            img[..., c] += cast
            if c == striped:
                img[::4] = 255
            Image.fromarray(img).save(root / name / f"{i}.png")
    return root


def count_calls(monkeypatch, owner: object, name: str) -> list[int]:
    """Replace `owner.name` by a wrapper that still calls it and appends 1 to the returned list per call."""
    calls: list[int] = []
    real = getattr(owner, name)

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls
