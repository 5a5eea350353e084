"""2.1's MLP recipe, chosen on validation only, and the Part 2 runs trained in parallel.

The grid (MLP_RECIPES) is what a careful practitioner tries on 28x28 faces at the handout's 300 hidden
units: per-image standardisation or not, augmentation (random flips and shifts of up to AUGMENT_SHIFT px)
or not, L2 weight decay 1e-3 or 1e-2, Adam learning rate 3e-4 or 1e-3; the first recipe is the run
config's default. Every recipe trains on the same seeds with `evaluate_test=False`: those runs never
evaluate the test split (their run ids say so). `choose_recipe` applies CHOICE_RULE to validation
numbers alone; only the chosen recipe is then trained the normal way, which evaluates test once.

    choice = select_mlp_recipe(faces, MLPRunConfig(), seeds=(0, 1, 2), out_root="runs", jobs=2)
    choice.chosen, choice.config          # the recipe and its MLPRunConfig, test never seen
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from cnnlab.core.cluster import cache_checked_first
from cnnlab.core.errors import CnnlabError
from cnnlab.core.runtime import DEFAULT_DEVICE
from cnnlab.core.stats import summarize
from cnnlab.faces.kinds import MLP_KIND, face_kind
from cnnlab.faces.run_configs import CNNRunConfig, MLPRunConfig, with_seed

log = logging.getLogger(__name__)

AUGMENT_SHIFT = 2  # px: the small shifts of the augmented recipes (with random flips)
CHOICE_RULE = (
    "the recipe with the highest mean validation accuracy over the seeds; ties broken by the lower mean "
    "validation loss, then by grid order (the default recipe first); the test split is never evaluated "
    "for the grid, only for the chosen recipe"
)


@dataclass(frozen=True)
class MLPRecipe:
    """One point of the 2.1 grid: what changes from the MLP run config (hidden units stay as configured)."""

    per_image: bool
    augment: bool
    weight_decay: float
    lr: float

    @property
    def label(self) -> str:
        parts = [
            "per-image std." if self.per_image else "pixel std.",
            f"flip+shift {AUGMENT_SHIFT}" if self.augment else "no aug.",
            f"L2 {self.weight_decay:g}",
            f"lr {self.lr:g}",
        ]
        return ", ".join(parts)

    def apply(self, base: MLPRunConfig) -> MLPRunConfig:
        """`base` with this recipe's preprocessing, augmentation and optimiser settings."""
        mlp = replace(base.mlp, per_image=self.per_image, flip=self.augment, shift=AUGMENT_SHIFT if self.augment else 0)
        optimizer = replace(base.train.optimizer, lr=self.lr, weight_decay=self.weight_decay)
        return replace(base, mlp=mlp, train=replace(base.train, optimizer=optimizer))


def _grid() -> tuple[MLPRecipe, ...]:
    default = MLPRunConfig()
    first = MLPRecipe(
        default.mlp.per_image,
        default.mlp.flip,
        default.train.optimizer.weight_decay,
        default.train.optimizer.lr,
    )
    axes = ((False, True), (False, True), (1e-3, 1e-2), (3e-4, 1e-3))
    rest = [MLPRecipe(*point) for point in itertools.product(*axes)]
    return (first, *[r for r in rest if r != first])


MLP_RECIPES: tuple[MLPRecipe, ...] = _grid()
GRID_TEXT = (
    "per-image standardisation or not x random flips and shifts of up to "
    f"{AUGMENT_SHIFT} px or not x L2 weight decay 1e-3 or 1e-2 x Adam learning rate 3e-4 or 1e-3"
)


def choose_recipe(runs: Mapping[str, Sequence[Mapping[str, float]]]) -> str:
    """The label in `runs` ({label: the summaries of its seeds}, in grid order) that CHOICE_RULE picks.
    Reads "val_acc" and "val_loss" alone: a test accuracy in the summaries is never looked at."""
    if not runs:
        raise CnnlabError("no recipe to choose from")
    order = {label: i for i, label in enumerate(runs)}

    def key(label: str) -> tuple[float, float, int]:
        summaries = runs[label]
        acc = summarize(s["val_acc"] for s in summaries).mean
        loss = summarize(s["val_loss"] for s in summaries).mean
        return (-acc, loss, order[label])

    return min(runs, key=key)


