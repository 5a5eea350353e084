"""Run (or reuse from the run cache) every experiment the report needs.

Part 1: the experiment suites (`cnnlab.art.suites.common.run_all`), which write <out>/suites/<name>/.
Part 2: 2.1's MLP recipe chosen on validation, MLPs with 300 and 800 hidden units and the small CNN with
that recipe, AlexNet conv4 features + head, the head on every AlexNet depth, fine-tuned AlexNet, each
over the seeds, through the public `cnnlab.faces` run functions with the run configs of
`cnnlab.faces.run_configs` (the `cnnlab part2 ...` commands' defaults, so runs made by hand are reused). Then the figures that need
data or checkpoints (art samples and transforms, MLP weight pictures, guided backprop, a prediction
example, and the diagnostics of cnnlab.report.figures.key_runs: confusion matrices, top losses, filters) go to
<out>/report-assets/, with manifest.json naming every Part 2 run and asset.
`cnnlab.report.context.load_context` reads all of it back without training anything.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from cnnlab.art.suites.common import SUITE_ORDER
from cnnlab.core import progress
from cnnlab.core.errors import CnnlabError
from cnnlab.faces.run_configs import WEIGHT_STUDY_HIDDEN
from cnnlab.report.options import QUICK_FACE_PEOPLE, QUICK_PART2_EPOCHS, ReportOptions

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
MLP_HIDDEN = WEIGHT_STUDY_HIDDEN  # 2.3: the MLP sizes whose weight pictures are compared (300, 800)
# The stages of `cnnlab report`, in order, as its progress display names them (cnnlab.core.progress).
PART1_FIGURES = "Part 1 figures"
RECIPE, SMALL, FEATURES, LAYERS, FINETUNE, PART2_FIGURES = (
    "2.1 recipe",
    "2.1 MLPs and CNN",
    "2.2 AlexNet features",
    "2.2 layers",
    "2.4 fine-tuning",
    "Part 2 figures",
)
RENDER = "LaTeX"
STAGES = (*SUITE_ORDER, PART1_FIGURES, RECIPE, SMALL, FEATURES, LAYERS, FINETUNE, PART2_FIGURES, RENDER)


def art_config(options: ReportOptions):
    """The Part 1 base configuration: the defaults (the handout's starter network) on options.art_data."""
    from cnnlab.art.config import RunConfig
    from cnnlab.core.config import resolve_config

    return resolve_config(RunConfig, None, [], extra={"data": {"name": options.art_data}} if options.art_data else None)


def run_experiments(options: ReportOptions) -> dict[str, Any]:
    """Run or reuse everything; write <out>/report-assets/manifest.json; return the manifest."""
    from cnnlab.core.io import atomic_write_json
    from cnnlab.core.pool import shared_workers

    t0 = time.perf_counter()
    assets = options.assets_dir
    assets.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    # One set of worker processes for Part 1 and Part 2: each start costs a torch (and CUDA) start-up.
    with shared_workers():
        art = run_part1(options)
        timings["part1_seconds"] = round(time.perf_counter() - t0, 1)
        t1 = time.perf_counter()
        part2 = run_part2(options)
        timings["part2_seconds"] = round(time.perf_counter() - t1, 1)
    from cnnlab.core.version import __version__

    manifest = {
        "format": MANIFEST_FORMAT,
        "version": __version__,
        "quick": options.quick,
        "seeds": options.n_seeds,
        "repeats": len(options.run_repeats),
        "art": art,
        **part2,
        "timings": timings,
    }
    atomic_write_json(assets / MANIFEST, manifest)
    return manifest


# ----------------------------------------------------------------------------- Part 1
def part1_suite_options(options: ReportOptions, base: Any) -> Any:
    """The SuiteOptions of the report's Part 1 (its repeats, jobs, trials and any shared search study)."""
    from cnnlab.art.suites import SuiteOptions

    return SuiteOptions(
        runtime=options.runtime,
        base=base,
        repeats=options.repeats,
        quick=options.quick,
        search_trials=options.trials,
        callbacks=options.callbacks,
        search_storage=options.search_storage,
        search_study=options.search_study,
    )


def run_part1(options: ReportOptions) -> dict[str, Any]:
    """Every suite (questions 1.2-1.7) on options.repeats, the data overview figure and the diagnostics of the key runs;
    returns data facts (the split sizes are those of the first repeat's fold)."""
    from cnnlab.art.run import prepare_data
    from cnnlab.art.suites import run_all

    base = art_config(options)
    suite_options = part1_suite_options(options, base)

    def done(result) -> None:
        log.info("suite %s: %d rows -> %s", result.name, len(result.rows), result.path)

    results = {r.name: r for r in run_all(suite_options, on_suite=done)}
    data = prepare_data(base)
    from cnnlab.art.suites import labels
    from cnnlab.report.figures.images import plot_art_overview
    from cnnlab.report.figures.key_runs import part1_diagnostics

    with progress.stage(PART1_FIGURES):
        figure = plot_art_overview(data.dataset, options.assets_dir / "art_overview.png")
        best = labels.find_variant(results["search"].rows, labels.BEST_FOUND, "search")["run_ids"]
        starter = labels.find_variant(results["baseline"].rows, labels.STARTER, "baseline")["run_ids"]
        diagnostics = part1_diagnostics(options.out_root, options.assets_dir, best, starter, device=options.device)
    ds = data.dataset
    return {
        "name": ds.name,
        "synthetic": bool(ds.synthetic),
        "summary": ds.summary(),
        "counts": ds.class_counts(),
        "image_size": int(ds.images.shape[-1]),
        "skipped": len(ds.skipped),
        "split": {"train": int(len(data.train[1])), "val": int(len(data.val[1])), "test": int(len(data.test[1]))},
        "figure": figure.name,
        "diagnostics": diagnostics,
    }


# ----------------------------------------------------------------------------- Part 2
def face_people(options: ReportOptions) -> list[str] | None:
    """Everyone (full mode) or the first QUICK_FACE_PEOPLE persons that have enough faces (quick)."""
    if not options.quick:
        return None
    from cnnlab.faces import describe_faces

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


def part2_configs(options: ReportOptions, people: list[str] | None, weights: str | None) -> dict[str, Any]:
    """The Part 2 run configs (before seeds): the run-config defaults on options.faces/people, the
    AlexNet input size and weights of the report, and QUICK_PART2_EPOCHS in quick mode."""
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
        **{f"mlp{h}": replace(mlp, mlp=replace(mlp.mlp, hidden=h)) for h in MLP_HIDDEN},
        "features": FeaturesRunConfig(data=data, features=FeaturesConfig(input_size=size, weights=weights)),
        "finetune": FinetuneRunConfig(data=data, finetune=FinetuneConfig(input_size=size, weights=weights)),
    }
    return {k: with_epochs(c, QUICK_PART2_EPOCHS) for k, c in configs.items()} if options.quick else configs


