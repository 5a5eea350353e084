"""Part 2 as a suite, the counterpart of a Part 1 suite (cnnlab.art.suites): run 2.1-2.4 and write suite.json.

`run_part2(Part2Options(...))` runs, over the seeds, each through the cached-run recipe (a rerun reuses them):

1. 2.1's MLP recipe, chosen on validation over a small grid (`choose_recipe`, cnnlab.faces.training.mlp_recipes);
2. MLPs with 300 and 800 hidden units (2.1, 2.3) and the small CNN with that recipe (`run_small_nets`);
3. AlexNet conv4 features + a head (2.2, cnnlab.faces.training.transfer);
4. the same head on every AlexNet depth (the layer sweep, cnnlab.faces.training.layer_sweep);
5. AlexNet fine-tuned from each seed's 2.2 run (2.4, cnnlab.faces.training.finetune) and its LR range test.

It writes <out>/suites/part2/suite.json (the run ids per model group, the recipe choice, the sweep, the range
test, the faces and the AlexNet weights) and returns the same as a frozen `Part2Result`. The run configs are
those of cnnlab.faces.run_configs, the `cnnlab part2 ...` commands' defaults, so runs made by hand are reused;
those commands call the same functions (`choose_recipe`, `run_small_nets`, `layer_sweep`, ...).
Importing this module does not import torch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cnnlab.core import progress
from cnnlab.core.ahead import Ahead
from cnnlab.core.ahead import stage as early_stage
from cnnlab.core.config import as_ids
from cnnlab.core.errors import CnnlabError, ConfigError
from cnnlab.core.runtime import RuntimeOptions, RuntimeView
from cnnlab.faces.kinds import MLP_KIND
from cnnlab.faces.run_configs import OLIVETTI, WEIGHT_STUDY_HIDDEN

log = logging.getLogger(__name__)

# Quick mode: a smoke test of the whole pipeline, not results worth reading.
QUICK_FACE_PEOPLE = 8  # Olivetti people (or FaceScrub actors) used in quick mode
QUICK_ALEXNET_SIZE = 95  # AlexNet input side in quick mode (>= alexnet.MIN_INPUT_SIZE); 227 in full mode
FULL_ALEXNET_SIZE = 227
QUICK_PART2_EPOCHS = 4
DEFAULT_SEEDS = (0, 1, 2)  # Part 2 seeds per model
DEFAULT_FACES = OLIVETTI  # the embedded face data
DEFAULT_WEIGHTS = "auto"  # ImageNet weights from the torch hub cache if present, else an untrained AlexNet
MLP_HIDDEN = WEIGHT_STUDY_HIDDEN  # 2.3: the MLP sizes whose weight pictures are compared (300, 800)


def mlp_group(hidden: int) -> str:
    """The name of the group of MLP runs with `hidden` units ("mlp300"), from the run config to the report's
    run-id comments: the MLP kind's record names it (FaceKind.group)."""
    return MLP_KIND.group(hidden)


SUITE_NAME = "part2"
SUITE_FORMAT = 1
# The stages of run_part2, in order, as a progress display names them (cnnlab.core.progress).
RECIPE, SMALL, FEATURES, LAYERS, FINETUNE = (
    "2.1 recipe",
    "2.1 MLPs and CNN",
    "2.2 AlexNet features",
    "2.2 layers",
    "2.4 fine-tuning",
)
STAGES = (RECIPE, SMALL, FEATURES, LAYERS, FINETUNE)


@dataclass(frozen=True)
class Part2Options(RuntimeView):
    """How to run Part 2: where and how (`runtime`: out, device, threads, jobs), which faces, seeds and weights.

    faces: "olivetti" (embedded) or a `cnnlab faces download` folder. seeds: a count or the seed ids (every
    model runs on each). weights: "auto" (ImageNet weights from the torch hub cache if present, else an
    untrained AlexNet, said so everywhere), "random", "download" (hub cache or download), or a path to a
    state dict. quick: the first seed alone, QUICK_PART2_EPOCHS epochs, QUICK_FACE_PEOPLE people and
    AlexNet at QUICK_ALEXNET_SIZE (a smoke test). callbacks: added to every run trained (they must pickle).
    """

    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)
    faces: str = DEFAULT_FACES
    seeds: tuple[int, ...] | int = DEFAULT_SEEDS
    weights: str = DEFAULT_WEIGHTS
    quick: bool = False
    callbacks: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", as_ids(self.seeds, "--seeds", "seed"))
        object.__setattr__(self, "callbacks", tuple(self.callbacks))
        check_part2_sources(self.faces, self.weights)

    @property
    def run_seeds(self) -> tuple[int, ...]:
        """The seeds every configuration runs with: the first alone in quick mode."""
        return self.seeds[:1] if self.quick else self.seeds

    @property
    def alexnet_size(self) -> int:
        return alexnet_size(self.quick)

    @property
    def suite_dir(self) -> Path:
        """<out>/suites/part2, beside the Part 1 suites."""
        return self.out_root / "suites" / SUITE_NAME


