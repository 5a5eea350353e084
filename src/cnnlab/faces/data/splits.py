"""The per-person split of face data, the handout's way: "set aside 70 images per face for the training
set, and use the rest for the test and validation set".

`split_sizes` says how many train/validation/test faces a person with n usable faces gets, from a
FaceSplitConfig (t = train_per_actor, m = min_eval_per_actor):
  1. n >= t + 2m: t for training; the remaining r = n - t divided evenly between validation and test
     (validation r // 2, test the other half, which is one more when r is odd);
  2. 2m + 1 <= n < t + 2m: training gives way: n - 2m for training, m each for validation and test
     (Olivetti's 10 faces per person give 6/2/2 this way with the defaults);
  3. n < 2m + 1: the person is left out with a warning (dataset.py).
`assign_split` says which faces: a seeded permutation per person (keyed by name, independent of list
order and of the other persons), so every split is stratified by person and the same seed repeats it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from cnnlab.core.config import check_number, check_seed
from cnnlab.faces.facescrub.lists import name_key


@dataclass(frozen=True)
class FaceSplitConfig:
    """Training faces per person, the fewest faces validation and test each keep per person, and the
    seed of the per-person permutation (module docstring). The `data.split` section of the Part 2 configs."""

    train_per_actor: int = 70  # the handout's 70
    min_eval_per_actor: int = 2  # per person, for each of validation and test
    seed: int = 0

    def __post_init__(self) -> None:
        check_number(self.train_per_actor, "data.split.train_per_actor", 1, integer=True)
        check_number(self.min_eval_per_actor, "data.split.min_eval_per_actor", 1, integer=True)
        check_seed(self.seed, "data.split.seed")

    def describe(self) -> str:
        """The rule in words, for provenance lines and the report."""
        return (
            f"{self.train_per_actor} training faces per person and the rest divided evenly between validation "
            f"and test (at least {self.min_eval_per_actor} each: persons with fewer than "
            f"{self.train_per_actor + 2 * self.min_eval_per_actor} faces train on the others), split seed {self.seed}"
        )


def split_sizes(n: int, split: FaceSplitConfig) -> tuple[int, int, int] | None:
    """(train, val, test) for a person with `n` usable faces, or None if too few (module docstring)."""
    t, m = split.train_per_actor, split.min_eval_per_actor
    if n < 2 * m + 1:
        return None
    train = min(t, n - 2 * m)
    rest = n - train
    return train, rest // 2, rest - rest // 2


def _person_seed(seed: int, name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\0{name_key(name)}".encode()).digest()[:8], "little")


def assign_split(items: list, sizes: tuple[int, int, int], seed: int, name: str) -> tuple[list, list, list]:
    """`items` of one person cut into (train, val, test) of `sizes`, by a permutation seeded by seed and name."""
    order = np.random.default_rng(_person_seed(seed, name)).permutation(len(items))
    picked = [items[i] for i in order]
    a, b, c = sizes
    return picked[:a], picked[a : a + b], picked[a + b : a + b + c]
