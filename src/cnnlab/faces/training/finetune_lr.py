"""The 2.4 LR range test's record, cached: what Part 2 says of it, without rerunning it on every report.

finetune_lr_find (cnnlab.faces.training.finetune) sweeps the learning rate over the layers a from-features
fine-tuning trains (about 11 s in the full report). Its record (`lr_range_record`) is kept in
<out>/cache/finetune-lr/<digest>.json (cnnlab.core.keyed_cache, as the robustness evaluation), the key naming what decides it: the 2.2 run it starts from, the
resolved fine-tuning config, the faces, the AlexNet weights, the test's settings, the device type and the
cnnlab version. A cached record is read back through cnnlab.core.readback, its key compared and its fields
checked (`record_problem`); a damaged one is rebuilt with one warning.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cnnlab.core.config import to_dict
from cnnlab.core.keyed_cache import cached
from cnnlab.core.runtime import RuntimeOptions, identity_device
from cnnlab.core.version import __version__
from cnnlab.faces.run_configs import FinetuneRunConfig
from cnnlab.faces.training.alexnet_runs import AlexNetInputs

log = logging.getLogger(__name__)

CACHE_FOLDER = ("cache", "finetune-lr")
# The record's fields and their JSON types (float fields may be any number).
RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "trained_layers": (str,),
    "start_lr": (int, float),
    "min_lr": (int, float),
    "last_lr": (int, float),
    "stop_reason": (str,),
    "start_loss": (int, float),
    "min_loss": (int, float),
    "diverged": (bool,),
}


def lr_range_record(found: Any) -> dict[str, Any]:
    """What the report says of a fine-tuning LR range test (a cnnlab.core.train.lr_finder result)."""
    return {
        "trained_layers": found.meta["trained_layers"],
        "start_lr": found.start,
        "min_lr": found.min_lr,
        "last_lr": found.lrs[-1],
        "stop_reason": found.stop_reason,
        "start_loss": found.smoothed[0],
        "min_loss": min(found.smoothed),
        "diverged": "smoothed loss above" in found.stop_reason,
    }


def record_problem(record: Any) -> str | None:
    """Why `record` (read back from the cache) is no LR range record, or None when it is one."""
    if not isinstance(record, dict) or set(record) != set(RECORD_TYPES):
        return "not an LR range record"
    for key, types in RECORD_TYPES.items():
        value = record[key]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            return f"{key} is not a {types[0].__name__}"
    return None


def cache_key(inputs: AlexNetInputs, config: FinetuneRunConfig, runtime: RuntimeOptions, start: Path) -> dict:
    """What decides the range test's result (see the module docstring)."""
    return {
        "start_run": Path(start).name,
        "config": to_dict(config),
        "data_hash": inputs.faces.info["hash"],
        "weights_sha256": inputs.weights["sha256"],
        "device": identity_device(runtime.device),
        "version": __version__,
    }


def cached_finetune_lr_find(
    inputs: AlexNetInputs, config: FinetuneRunConfig, runtime: RuntimeOptions, start: Path
) -> dict[str, Any]:
    """lr_range_record of finetune_lr_find(inputs, config, runtime, start=start), from the cache when it holds
    this test; otherwise run, cached and returned (cnnlab.core.keyed_cache: one warning for a damaged file)."""

    def run() -> dict[str, Any]:
        from cnnlab.faces.training.finetune import finetune_lr_find

        return lr_range_record(finetune_lr_find(inputs, config, runtime, start=start))

    folder = Path(runtime.out).joinpath(*CACHE_FOLDER)
    key = cache_key(inputs, config, runtime, start)
    return cached(folder, key, run, "cached fine-tuning LR range test", record_problem)
