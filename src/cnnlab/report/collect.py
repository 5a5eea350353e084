"""Run (or reuse from the run cache) every experiment the report needs.

Part 1: the experiment suites (`cnnlab.art.suites.common.run_all`), which write <out>/suites/<name>/.
Part 2: `cnnlab.faces.suite.run_part2` (2.1's MLP recipe chosen on validation, MLPs with 300 and 800 hidden
units and the small CNN with that recipe, AlexNet conv4 features + head, the head on every AlexNet depth,
fine-tuned AlexNet and its LR range test, each over the seeds), which writes <out>/suites/part2/. Then the figures that need
data or checkpoints (art samples and transforms, MLP weight pictures, guided backprop, a prediction
example, and the diagnostics of cnnlab.report.figures.key_runs: confusion matrices, top losses, filters) go to
<out>/report-assets/, with manifest.json naming every Part 2 run and asset.
`cnnlab.report.context.load_context` reads all of it back without training anything.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from cnnlab.art.suites.common import SUITE_ORDER
from cnnlab.core import progress
from cnnlab.core.ahead import Ahead
from cnnlab.faces.suite import STAGES as PART2_STAGES
from cnnlab.faces.suite import Part2Options, mlp_group
from cnnlab.report.options import ReportOptions
from cnnlab.report.reading import MANIFEST

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
# The stages of `cnnlab report`, in order, as its progress display names them (cnnlab.core.progress): the Part 1
# suites, their figures, the stages of Part 2 (cnnlab.faces.suite.STAGES), its figures, LaTeX.
PART1_FIGURES = "Part 1 figures"
PART2_FIGURES = "Part 2 figures"
RENDER = "LaTeX"
STAGES = (*SUITE_ORDER, PART1_FIGURES, *PART2_STAGES, PART2_FIGURES, RENDER)


def art_config(options: ReportOptions):
    """The Part 1 base configuration: the defaults (the handout's starter network) on options.art_data."""
    from cnnlab.art.config import RunConfig
    from cnnlab.core.config import resolve_config

    return resolve_config(RunConfig, None, [], extra={"data": {"name": options.art_data}} if options.art_data else None)


def run_experiments(options: ReportOptions) -> dict[str, Any]:
    """Run or reuse everything; write <out>/report-assets/manifest.json; return the manifest."""
    from cnnlab.core.cluster import use_cluster
    from cnnlab.core.io import atomic_write_json
    from cnnlab.core.pool import shared_workers
    from cnnlab.faces.suite import run_part2 as run_part2_suite

    t0 = time.perf_counter()
    assets = options.assets_dir
    assets.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    # One set of worker processes (or one cluster connection) for Part 1 and Part 2: each start costs a torch
    # (and CUDA) start-up. On a cluster, Part 2, which needs nothing from Part 1, starts ahead (core.ahead).
    with use_cluster(options.runtime.cluster), shared_workers(), Ahead() as ahead:
        if ahead.enabled:
            ahead.start(PART2_STAGES, run_part2_suite, part2_options(options).with_cluster(ahead.address))
        art = run_part1(options)
        timings["part1_seconds"] = round(time.perf_counter() - t0, 1)
        t1 = time.perf_counter()
        part2 = run_part2(options, ahead)
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
def part2_options(options: ReportOptions) -> Part2Options:
    """The Part2Options of the report's Part 2 (its runtime, faces, seeds, weights, quick mode and callbacks)."""
    return Part2Options(
        runtime=options.runtime,
        faces=options.faces,
        seeds=options.seeds,
        weights=options.weights,
        quick=options.quick,
        callbacks=options.callbacks,
    )


def run_part2(options: ReportOptions, ahead: Ahead | None = None) -> dict[str, Any]:
    """Part 2 (cnnlab.faces.suite.run_part2: 2.1-2.4 over the seeds, written to <out>/suites/part2/; `ahead` as
    there), then the 2.3-2.5 figures drawn from its checkpoints; returns the manifest's Part 2 keys."""
    from cnnlab.faces.suite import run_part2 as run_part2_suite
    from cnnlab.report.figures import images as figures
    from cnnlab.report.figures.key_runs import part2_diagnostics

    result = run_part2_suite(part2_options(options), ahead)
    out, assets = options.out_root, options.assets_dir
    with progress.stage(PART2_FIGURES):
        units = figures.plot_mlp_units(
            {h: out / ids[0] for h, ids in result.mlp.items()}, result.mlp_faces, assets / "mlp_units.png"
        )
        checkpoint = out / result.finetune[0] / "model.pt"
        explain = figures.plot_guided_backprop(
            checkpoint, result.alexnet_faces, assets / "guided_backprop.png", device=options.device
        )
        predict = figures.prediction_example(checkpoint, result.alexnet_faces, assets / "predict_face.png")
        groups = {
            **{mlp_group(int(h)): ids for h, ids in result.mlp.items()},
            "features": result.features,
            "finetune": result.finetune,
        }
        face_diagnostics = part2_diagnostics(out, assets, groups, device=options.device)
    return {
        **result.record(),
        "mlp_units": units,
        "explain": explain,
        "predict": predict,
        "face_diagnostics": face_diagnostics,
    }
