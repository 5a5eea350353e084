"""Hyperparameter search with Optuna that scales past one process and one machine (questions 1.5-1.6).

A study lives in a storage that every worker shares: an SQLite file (default runs/optuna.db), any
SQLAlchemy URL (PostgreSQL for several machines) or an Optuna journal file (a path ending .log or
.journal). The objective is the validation accuracy of a `train_run` (never test accuracy); median
pruning stops trials whose per-epoch validation accuracy is below the median of earlier trials.

Exactly N trials, whatever the number of workers: the process that creates the study enqueues N
empty WAITING trials, and workers only ever claim WAITING trials (the storage lets one claimant win),
never create new ones. A trial whose sampled architecture is invalid (map below 1x1, or over the cost
limits) is pruned at once, records why in user attribute "invalid", and is replaced by a fresh WAITING
trial, so N trials are trained. On RDB storages each running trial records a heartbeat; a trial whose
worker died (no heartbeat for the grace period, storage.Liveness) is failed by a surviving worker and
queued again with the same parameters, up to a retry limit (sweep.lifecycle). Workers wait for trials
running elsewhere, so while one worker lives the study ends with N finished trials and none running.
SIGINT (Ctrl-C) and SIGTERM give the interrupted trial back at once.

Each trial's sampler (TPE, or random search) is seeded from (seed, slot, attempt), where a slot is one
of the N requested trials and attempt counts its replacements: random-phase draws (the first
sweep_worker.N_STARTUP trials of TPE, all of random search) do not depend on which worker or machine
runs them or in which order, and no two workers share a random stream.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnlab.art.config import RunConfig
from cnnlab.art.sweep.batch import BATCH, BatchRun, prune_rule, run_batches
from cnnlab.art.sweep.create import ATTR_DATA, init_study
from cnnlab.art.sweep.lifecycle import gave_up_key, replaced_numbers, stop_on_signals, trial_status
from cnnlab.art.sweep.space import suggest_config
from cnnlab.art.sweep.storage import Liveness, default_storage, mask_url, open_storage
from cnnlab.art.sweep.worker import (
    ATTR_TRIALS,
    Job,
    run_on_held_workers,
    spawn_workers,
    trial_sampler,
    work,
)
from cnnlab.core.config import from_dict, to_dict
from cnnlab.core.errors import CnnlabError
from cnnlab.core.io import check_out_dir
from cnnlab.core.pool import shared_workers, sharing_workers
from cnnlab.core.runtime import DEFAULT_DEVICE
from cnnlab.core.train.callbacks import Callback

TOP = 5  # complete trials a SweepResult lists with their configs (the 1.6 suite retrains the first few)

__all__ = ["SweepResult", "Liveness", "suggest_config", "default_storage", "open_storage", "run_sweep", "load_sweep"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    """A study's state. `status` of a trial: complete, pruned, failed, invalid, replaced, running, waiting."""

    study_name: str
    storage: str  # password hidden
    target: int | None  # trials the study was asked for
    best_value: float | None  # validation accuracy of the best complete trial
    best_params: dict
    best_config: RunConfig | None
    best_trial: int | None
    best_run_id: str | None
    n_complete: int
    n_pruned: int
    n_failed: int
    n_invalid: int
    n_running: int
    n_waiting: int
    trials: list[dict] = field(default_factory=list)
    data_hash: str | None = None  # content hash of the data the study searched on
    top: list[dict] = field(default_factory=list)  # the TOP complete trials, best first: number, value, seeded, config

    @property
    def n_finished(self) -> int:
        """Trials that count toward the target (invalid and re-queued ones do not)."""
        return self.n_complete + self.n_pruned + self.n_failed

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["best_config"] = to_dict(self.best_config) if self.best_config is not None else None
        out["n_finished"] = self.n_finished
        return out


def load_sweep(study_name: str, storage: str) -> SweepResult:
    """Read a study's trials and best result from `storage`."""
    import optuna

    store = open_storage(storage, heartbeat=False)
    try:
        study = optuna.load_study(study_name=study_name, storage=store)
    except KeyError:
        raise CnnlabError(f"no study {study_name!r} in storage {mask_url(storage)!r}") from None
    return _summarise(study, mask_url(storage))


