"""Sweep workers: claim WAITING trials of a study and train them until none is left.

`work` runs in the calling process (one worker), in each process `spawn_workers` starts, or as a task
of the worker processes a report or `experiment all` already holds (`run_on_held_workers`). A trial
gets a fresh Study object (fresh trial cache) with a TPESampler seeded from (seed, trial number), draws
its config from `sweep_space.suggest_config`, trains it through `cnnlab.art.run.train_run` and reports the
validation accuracy of every epoch, so the median pruner can stop it. Invalid draws are pruned at once
and replaced by a fresh WAITING trial; SIGINT (Ctrl-C) and SIGTERM fail the running trial and queue it
again at once (sweep.lifecycle). A worker with nothing to claim waits while other workers' trials run,
failing and re-running any whose heartbeat stops, until the study holds its target of finished trials.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnlab.art.config import RunConfig
from cnnlab.art.sweep.lifecycle import exit_status, give_back, progress, retry_attrs, signals_ignored, stop_on_signals
from cnnlab.art.sweep.space import suggest_config
from cnnlab.art.sweep.storage import Liveness, claim, claim_lock, heartbeat_thread, open_storage
from cnnlab.core.config import from_dict, to_dict
from cnnlab.core.errors import CnnlabError
from cnnlab.core.io import short_hash
from cnnlab.core.logs import route_optuna, worker_handlers
from cnnlab.core.pool import map_jobs
from cnnlab.core.processes import end_processes, pass_on_signal, raise_if_stopped
from cnnlab.core.train.callbacks import Callback, FitState

log = logging.getLogger(__name__)

N_STARTUP = 10  # TPE: random trials before the model kicks in
PRUNE_STARTUP = 5  # MedianPruner: complete trials before pruning starts
START_WAIT = 120.0  # seconds local workers wait for each other before claiming
MAX_INVALID_FACTOR = 5  # stop replacing invalid trials past max(20, factor * N) of them
MAX_POLL = 5.0  # seconds between looks at a study whose last trials run on other workers
ATTR_TRIALS = "cnnlab_trials"  # study user attribute: the number of trials asked for
PASS_ON_WAIT = 30.0  # seconds stopped workers get to give their trials back before they are killed


@dataclass(frozen=True)
class Job:
    """What every worker needs (plain data: it crosses process boundaries)."""

    study_name: str
    storage: str
    base: dict  # to_dict(RunConfig)
    out_root: str
    seed: int
    prune: bool
    device: str
    sampler: str = "tpe"  # or "random"
    threads: int | None = None
    log_level: int = logging.INFO
    worker: int = 0
    callbacks: Sequence[Callback] = ()  # extra training callbacks of every trial (e.g. TensorBoard logging)
    liveness: Liveness = field(default_factory=Liveness)  # heartbeat interval, grace period, retry limit


def spawn_workers(job: Job, workers: int) -> list[tuple[int, int | None]]:
    """Run `workers` local worker processes ("spawn": no forked torch/DB state) and wait for them; returns
    (worker, exit code) of those that did not exit 0 (the caller decides whether the study suffered).

    SIGINT or SIGTERM to this process alone (`kill -INT`, a scheduler's stop) is passed on to the workers at
    once: each gives its trial back and exits 130 or 143 (a terminal's Ctrl-C, which reaches them too, is
    handled once); stragglers are killed after PASS_ON_WAIT seconds."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(workers)  # start together: nobody claims everything while the rest import torch
    procs = [
        ctx.Process(target=_worker_main, args=(dataclasses.replace(job, worker=i), barrier), name=f"cnnlab-sweep-{i}")
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    try:
        with stop_on_signals():
            for p in procs:
                p.join()
    except KeyboardInterrupt as exc:
        with signals_ignored():
            pass_on_signal(getattr(exc, "signum", signal.SIGINT), procs)
            end_processes(procs, PASS_ON_WAIT)
        raise
    return [(i, p.exitcode) for i, p in enumerate(procs) if p.exitcode != 0]


def _worker_main(job: Job, barrier: Any = None) -> None:
    """Entry point of a worker process."""
    from cnnlab.core.processes import exit_with_parent

    exit_with_parent()  # a killed `cnnlab sweep` must not leave its workers running
    if job.threads:
        os.environ["OMP_NUM_THREADS"] = str(job.threads)  # before torch is imported in this process
    logging.basicConfig(level=job.log_level, handlers=worker_handlers(_log_format(job)))  # the command's log file
    route_optuna()
    import torch

    if job.threads:
        torch.set_num_threads(job.threads)
    try:
        with stop_on_signals():
            store, data = _store_and_data(job)
            if barrier is not None:
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=START_WAIT)
            work(job, store, data)
    except CnnlabError as exc:
        log.error("%s", exc)
        sys.exit(2)
    except KeyboardInterrupt as exc:
        sys.exit(exit_status(exc))


def run_on_held_workers(job: Job, workers: int) -> list[tuple[int, int | None]]:
    """Run `workers` local workers as tasks of the worker processes held by `cnnlab.core.pool.shared_workers()`
    (a report's or `experiment all`'s) and wait for them; returns (worker, status) of those that did not end
    with 0, as spawn_workers does.

    SIGTERM to this process alone (a scheduler's stop, `docker stop`) is passed on at once to the processes
    running a worker (each names itself by a file in a folder made for this call), so each gives its trial
    back; a worker that had not started yet finds the folder gone and runs nothing. A terminal's Ctrl-C
    reaches them by itself."""
    pids = Path(tempfile.mkdtemp(prefix="cnnlab-sweep-workers-"))
    try:
        calls = [(dataclasses.replace(job, worker=i), str(pids)) for i in range(workers)]
        with stop_on_signals():
            codes = map_jobs(pool_worker, calls, workers, job.threads)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)  # a terminal's Ctrl-C reached them too: handled once
        with signals_ignored():
            running = [int(f.name) for f in pids.iterdir() if f.name.isdigit()]
            shutil.rmtree(pids, ignore_errors=True)  # first: a worker that starts from now on runs nothing
            for pid in running:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)
        raise
    finally:
        shutil.rmtree(pids, ignore_errors=True)
    return [(i, code) for i, code in enumerate(codes) if code != 0]