def alexnet_size(quick: bool) -> int:
    """The AlexNet input side: QUICK_ALEXNET_SIZE in quick mode, else FULL_ALEXNET_SIZE."""
    return QUICK_ALEXNET_SIZE if quick else FULL_ALEXNET_SIZE


def check_part2_sources(faces: str, weights: str) -> None:
    """A one-line ConfigError for an empty --faces or --weights."""
    if not str(weights).strip():
        raise ConfigError("--weights must be auto, random, download or a path")
    if not str(faces).strip():
        raise ConfigError("--faces must not be empty")


@dataclass(frozen=True)
class Part2Result:
    """What run_part2 ran: the run ids per model group (mlp: {hidden units: ids}, cnn, features, finetune, one
    per seed), 2.1's recipe choice, the layer sweep, the fine-tuning LR range test, the faces section (name,
    provenance, people, split counts) and the AlexNet weights' provenance; `path` is its suite.json.
    mlp_faces / alexnet_faces: the faces the MLPs and AlexNet read (for figures drawn from the checkpoints)."""

    path: Path
    mlp: dict[str, list[str]]
    cnn: list[str]
    features: list[str]
    finetune: list[str]
    recipes: dict[str, Any]
    depth: dict[str, Any]
    finetune_lr: dict[str, Any]
    faces: dict[str, Any]
    alexnet: dict[str, Any]
    mlp_faces: Any = field(default=None, repr=False, compare=False)
    alexnet_faces: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def read(cls, path: str | Path) -> Part2Result:
        """The Part2Result of a suite.json written by run_part2, read back through cnnlab.core.readback (its faces
        are not loaded): a missing file is FileNotFoundError, a damaged one a one-line DataError naming it."""
        from cnnlab.core.errors import DataError
        from cnnlab.core.readback import load_json

        path = Path(path)
        suite = load_json(path, f"Part 2 suite {path}")
        keys = ("faces", "alexnet", "part2", "recipes", "depth", "finetune_lr")
        if not isinstance(suite, dict) or suite.get("suite") != SUITE_NAME or suite.get("format") != SUITE_FORMAT:
            raise DataError(f"{path} is not a Part 2 suite.json (format {SUITE_FORMAT})")
        if not all(isinstance(suite.get(k), dict) for k in keys):
            raise DataError(f"{path} lacks the Part 2 record: {', '.join(keys)}")
        groups = suite["part2"]
        ids = {k: groups.get(k) for k in ("cnn", "features", "finetune")}
        mlp = groups.get("mlp")
        if not isinstance(mlp, dict) or not all(_ids(v) for v in [*mlp.values(), *ids.values()]):
            raise DataError(f"{path}: part2 must list run ids per model group")
        return cls(path=path, mlp=mlp, **ids, **{k: suite[k] for k in keys if k != "part2"})

    def record(self) -> dict[str, Any]:
        """The JSON record (suite.json's body and the report manifest's Part 2 keys, in this order)."""
        return {
            "faces": self.faces,
            "alexnet": dict(self.alexnet),
            "part2": {"mlp": self.mlp, "cnn": self.cnn, "features": self.features, "finetune": self.finetune},
            "recipes": self.recipes,
            "depth": self.depth,
            "finetune_lr": self.finetune_lr,
        }


def _ids(value: Any) -> bool:
    """Whether `value` is a list of run ids (non-empty strings)."""
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


# ----------------------------------------------------------------------------- what run_part2 runs
def face_people(options: Part2Options) -> list[str] | None:
    """Everyone (full mode) or the first QUICK_FACE_PEOPLE persons that have enough faces (quick)."""
    if not options.quick:
        return None
    from cnnlab.faces.data.dataset import describe_faces

    usable = [name for name, _rows, _ok, sizes in describe_faces(options.faces) if sizes]
    if not usable:
        raise CnnlabError(f"no person in {options.faces} has enough faces for a train/val/test split")
    return usable[:QUICK_FACE_PEOPLE]