def _summarise(study: Any, shown: str) -> SweepResult:
    """The study's state: every trial as a row, counts by status, and the best complete trial."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    replaced = replaced_numbers(trials)
    study_attrs = study.user_attrs
    rows = [_trial_row(t, replaced, study_attrs) for t in trials]
    count = lambda s: sum(r["status"] == s for r in rows)  # noqa: E731
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    ranked = sorted(done, key=lambda t: (-t.value, t.number))
    best = ranked[0] if ranked else None
    top = [
        {"number": t.number, "value": t.value, "seeded": t.user_attrs.get("seeded"), "config": t.user_attrs["config"]}
        for t in ranked[:TOP]
        if "config" in t.user_attrs
    ]
    best_config = None
    if best is not None and "config" in best.user_attrs:
        best_config = from_dict(RunConfig, best.user_attrs["config"])
    return SweepResult(
        study_name=study.study_name,
        storage=shown,
        target=study.user_attrs.get(ATTR_TRIALS),
        best_value=best.value if best else None,
        best_params=dict(best.params) if best else {},
        best_config=best_config,
        best_trial=best.number if best else None,
        best_run_id=best.user_attrs.get("run_id") if best else None,
        n_complete=count("complete"),
        n_pruned=count("pruned"),
        n_failed=count("failed"),
        n_invalid=count("invalid"),
        n_running=count("running"),
        n_waiting=count("waiting"),
        trials=rows,
        data_hash=study_attrs.get(ATTR_DATA),
        top=top,
    )


def _trial_row(t: Any, replaced: set[int], study_attrs: dict) -> dict:
    """One trial as a table row; `replaced` holds the numbers of trials that a re-queued copy replaces,
    `study_attrs` the study's user attributes (why a trial was not run again)."""
    from optuna.trial import TrialState

    status = trial_status(t, replaced)
    duration = (
        (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None
    )
    note = (
        t.user_attrs.get("invalid")
        or t.user_attrs.get("error")
        or t.user_attrs.get("interrupted")
        or study_attrs.get(gave_up_key(t.number))
        or ""
    )
    if status == "replaced" and not note:
        note = "its worker died (no heartbeat)"
    if t.number in replaced and status != "invalid":
        note = (note + "; " if note else "") + "re-queued"
    return {
        "number": t.number,
        "state": t.state.name,
        "status": status,
        "value": t.value if t.state == TrialState.COMPLETE else None,
        "params": dict(t.params),
        "run_id": t.user_attrs.get("run_id"),
        "duration": round(duration, 3) if duration is not None else None,
        "epochs": len(t.intermediate_values),
        "worker": t.user_attrs.get("worker"),
        "seeded": t.user_attrs.get("seeded"),
        "note": note,
    }


def run_sweep(
    *,
    study_name: str,
    storage: str | None,
    trials: int,
    workers: int = 1,
    base: RunConfig,
    out_root: str | os.PathLike,
    seed: int = 0,
    epochs: int | None = None,
    prune: bool = True,
    sampler: str = "tpe",
    threads: int | None = None,
    device: str = DEFAULT_DEVICE,
    callbacks: Sequence[Callback] = (),
    liveness: Liveness | None = None,
    batch: int = BATCH,
    seeds: Sequence[tuple[str, dict]] = (),
) -> SweepResult:
    """Run (or join, or resume) study `study_name` until it holds `trials` finished trials.

    `trials` is the study's total, not a per-worker or per-call count, so the same command on several
    machines shares one budget, and rerunning it resumes. A larger `trials` than the study was created
    with extends it (do that from one process at a time). `workers` > 1 starts that many local worker
    processes, each with `threads` torch threads (default: the rule of cnnlab.core.threads), or, inside
    `cnnlab.core.pool.shared_workers()` (a report), runs them on the worker processes held there; `workers` = 1
    runs in this process. Each trial trains through `cnnlab.art.run.train_run` into a cached run folder under
    `out_root`; `callbacks` are added to each trial's training (e.g. TensorBoard logging). Returns the
    study's state when this call's workers have nothing left to claim, and records its trials' run ids
    in <out_root>/sweeps/<study>.json (read by `cnnlab runs`). `liveness`: heartbeat interval, grace
    period and retry limit of lost trials (default: storage.Liveness()); every worker should use the same.
    A worker that dies is survived: the study still ends with `trials` finished trials, and this call
    fails only if the study did not.

    `batch` > 0 (the default, sweep.batch): this process owns the study and runs it in synchronous batches of
    that many trials, the trainings spread over `workers` processes: the same study for any number of
    workers. `batch` = 0: a shared study, whose trials any number of `run_sweep` calls on any machines claim
    (sweep.worker; not reproducible across worker counts). The study keeps the mode it was made with.
    `seeds`: (label, parameters) queued as the study's first trials when it is made (the search's starting
    points; the label is the trial's user attribute "seeded").
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise CnnlabError(f"--trials must be a positive integer, got {trials!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise CnnlabError(f"--workers must be a positive integer, got {workers!r}")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 0:
        raise CnnlabError(f"--batch must be a non-negative integer, got {batch!r}")
    if sampler not in ("tpe", "random"):
        raise CnnlabError(f"unknown sampler {sampler!r} (choose from: tpe, random)")
    if not study_name or not study_name.strip():
        raise CnnlabError("the study name must not be empty")
    if epochs is not None:
        base = dataclasses.replace(base, train=dataclasses.replace(base.train, epochs=epochs))
    out_root = check_out_dir(out_root)  # folders are made only once the storage opens: a bad --storage leaves none
    default = default_storage(out_root)
    url = storage or default
    if url == default:  # named or not (the search suite names it), a file in the runs folder
        out_root.mkdir(parents=True, exist_ok=True)
    liveness = liveness or Liveness()
    store = open_storage(url, liveness)
    out_root.mkdir(parents=True, exist_ok=True)

    from cnnlab.art.run import prepare_data

    data = prepare_data(base)  # validates the data and fills the decoded-tensor cache for the workers
    init_study(store, study_name, base, data.info["hash"], trials, batch, seeds)
    from cnnlab.core.threads import resolve_threads, use_threads

    if batch:
        return _run_batched(
            study_name, store, url, out_root, base, seed, prune, sampler, workers, threads, device, callbacks, batch
        )

    job = Job(
        study_name,
        url,
        to_dict(base),
        str(out_root),
        seed,
        prune,
        str(device),
        sampler,
        threads=resolve_threads(threads),
        log_level=logging.getLogger().getEffectiveLevel(),
        callbacks=tuple(callbacks),
        liveness=liveness,
    )
    bad: list = []
    if workers == 1:  # this process is the worker
        use_threads(threads)
        with stop_on_signals():
            work(job, store, data)
    elif sharing_workers():  # a suite of the report or `experiment all`: their worker processes are running
        bad = run_on_held_workers(job, workers)
    else:
        bad = spawn_workers(job, workers)
    import optuna

    result = _summarise(optuna.load_study(study_name=study_name, storage=store), mask_url(url))
    write_sweep_index(out_root, result)
    if bad:
        text = f"{len(bad)} of {workers} sweep workers ended badly (worker, exit code: {bad})"
        if (
            any(code == 2 for _, code in bad)
            or result.n_running
            or result.n_waiting
            or result.n_finished < (result.target or 0)
        ):
            raise CnnlabError(f"{text}; see the messages above")
        log.warning("%s; the others ran their trials, and the study holds all %d", text, result.n_finished)
    return result


def write_sweep_index(out_root: str | os.PathLike, result: SweepResult) -> Path:
    """<out_root>/sweeps/<study>.json: the study's trials and their run ids, so `cnnlab runs` can tell
    sweep trials from other runs without opening the Optuna storage."""
    from cnnlab.core.io import atomic_write_json
    from cnnlab.core.runs.catalog import sweep_index_path

    path = sweep_index_path(out_root, result.study_name)
    trials = [{k: t[k] for k in ("number", "status", "value", "run_id")} for t in result.trials]
    atomic_write_json(path, {"study": result.study_name, "storage": result.storage, "trials": trials})
    return path


def _run_batched(
    name: str,
    store: Any,
    url: str,
    out_root: Path,
    base: RunConfig,
    seed: int,
    prune: bool,
    sampler: str,
    workers: int,
    threads: int | None,
    device: str,
    callbacks: Sequence[Callback],
    batch: int,
) -> SweepResult:
    """Own the study and run it in batches (sweep.batch) until it holds its target of finished trials."""
    import optuna

    from cnnlab.art.sweep.lifecycle import give_back
    from cnnlab.core.threads import use_threads

    study = optuna.load_study(study_name=name, storage=store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # a dead owner's batch: FAIL + queued again
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    if running and getattr(store, "get_heartbeat_interval", lambda: None)():
        raise CnnlabError(
            f"study {name!r} has {len(running)} trial(s) running: another process owns it (a batched study has one "
            "owner; a dead owner's trials are given back after the grace period), or use --batch 0 for a shared study"
        )
    for t in running:  # no heartbeats (journal file): an earlier owner was killed mid-batch
        give_back(
            study,
            store,
            store.get_trial_id_from_study_id_trial_number(store.get_study_id_from_name(name), t.number),
            "its owner was killed",
        )
    threads = use_threads(threads)  # also for a batch of one task, which map_jobs trains in this process
    epochs = base.train.epochs
    run = BatchRun(
        study_name=name,
        base=base,
        out_root=str(out_root),
        seed=seed,
        sampler=sampler,
        device=str(device),
        rule=prune_rule(epochs) if prune else None,
        workers=workers,
        threads=threads,
        batch=batch,
        callbacks=tuple(callbacks),
    )
    with shared_workers():  # one pool for every batch (and a report's own, when it holds one)
        run_batches(run, store, lambda slot: trial_sampler(sampler, seed, slot, 0))
    result = _summarise(optuna.load_study(study_name=name, storage=store), mask_url(url))
    write_sweep_index(out_root, result)
    return result