def pool_worker(job: Job, pid_dir: str) -> int:
    """One local worker as a task of the held worker processes (see run_on_held_workers): the report's
    search runs on the processes its suites already started, not on new ones. Returns the exit status a
    spawned worker would end with: 0, or 2 after a one-line error."""
    # The worker's messages, prefixed as a spawned worker's are; the handlers go with the task.
    root = logging.getLogger()
    level, kept = root.level, root.handlers
    root.handlers = worker_handlers(_log_format(job))
    root.setLevel(job.log_level)
    route_optuna()
    me = Path(pid_dir, str(os.getpid()))
    try:
        with stop_on_signals():
            try:
                me.touch()  # how the parent finds this process to pass a SIGTERM on
            except OSError:  # the folder is gone: the parent was stopped before this worker started
                return 0
            work(job, *_store_and_data(job))
        return 0
    except CnnlabError as exc:
        log.error("%s", exc)
        return 2
    finally:
        me.unlink(missing_ok=True)
        for handler in root.handlers:
            handler.close()
        root.handlers = kept
        root.setLevel(level)


def _log_format(job: Job) -> str:
    """A worker's log lines name it, spawned or held: "INFO worker 1 cnnlab.art.sweep...: ..."."""
    return f"%(levelname)s worker {job.worker} %(name)s: %(message)s"


def _store_and_data(job: Job) -> tuple[Any, Any]:
    """What every worker opens before it claims a trial: the study's storage and the prepared data."""
    from cnnlab.art.run import prepare_data

    return open_storage(job.storage, job.liveness), prepare_data(from_dict(RunConfig, job.base))