def alexnet_weights_spec(spec: str) -> str | None:
    """The run configs' weights spec for --weights (auto, random, download or a path): None = the
    ImageNet weights (hub cache or download), "random" = an untrained AlexNet, or the path."""
    from cnnlab.faces.alexnet.model import UNTRAINED_LABEL, WEIGHTS_FILENAME
    from cnnlab.faces.alexnet.weights import hub_checkpoint_dir
    from cnnlab.faces.run_configs import RANDOM_WEIGHTS

    if spec == "auto":
        if (hub_checkpoint_dir() / WEIGHTS_FILENAME).is_file():
            return None
        log.warning(
            "no ImageNet AlexNet weights in %s: the report uses an %s (pass --weights PATH for real transfer learning)",
            hub_checkpoint_dir(),
            UNTRAINED_LABEL,
        )
        return RANDOM_WEIGHTS
    return None if spec == "download" else spec


def part2_configs(options: Part2Options, people: list[str] | None, weights: str | None) -> dict[str, Any]:
    """The Part 2 run configs (before seeds): the run-config defaults on options.faces/people, the
    AlexNet input size and weights, and QUICK_PART2_EPOCHS in quick mode."""
    from cnnlab.faces.run_configs import (
        FaceDataConfig,
        FeaturesConfig,
        FeaturesRunConfig,
        FinetuneConfig,
        FinetuneRunConfig,
        MLPRunConfig,
        with_epochs,
    )

    data = FaceDataConfig(source=str(options.faces), actors=tuple(people or ()))
    size = options.alexnet_size
    mlp = MLPRunConfig(data=data)
    configs = {
        **{mlp_group(h): replace(mlp, mlp=replace(mlp.mlp, hidden=h)) for h in MLP_HIDDEN},
        "features": FeaturesRunConfig(data=data, features=FeaturesConfig(input_size=size, weights=weights)),
        "finetune": FinetuneRunConfig(data=data, finetune=FinetuneConfig(input_size=size, weights=weights)),
    }
    return {k: with_epochs(c, QUICK_PART2_EPOCHS) for k, c in configs.items()} if options.quick else configs


def pool_settings(runtime: RuntimeOptions) -> dict[str, Any]:
    """The device, processes and torch threads per process of the small runs (cnnlab.core.pool.map_jobs)."""
    from cnnlab.core.threads import resolve_threads

    return {"device": runtime.device, "jobs": runtime.jobs, "threads": resolve_threads(runtime.threads)}


def choose_recipe(base: Any, seeds: Sequence[int], runtime: RuntimeOptions, callbacks: Sequence[Any] = ()) -> Any:
    """2.1's recipe (cnnlab.faces.training.mlp_recipes.select_mlp_recipe) on `base` (an MLPRunConfig), chosen on
    validation over `seeds` in runtime.jobs processes; the grid's runs never evaluate test."""
    from cnnlab.faces.training.mlp_recipes import select_mlp_recipe

    return select_mlp_recipe(base, seeds, runtime.out, callbacks=callbacks, **pool_settings(runtime))


def run_small_nets(
    recipe: Any,
    seeds: Sequence[int],
    runtime: RuntimeOptions,
    *,
    hidden: Sequence[int] = MLP_HIDDEN,
    cnn: bool = True,
    callbacks: Sequence[Any] = (),
) -> list[dict]:
    """The chosen recipe (an MLPRunConfig) as an MLP of each `hidden` size, then (cnn=True) the small CNN with the
    same recipe (cnnlab.faces.run_configs.cnn_like_mlp, on the first size's config), each over `seeds`, test
    evaluated once; their summaries (with "path", the run id) in that order, MLPs by size then seed."""
    from cnnlab.faces.kinds import FACE_CNN_KIND, MLP_KIND
    from cnnlab.faces.run_configs import cnn_like_mlp, with_seed
    from cnnlab.faces.training.mlp_recipes import run_many

    configs = [replace(recipe, mlp=replace(recipe.mlp, hidden=h)) for h in hidden]
    runs = [(MLP_KIND.name, with_seed(c, s), True) for c in configs for s in seeds]
    if cnn:
        runs += [(FACE_CNN_KIND.name, with_seed(cnn_like_mlp(configs[0]), s), True) for s in seeds]
    return run_many(runs, runtime.out, callbacks=callbacks, **pool_settings(runtime))


def data_name(source: str | Path) -> str:
    """What the report calls a face source: "olivetti", or the name of a `cnnlab faces download` folder
    (its name, never its absolute path, which says nothing to a reader and leaks the machine's layout)."""
    if str(source).lower() == "olivetti":
        return "olivetti"
    return Path(source).resolve().name or str(source)


def faces_section(options: Part2Options, faces: Any, people: list[str] | None) -> dict[str, Any]:
    """The faces record: the data's name (not its path), provenance, people and split counts."""
    name = data_name(options.faces)
    provenance = str(faces.provenance)
    if name != "olivetti":  # the dataset's sentence ends "from <folder>": name the folder, as everywhere in the report
        for folder in {str(options.faces), str(Path(options.faces).resolve())}:
            provenance = provenance.replace(folder, name)
    return {
        "source": name,
        "kind": "olivetti" if name == "olivetti" else "facescrub",
        "provenance": provenance,
        "people": list(faces.class_names),
        "counts": {k: list(v) for k, v in faces.counts.items()},
        "subset": people is not None,
        "alexnet_input": options.alexnet_size,
    }


