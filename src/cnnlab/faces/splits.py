"""The per-person split of face data: how many train/validation/test faces each person gets
(`split_sizes`, from a FaceSplitConfig) and which ones (`assign_split`, seeded per person by name)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from cnnlab.core.config import check_number, check_seed
from cnnlab.faces.facescrub.lists import name_key


@dataclass(frozen=True)
class FaceSplitConfig:
    """Faces per person for each split, and the seed of the per-person permutation (see the module
    docstring for persons with fewer faces). The `data.split` section of the Part 2 run configs."""

    train_per_actor: int = 70
    val_per_actor: int = 20
    test_per_actor: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low in (("train_per_actor", 1), ("val_per_actor", 0), ("test_per_actor", 0)):
            check_number(getattr(self, name), f"data.split.{name}", low, integer=True)
        check_seed(self.seed, "data.split.seed")


def _round(x: float) -> int:
    return int(math.floor(x + 0.5))


def split_sizes(n: int, split: FaceSplitConfig) -> tuple[int, int, int] | None:
    """(train, val, test) for a person with `n` usable faces, or None if too few (module docstring)."""
    t, v, s = split.train_per_actor, split.val_per_actor, split.test_per_actor
    k = (v > 0) + (s > 0)
    if n >= t + v + s:
        return t, v, s
    if n >= t + k:  # rule 2
        r = n - t
        val = min(v, r - (s > 0), max(int(v > 0), _round(r * v / (v + s)))) if v else 0
        return t, val, min(s, r - val)
    if n < k + 1:
        return None
    total = t + v + s
    val = max(int(v > 0), _round(n * v / total)) if v else 0
    test = max(int(s > 0), _round(n * s / total)) if s else 0
    train = n - val - test
    while train < 1:  # tiny n with large v, s: give faces back to training, keeping one each
        if val >= test and val > (v > 0):
            val -= 1
        else:
            test -= 1
        train += 1
    return train, val, test


def _person_seed(seed: int, name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\0{name_key(name)}".encode()).digest()[:8], "little")


def assign_split(items: list, sizes: tuple[int, int, int], seed: int, name: str) -> tuple[list, list, list]:
    order = np.random.default_rng(_person_seed(seed, name)).permutation(len(items))
    picked = [items[i] for i in order]
    a, b, c = sizes
    return picked[:a], picked[a : a + b], picked[a + b : a + b + c]