def work(job: Job, store: Any, data: Any) -> int:
    """Claim WAITING trials of the study and run them until the study holds its target of finished trials
    (or nothing is left that could finish); returns how many ran here.

    With nothing to claim while other workers' trials run, wait and look again every few seconds: a trial
    whose worker died (no heartbeat for the grace period) is failed and queued again, and run here.
    Storages without heartbeats (journal files) cannot tell a dead worker from a slow one: return then."""
    import optuna

    base = from_dict(RunConfig, job.base)
    pruner: Any = optuna.pruners.NopPruner()
    if job.prune:
        pruner = optuna.pruners.MedianPruner(
            n_startup_trials=PRUNE_STARTUP, n_warmup_steps=max(1, base.train.epochs // 4)
        )
    worker = f"{socket.gethostname()}:{os.getpid()}"
    study_id = store.get_study_id_from_name(job.study_name)
    beats = bool(getattr(store, "get_heartbeat_interval", lambda: None)())
    poll = min(MAX_POLL, float(job.liveness.interval))
    ran, waiting_said = 0, False
    while True:
        raise_if_stopped()  # a safe point: a stop swallowed where Python ignores exceptions ends here
        control = optuna.load_study(study_name=job.study_name, storage=store)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(control)  # a dead worker's trial: FAIL + queued again
        with claim_lock(job.storage):
            claimed = claim(store, study_id)
        if claimed is None:
            state = progress(control.get_trials(deepcopy=False))
            target = int(control.user_attrs.get(ATTR_TRIALS, 0))
            if state.finished >= target or not state.running:
                return ran
            if not beats:
                log.warning(
                    "%d trial(s) still running on other workers; this storage has no heartbeats, so a "
                    "dead worker's trial is not run again (use an RDB storage such as PostgreSQL)",
                    state.running,
                )
                return ran
            if not waiting_said:
                log.info(
                    "%d of %d trials finished, %d running elsewhere: waiting (a trial without heartbeat for "
                    "%d s is run again here)",
                    state.finished,
                    target,
                    state.running,
                    job.liveness.grace,
                )
                waiting_said = True
            time.sleep(poll)
            continue
        waiting_said = False
        number, trial_id = claimed
        try:
            _run_trial(job, store, base, data, pruner, worker, number, trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            # Another worker failed this trial as stale (this process stalled past the grace period).
            log.warning("trial %d was finished by another worker meanwhile; dropping this result", number)
        ran += 1


def _run_trial(
    job: Job, store: Any, base: RunConfig, data: Any, pruner: Any, worker: str, number: int, trial_id: int
) -> None:
    """Run one claimed trial and tell the storage how it ended; a signal gives the trial back at once."""
    import optuna

    study = None
    try:
        with heartbeat_thread(store, trial_id):
            # A fresh Study per trial: a fresh trial cache, and a sampler seeded by the trial's slot and
            # attempt (not its number, which depends on timing), so random-phase draws are reproducible.
            attrs = store.get_trial(trial_id).user_attrs
            sampler = trial_sampler(job.sampler, job.seed, attrs.get("slot", number), attrs.get("attempt", 0))
            study = optuna.load_study(study_name=job.study_name, storage=store, sampler=sampler, pruner=pruner)
            _train_trial(job, study, base, data, worker, number, trial_id)
    except KeyboardInterrupt as exc:
        with signals_ignored():  # a second signal must not lose the trial half-way through this
            study = study or optuna.load_study(study_name=job.study_name, storage=store)
            reason = "stopped by SIGTERM" if exit_status(exc) == 143 else "interrupted (Ctrl-C)"
            give_back(study, store, trial_id, reason)
        raise


def _train_trial(job: Job, study: Any, base: RunConfig, data: Any, worker: str, number: int, trial_id: int) -> None:
    """Train the claimed trial in `study` and tell the storage how it ended (complete, pruned or failed)."""
    import optuna
    from optuna.trial import TrialState

    # Read the trials once, as Study.ask() does, so the storage's trial cache holds this trial
    # before a queued (fixed) parameter is written (Optuna's cached RDB storage needs that).
    study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    trial = optuna.trial.Trial(study, trial_id)
    trial.set_user_attr("worker", worker)
    try:
        value = _objective(trial, base, data, job)
    except optuna.TrialPruned as exc:
        study.tell(trial, state=TrialState.PRUNED)
        if "invalid" in trial.user_attrs:
            log.info("trial %d: invalid architecture (%s)", number, trial.user_attrs["invalid"])
            _replace_invalid(study, study.trials[number])
        else:
            log.info("trial %d: pruned (%s)", number, exc)
    except Exception as exc:  # noqa: BLE001 - one broken trial must not stop the sweep
        trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:500])
        study.tell(trial, state=TrialState.FAIL)
        log.error("trial %d failed: %s: %s", number, type(exc).__name__, exc, exc_info=not isinstance(exc, CnnlabError))
    else:
        study.tell(trial, value)
        log.info("trial %d: val acc %.4f (run %s)", number, value, trial.user_attrs.get("run_id"))