# ----------------------------------------------------------------------------- the suite
def run_part2(options: Part2Options, ahead: Ahead | None = None) -> Part2Result:
    """Part 2 over the seeds (see the module docstring); writes <out>/suites/part2/suite.json atomically.
    `ahead`: where a report started Part 2 early on a cluster; each stage first waits for it there, showing
    its progress (cnnlab.core.ahead.stage).

    Each seed's fine-tuning starts from that seed's 2.2 run; with the default recipe (from-features) the
    2.2 runs cache the frozen layer the fine-tuning reads in the same pass as their own features.
    """
    from cnnlab.core.io import atomic_write_json
    from cnnlab.core.version import __version__
    from cnnlab.faces.alexnet import TRAIN_FROM
    from cnnlab.faces.data.run_faces import load_run_faces
    from cnnlab.faces.run_configs import FROM_FEATURES, with_seed
    from cnnlab.faces.training.alexnet_runs import AlexNetInputs
    from cnnlab.faces.training.finetune import alexnet_finetune
    from cnnlab.faces.training.finetune_lr import cached_finetune_lr_find
    from cnnlab.faces.training.layer_sweep import layer_sweep
    from cnnlab.faces.training.transfer import alexnet_features

    people = face_people(options)
    seeds, runtime, callbacks = options.run_seeds, options.runtime, options.callbacks
    out = options.out_root
    configs = part2_configs(options, people, alexnet_weights_spec(options.weights))

    # 2.1: the recipe is chosen on validation (the grid's runs never evaluate test); every MLP and the CNN use it.
    with early_stage(RECIPE, ahead):
        choice = choose_recipe(configs[mlp_group(MLP_HIDDEN[0])], seeds, runtime, callbacks)
    with early_stage(SMALL, ahead):
        done = [r["path"] for r in run_small_nets(choice.config, seeds, runtime, callbacks=callbacks)]
    n = len(seeds)
    mlp = {str(h): done[i * n : (i + 1) * n] for i, h in enumerate(MLP_HIDDEN)}
    cnn = done[len(MLP_HIDDEN) * n :]
    mlp_faces = load_run_faces(replace(choice.config, mlp=replace(choice.config.mlp, hidden=MLP_HIDDEN[0])))

    inputs = AlexNetInputs.load(configs["features"], configs["features"].features.weights)
    ft = configs["finetune"].finetune
    extra = (TRAIN_FROM[ft.train_from],) if ft.freeze == FROM_FEATURES else ()
    with early_stage(FEATURES, ahead):
        progress.plan(len(seeds))
        features = [
            alexnet_features(
                inputs, with_seed(configs["features"], s), runtime, callbacks=callbacks, extra_layers=extra
            ).path.name
            for s in seeds
        ]
    with early_stage(LAYERS, ahead):
        sweep = layer_sweep(inputs, configs["features"], seeds, runtime, callbacks=callbacks)
    with early_stage(FINETUNE, ahead):
        progress.plan(len(seeds))
        finetune = [
            alexnet_finetune(
                inputs, with_seed(configs["finetune"], s), runtime, start=out / f22, callbacks=callbacks
            ).path.name
            for s, f22 in zip(seeds, features)
        ]
        # The evidence for what fine-tuning can learn: the LR range test on the layers it trains (training split).
        found = cached_finetune_lr_find(inputs, with_seed(configs["finetune"], seeds[0]), runtime, out / features[0])
    result = Part2Result(
        path=options.suite_dir / "suite.json",
        mlp=mlp,
        cnn=cnn,
        features=features,
        finetune=finetune,
        recipes={"rows": choice.rows, "chosen": choice.chosen, "rule": choice.rule, "grid": choice.grid},
        depth={"rows": sweep.rows, "grid": sweep.grid},
        finetune_lr=found,
        faces=faces_section(options, mlp_faces, people),
        alexnet=dict(inputs.weights),
        mlp_faces=mlp_faces,
        alexnet_faces=inputs.faces,
    )
    suite = {
        "suite": SUITE_NAME,
        "format": SUITE_FORMAT,
        "version": __version__,
        "quick": options.quick,
        "seeds": list(seeds),
        **result.record(),
    }
    atomic_write_json(result.path, suite)
    log.info("suite %s: %d seeds -> %s", SUITE_NAME, len(seeds), result.path)
    return result