def run_part2(options: ReportOptions) -> dict[str, Any]:
    """Part 2 over the seeds: 2.1's MLP recipe chosen on validation (cnnlab.faces.training.mlp_recipes), the MLPs of 2.1/2.3
    and the small CNN with that recipe, AlexNet features (2.2), the layer sweep (cnnlab.faces.training.layer_sweep) and
    fine-tuning (2.4), then the 2.3-2.5 figures. The small runs go through `--jobs` processes.

    Each seed's fine-tuning starts from that seed's 2.2 run; with the default recipe (from-features) the
    2.2 runs cache the frozen layer the fine-tuning reads in the same pass as their own features.
    """
    from cnnlab.core.threads import resolve_threads
    from cnnlab.faces.alexnet import TRAIN_FROM
    from cnnlab.faces.alexnet.weights import resolve_weights
    from cnnlab.faces.data.run_faces import load_run_faces
    from cnnlab.faces.run_configs import FROM_FEATURES, cnn_like_mlp, with_seed
    from cnnlab.faces.training.finetune import alexnet_finetune, finetune_lr_find
    from cnnlab.faces.training.layer_sweep import layer_sweep
    from cnnlab.faces.training.mlp_recipes import run_many, select_mlp_recipe
    from cnnlab.faces.training.transfer import alexnet_features

    people = face_people(options)
    seeds = options.run_seeds
    out = options.out_root
    spec = alexnet_weights_spec(options.weights)
    configs = part2_configs(options, people, spec)
    pool = {"device": options.device, "jobs": options.jobs, "threads": resolve_threads(options.threads)}

    # 2.1: the recipe is chosen on validation (the grid's runs never evaluate test); every MLP and the CNN use it.
    with progress.stage(RECIPE):
        choice = select_mlp_recipe(configs[f"mlp{MLP_HIDDEN[0]}"], seeds, out, **pool)
    mlp_configs = {h: replace(choice.config, mlp=replace(choice.config.mlp, hidden=h)) for h in MLP_HIDDEN}
    small = [("mlp", with_seed(mlp_configs[h], s), True) for h in MLP_HIDDEN for s in seeds]
    small += [("face-cnn", with_seed(cnn_like_mlp(mlp_configs[MLP_HIDDEN[0]]), s), True) for s in seeds]
    with progress.stage(SMALL):
        done = [r["path"] for r in run_many(small, out, callbacks=options.callbacks, **pool)]
    n = len(seeds)
    mlp = {str(h): done[i * n : (i + 1) * n] for i, h in enumerate(MLP_HIDDEN)}
    cnn = done[len(MLP_HIDDEN) * n :]
    faces_gray = load_run_faces(mlp_configs[MLP_HIDDEN[0]])

    state_dict, weights = resolve_weights(spec)
    faces_rgb = load_run_faces(configs["features"])
    ft = configs["finetune"].finetune
    extra = (TRAIN_FROM[ft.train_from],) if ft.freeze == FROM_FEATURES else ()
    with progress.stage(FEATURES):
        progress.plan(len(seeds))
        features = [
            alexnet_features(
                faces_rgb,
                state_dict,
                weights,
                with_seed(configs["features"], s),
                out,
                device=options.device,
                callbacks=options.callbacks,
                extra_layers=extra,
            ).path.name
            for s in seeds
        ]
    with progress.stage(LAYERS):
        sweep = layer_sweep(
            faces_rgb,
            state_dict,
            weights,
            configs["features"],
            seeds,
            out,
            device=options.device,
            callbacks=options.callbacks,
        )
    with progress.stage(FINETUNE):
        progress.plan(len(seeds))
        finetune = [
            alexnet_finetune(
                faces_rgb,
                state_dict,
                weights,
                with_seed(configs["finetune"], s),
                out,
                start=out / f22,
                device=options.device,
                callbacks=options.callbacks,
            ).path.name
            for s, f22 in zip(seeds, features)
        ]
        # The evidence for what fine-tuning can learn: the LR range test on the layers it trains (training split).
        found = finetune_lr_find(
            faces_rgb,
            state_dict,
            weights,
            with_seed(configs["finetune"], seeds[0]),
            out,
            start=out / features[0],
            device=options.device,
        )
    lr_range = {
        "trained_layers": found.meta["trained_layers"],
        "start_lr": found.start,
        "min_lr": found.min_lr,
        "last_lr": found.lrs[-1],
        "stop_reason": found.stop_reason,
        "start_loss": found.smoothed[0],
        "min_loss": min(found.smoothed),
        "diverged": "smoothed loss above" in found.stop_reason,
    }
    del state_dict

    from cnnlab.report.figures import images as figures
    from cnnlab.report.figures.key_runs import part2_diagnostics

    assets = options.assets_dir
    with progress.stage(PART2_FIGURES):
        units = figures.plot_mlp_units(
            {h: out / ids[0] for h, ids in mlp.items()}, faces_gray, assets / "mlp_units.png"
        )
        checkpoint = out / finetune[0] / "model.pt"
        explain = figures.plot_guided_backprop(
            checkpoint, faces_rgb, assets / "guided_backprop.png", device=options.device
        )
        predict = figures.prediction_example(checkpoint, faces_rgb, assets / "predict_face.png")
        groups = {**{f"mlp{h}": ids for h, ids in mlp.items()}, "features": features, "finetune": finetune}
        face_diagnostics = part2_diagnostics(out, assets, groups, device=options.device)
    return {
        "faces": faces_section(options, faces_gray, people),
        "alexnet": {k: v for k, v in weights.items()},
        "part2": {"mlp": mlp, "cnn": cnn, "features": features, "finetune": finetune},
        "recipes": {"rows": choice.rows, "chosen": choice.chosen, "rule": choice.rule, "grid": choice.grid},
        "depth": {"rows": sweep.rows, "grid": sweep.grid},
        "finetune_lr": lr_range,
        "mlp_units": units,
        "explain": explain,
        "predict": predict,
        "face_diagnostics": face_diagnostics,
    }


def data_name(source: str | Path) -> str:
    """What the report calls a face source: "olivetti", or the name of a `cnnlab faces download` folder
    (its name, never its absolute path, which says nothing to a reader and leaks the machine's layout)."""
    if str(source).lower() == "olivetti":
        return "olivetti"
    return Path(source).resolve().name or str(source)


def faces_section(options: ReportOptions, faces: Any, people: list[str] | None) -> dict[str, Any]:
    """The manifest's faces section: the data's name (not its path), provenance, people and split counts."""
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


def manifest_path(out_root: str | Path) -> Path:
    return Path(out_root) / "report-assets" / MANIFEST