@dataclass(frozen=True)
class RecipeChoice:
    """The grid's outcome: per recipe (grid order) label, validation mean/SE/n and run ids; the chosen label
    and its config (seed unset); the rule and the grid in words."""

    rows: list[dict[str, Any]]
    chosen: str
    config: MLPRunConfig
    rule: str = CHOICE_RULE
    grid: str = GRID_TEXT


_WORKER_FACES: dict = {}


@cache_checked_first  # on a cluster, cached runs are found in the client's runs folder and never sent
def run_small(kind: str, config: Any, out_root: str, device: str, callbacks: Sequence[Any], evaluate_test: bool):
    """Train (or reuse) one run of a small Part 2 kind (the MLP, the small CNN: its record's train function,
    cnnlab.faces.kinds); its summary and run folder name. The faces are loaded once per process (a pool
    worker keeps them between runs)."""
    from cnnlab.faces.data.run_faces import load_run_faces

    key = (config.data, config.image_size, config.channels)
    if key not in _WORKER_FACES:
        _WORKER_FACES[key] = load_run_faces(config)
    # Recipe-selection runs draw no pictures: only the numbers decide.
    result = face_kind(kind).train(
        _WORKER_FACES[key],
        config,
        out_root,
        device=device,
        callbacks=callbacks,
        evaluate_test=evaluate_test,
        write_plots=evaluate_test,
    )
    return {**result.summary, "path": result.path.name}


def run_many(
    runs: Sequence[tuple[str, MLPRunConfig | CNNRunConfig, bool]],
    out_root: str | Path,
    *,
    device: str = DEFAULT_DEVICE,
    jobs: int = 1,
    threads: int = 1,
    callbacks: Sequence[Any] = (),
) -> list[dict]:
    """(kind name, config, evaluate_test) runs in `jobs` processes (cnnlab.core.processes.map_jobs); summaries in order."""
    from cnnlab.core.pool import map_jobs

    calls = [(kind, config, str(out_root), device, tuple(callbacks), test) for kind, config, test in runs]
    return map_jobs(run_small, calls, jobs, threads)


def select_mlp_recipe(
    base: MLPRunConfig,
    seeds: Sequence[int],
    out_root: str | Path,
    *,
    device: str = DEFAULT_DEVICE,
    jobs: int = 1,
    threads: int = 1,
    callbacks: Sequence[Any] = (),
    recipes: Sequence[MLPRecipe] = MLP_RECIPES,
) -> RecipeChoice:
    """Train every recipe of the grid on `seeds` without evaluating test, and choose by CHOICE_RULE."""
    configs = {r.label: r.apply(base) for r in recipes}
    runs = [(MLP_KIND.name, with_seed(c, s), False) for c in configs.values() for s in seeds]
    summaries = run_many(runs, out_root, device=device, jobs=jobs, threads=threads, callbacks=callbacks)
    if any("test_acc" in s for s in summaries):  # the contract of evaluate_test=False, checked where it matters
        raise CnnlabError("a recipe-selection run evaluated the test split")
    n = len(seeds)
    by_label = {label: summaries[i * n : (i + 1) * n] for i, label in enumerate(configs)}
    chosen = choose_recipe(by_label)
    rows = []
    recipe_of = {r.label: r for r in recipes}
    for label, runs_of in by_label.items():
        acc = summarize(s["val_acc"] for s in runs_of)
        rows.append(
            {
                "recipe": label,
                **asdict(recipe_of[label]),
                "val_acc_mean": acc.mean,
                "val_acc_se": acc.se,
                "n": acc.n,
                "val_loss_mean": summarize(s["val_loss"] for s in runs_of).mean,
                "run_ids": [s["run_id"] for s in runs_of],
                "chosen": label == chosen,
            }
        )
    log.info("2.1 recipe chosen on validation: %s", chosen)
    return RecipeChoice(rows, chosen, configs[chosen])
