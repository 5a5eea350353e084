"""The one recipe of a cached, seeded run: every run kind (each part's, core.runs.kinds.RUN_KINDS) goes
through `run_cached`.

    result = run_cached(RunSpec(out, kind, identity, data.info, seed), train=fit, write=write_files)

1. A finished, valid run folder with the same identity (kind, resolved config, data hash, seed,
   version) is reused: `train` is not called (and then no training callback runs).
2. Otherwise the global generators are seeded once, here, before `train` builds the model: the
   initialisation is part of the seeded run. (`Trainer.fit` seeds its own training streams, dropout,
   shuffling and augmentation, from the training config, so that a fit repeats on its own too.)
3. `train()` returns whatever the run needs to write; `write(run, trained)` writes the run's files
   into the temporary folder and returns the summary fields; the folder is renamed into place only
   when complete (`folders.create_run`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import torch

from cnnlab.core import progress
from cnnlab.core.errors import CnnlabError
from cnnlab.core.runs import capture
from cnnlab.core.runs.folders import RunDir, RunResult, cached_run, create_run, run_id
from cnnlab.core.train.callbacks import Callback
from cnnlab.core.train.trainer import seed_everything

__all__ = ["RunSpec", "run_cached"]

log = logging.getLogger(__name__)

Trained = TypeVar("Trained")


@dataclass(frozen=True)
class RunSpec:
    """What identifies a run and where it goes: `identity` is the resolved config that defines it, `data`
    its data provenance (with a "hash"), and `seed` seeds it."""

    root: str | os.PathLike
    kind: str
    identity: Mapping[str, Any]
    data: Mapping[str, Any]
    seed: int
    force: bool = False  # train again even when a valid finished run exists (--force), and replace it
    device: str = (
        "cpu"  # what it trains on: its type is part of the run's identity (folders.run_key), its name is recorded
    )
    callbacks: Sequence[Callback] = field(default=())  # also given `on_run_folder` before the rename

    @property
    def data_hash(self) -> str:
        return str(self.data["hash"])


def run_cached(
    spec: RunSpec,
    train: Callable[[], Trained],
    write: Callable[[RunDir, Trained], Mapping[str, Any]],
    on_cached: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Reuse the finished run of `spec`, or seed, `train()`, and write it through `write(run, trained)`.

    `write` returns the summary fields; run id, kind, version, seed, data and wall seconds are added.
    `on_cached(hit)` may complete a reused run (e.g. draw a figure a suite skipped).
    On a cluster (cnnlab.core.runs.capture) the client only looks in its cache, and a worker writes into
    the task's scratch folder, whose runs go back to the client.
    """
    scratch = capture.redirect(spec.root)
    if scratch is not spec.root:
        spec = replace(spec, root=scratch)
    hit = cached_run(spec.root, spec.kind, spec.identity, spec.data_hash, spec.seed, spec.force, spec.device)
    if hit is not None:
        if on_cached is not None:
            on_cached(hit)
        progress.advance(cached=True)  # counted here unless a map_jobs call counts it (core.progress)
        capture.record(hit.path, spec.root, spec.force)
        return hit
    capture.check_probe(spec.root)
    seed_everything(spec.seed)  # before the model is built: the initialisation is part of the seeded run
    try:
        trained = train()
    except torch.OutOfMemoryError:
        # Nothing of the run is written yet (create_run comes after training): one line, and the advice.
        name = run_id(spec.kind, spec.identity, spec.data_hash, spec.seed, spec.device)
        raise CnnlabError(
            f"out of memory on {spec.device} while training run {name}: use a smaller batch "
            "(--set train.batch_size=...) or fewer parallel --jobs"
        ) from None
    with create_run(
        spec.root,
        spec.kind,
        spec.identity,
        spec.seed,
        spec.data,
        callbacks=spec.callbacks,
        replace=spec.force,
        device=spec.device,
    ) as run:
        full = run.write_summary(dict(write(run, trained)))
    log.debug("wrote run %s", Path(run.path).name)
    progress.advance()
    capture.record(run.path, spec.root, spec.force)
    return RunResult(run.path, full, False)
