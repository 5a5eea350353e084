"""Beyond the handout: how well each depth of AlexNet separates the faces (the "layer sweep").

The activations of conv1 to conv5 and pool5 are read in ONE forward pass per image (forward hooks on
each layer, cnnlab.faces.alexnet.features.cached_layers) and cached; then the 2.2 head (the same
FeaturesRunConfig, the same seeds) is trained on each layer in turn, reading the cache. Every layer is
average-pooled to a PROBE_GRID x PROBE_GRID grid first (AlexNet's own avgpool grid for pool5), so each
gives the head 36 x channels inputs (2,304 for conv1 to 13,824 for conv3) rather than 9,216 to 193,600:
the curve compares depths, not input sizes, and conv1 does not cost a 12-million-weight head.

With an untrained AlexNet the curve measures how much identity survives random convolutions at each
depth; with ImageNet weights (`--weights PATH`) it is the classic "which layer transfers best" curve.

    inputs = AlexNetInputs.load(config, config.features.weights)
    sweep = layer_sweep(inputs, config, seeds=(0, 1, 2), runtime=RuntimeOptions(out="runs"))
    sweep.rows  # [{"layer": "conv1", "test_acc_mean": ..., "test_acc_se": ..., "n": 3, ...}, ...]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from cnnlab.core.runtime import RuntimeOptions
from cnnlab.core.stats import summarize
from cnnlab.faces.run_configs import FeaturesRunConfig, with_seed
from cnnlab.faces.training.alexnet_runs import AlexNetInputs

log = logging.getLogger(__name__)

SWEEP_LAYERS: tuple[str, ...] = ("conv1", "conv2", "conv3", "conv4", "conv5", "pool5")
PROBE_GRID = 6


def sweep_config(base: FeaturesRunConfig, layer: str, grid: int = PROBE_GRID) -> FeaturesRunConfig:
    """`base` (the 2.2 run config: head, training, data, weights) reading `layer` pooled to grid x grid."""
    return replace(base, features=replace(base.features, layer=layer, pool_grid=grid))


@dataclass(frozen=True)
class LayerSweep:
    """Per layer (input to output): accuracy mean, SE and n over the seeds, the head's input size, run ids."""

    rows: list[dict[str, Any]]
    grid: int
    seeds: tuple[int, ...]


def layer_sweep(
    inputs: AlexNetInputs,
    base: FeaturesRunConfig,
    seeds: Sequence[int],
    runtime: RuntimeOptions,
    *,
    layers: Sequence[str] = SWEEP_LAYERS,
    grid: int = PROBE_GRID,
    callbacks: Sequence[Any] = (),
    force: bool = False,
) -> LayerSweep:
    """Train base's head on each of `layers` (pooled to grid x grid) for every seed; one AlexNet pass in all.

    `inputs`: AlexNetInputs.load(base, base.features.weights) (faces RGB at base.features.input_size). Runs
    go to runtime.out and are cached like any 2.2 run (force: retrain).
    """
    from cnnlab.core.device import resolve_device
    from cnnlab.faces.training.alexnet_runs import layer_features
    from cnnlab.faces.training.transfer import alexnet_features

    # Every layer in one pass per split (the runs below then only read the cache).
    layer_features(inputs, list(layers), inputs.cache(runtime), str(resolve_device(runtime.device)), grid)
    rows = []
    for layer in layers:
        config = sweep_config(base, layer, grid)
        runs = [
            alexnet_features(
                inputs,
                with_seed(config, s),
                runtime,
                callbacks=callbacks,
                force=force,
                write_plots=False,  # 6 layers x seeds runs: the report draws their one figure
            )
            for s in seeds
        ]
        summaries = [r.summary for r in runs]
        test, val = summarize(s["test_acc"] for s in summaries), summarize(s["val_acc"] for s in summaries)
        rows.append(
            {
                "layer": layer,
                "feature_dim": int(summaries[0]["feature_dim"]),
                "test_acc_mean": test.mean,
                "test_acc_se": test.se,
                "val_acc_mean": val.mean,
                "val_acc_se": val.se,
                "n": test.n,
                "run_ids": [r.path.name for r in runs],
            }
        )
        log.info("layer sweep %s: test %.3f +- %.3f (n=%d)", layer, test.mean, test.se, test.n)
    return LayerSweep(rows, grid, tuple(seeds))


def format_sweep(sweep: LayerSweep) -> str:
    """The sweep as a plain-text table (the CLI's output)."""
    lines = [f"layer  inputs  val acc          test acc        (mean +- SE over n={len(sweep.seeds)} seeds)"]
    for r in sweep.rows:
        lines.append(
            f"{r['layer']:<6} {r['feature_dim']:>6}  {r['val_acc_mean']:.3f} +- {r['val_acc_se']:.3f}  "
            f"{r['test_acc_mean']:.3f} +- {r['test_acc_se']:.3f}"
        )
    return "\n".join(lines)