def _replace_invalid(study: Any, trial: Any) -> None:
    """Queue a fresh trial for an invalid one, unless the space looks hopeless for this image size."""
    invalid = sum("invalid" in t.user_attrs for t in study.get_trials(deepcopy=False))
    cap = max(20, MAX_INVALID_FACTOR * int(study.user_attrs.get(ATTR_TRIALS, 1)))
    if invalid > cap:
        log.warning(
            "more than %d invalid architectures: not replacing trial %d (image size too small for the space?)",
            cap,
            trial.number,
        )
        return
    study.enqueue_trial({}, user_attrs=retry_attrs(trial))


def trial_sampler(kind: str, seed: int, slot: int, attempt: int) -> Any:
    """A sampler for one trial, seeded from (seed, slot, attempt): workers never share a random stream."""
    import optuna

    trial_seed = int(short_hash([seed, slot, attempt], length=8), 16)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=trial_seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=trial_seed, n_startup_trials=N_STARTUP, multivariate=True, group=True, constant_liar=True
        )


class PruningCallback(Callback):
    """Reports each epoch's val acc to the Optuna trial; raises optuna.TrialPruned when the pruner says so.

    Raising (not requesting a stop) aborts the run: a pruned trial writes no run folder.
    """

    def __init__(self, trial: Any) -> None:
        self.trial = trial

    def on_epoch_end(self, state: FitState, row: dict) -> None:
        import optuna

        self.trial.report(row["val_acc"], row["epoch"])
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"val acc {row['val_acc']:.3f} below the median at epoch {row['epoch']}")


class StopCheck(Callback):
    """A safe point after every batch: a stop by signal that was swallowed where Python ignores exceptions
    (a finalizer) ends the trial here, so the trial is given back and the worker exits."""

    def on_batch_end(self, state: FitState, loss: Any) -> None:
        raise_if_stopped()


def _objective(trial: Any, base: RunConfig, data: Any, job: Job) -> float:
    """Train the trial's config; report val acc each epoch (pruning); return the kept model's val acc."""
    import optuna

    from cnnlab.art.run import train_run
    from cnnlab.core.errors import ConfigError
    from cnnlab.core.runs.folders import load_history

    config = suggest_config(trial, base)
    trial.set_user_attr("config", to_dict(config))
    try:
        result = train_run(
            config,
            job.out_root,
            data=data,
            device=job.device,
            callbacks=[PruningCallback(trial), StopCheck(), *job.callbacks],
            write_plot=False,
        )
    except ConfigError as exc:  # the model builder rejected what the space let through
        trial.set_user_attr("invalid", str(exc))
        raise optuna.TrialPruned(str(exc)) from None
    if result.cached:  # no epochs ran: give the pruner this run's curve anyway
        for row in load_history(result.path):
            trial.report(row["val_acc"], row["epoch"])
    s = result.summary
    for key in ("run_id", "epochs_run", "best_epoch", "final_val_acc", "train_seconds"):
        trial.set_user_attr(key, s.get(key))
    trial.set_user_attr("cached", result.cached)
    return float(s["best_val_acc"])
