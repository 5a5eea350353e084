"""Synchronous batches: the same study for any number of workers (`run_sweep(batch=B)`, the default).

Optuna's samplers and pruners read whichever trials have finished when they are asked, so a study run by
several workers at once depends on timing (optuna#253). Here one process owns the study and works in
batches of B trials (B recorded in the study's user attribute `cnnlab_batch`):

1. it asks B trials (ask-and-tell), each with a sampler seeded from (seed, trial number): queued trials
   first (the seeds of the search), then TPE or random draws from the trials told so far;
2. it hands the B trainings to `cnnlab.core.pool.map_jobs` (this process, held or fresh worker processes;
   later a cluster), each job with a frozen snapshot of the curves of the complete trials of *earlier*
   batches, from which the job decides pruning itself (`should_prune`, the median rule);
3. it reports every trial's curve and tells COMPLETE, PRUNED or FAIL in trial order.

Nothing a batch's trials see depends on the order they finish in, so 1, 2 or 3 workers give the same
study: parameters, values, pruned and failed trials. The trials of a running batch beat (heartbeats on
RDB storages); SIGINT and SIGTERM give them back (failed, and a copy queued with the same parameters).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnlab.art.config import RunConfig
from cnnlab.art.sweep.lifecycle import Stopped, give_back, progress, signals_ignored
from cnnlab.art.sweep.space import suggest_config
from cnnlab.core.config import from_dict, to_dict
from cnnlab.core.train.callbacks import Callback, FitState

log = logging.getLogger(__name__)

BATCH = 4  # trials per batch: two rounds of the report's two workers, and TPE updates every 4 trials
ATTR_BATCH = "cnnlab_batch"  # study user attribute: the batch size (0 or absent: a shared study, sweep.worker)
# Replayed over an unpruned 16-trial search of the report's regime (bench/bench_pruning.py, docs/benchmarks.md):
# from 3 earlier complete trials and epoch 12 of 50, pruning stopped 8 trials, none of the top 3, and saved 23 %
# of the epochs (from 5 trials: 15 %); from epoch 1 on it stopped one of the top 3.
PRUNE_STARTUP = 3
MAX_INVALID = 100  # asks in one batch that may draw an untrainable architecture before the batch gives up


@dataclass(frozen=True)
class PruneRule:
    """Median pruning against earlier batches: a trial is stopped at epoch e (e >= warmup, (e - warmup) a
    multiple of interval) when its best validation accuracy so far is below the median at epoch e of the
    complete trials of earlier batches, once there are at least `startup` of them."""

    startup: int = 5
    warmup: int = 1
    interval: int = 1

    def prunes(self, best: float, epoch: int, curves: Sequence[Mapping[int, float]]) -> bool:
        """Whether a trial whose best value up to `epoch` is `best` stops there, given earlier trials' `curves`."""
        if len(curves) < self.startup or epoch < self.warmup or (epoch - self.warmup) % self.interval:
            return False
        at = sorted(c[epoch] for c in curves if epoch in c)
        if not at:
            return False
        mid = len(at) // 2
        median = at[mid] if len(at) % 2 else (at[mid - 1] + at[mid]) / 2
        return best < median


def prune_rule(epochs: int) -> PruneRule:
    """The pruning rule of a batched search of `epochs` epochs per trial: from PRUNE_STARTUP complete trials of
    earlier batches and a quarter of the epochs on, every epoch."""
    return PruneRule(startup=PRUNE_STARTUP, warmup=max(1, epochs // 4), interval=1)


@dataclass(frozen=True)
class TrialTask:
    """One training of a batch (plain data: it crosses process boundaries, and later cluster nodes)."""

    number: int
    config: dict  # to_dict(RunConfig)
    out_root: str
    device: str
    curves: tuple[dict, ...] = ()  # epoch -> val acc of the complete trials of earlier batches
    rule: PruneRule | None = None  # None: no pruning
    callbacks: tuple[Callback, ...] = ()
    pid_dir: str | None = None  # where the training process names itself, so a SIGTERM can be passed on


class _Pruned(Exception):
    def __init__(self, epoch: int) -> None:
        super().__init__(f"pruned at epoch {epoch}")
        self.epoch = epoch


class _BatchPruning(Callback):
    """Records each epoch's validation accuracy; stops the run (no run folder) when the rule says so."""

    def __init__(self, rule: PruneRule | None, curves: Sequence[Mapping[int, float]]) -> None:
        self.rule, self.curves, self.curve = rule, curves, {}

    def on_epoch_end(self, state: FitState, row: dict) -> None:
        self.curve[int(row["epoch"])] = float(row["val_acc"])
        if self.rule is not None and self.rule.prunes(max(self.curve.values()), int(row["epoch"]), self.curves):
            raise _Pruned(int(row["epoch"]))


def replay(rule: PruneRule | None, curve: Mapping[int, float], curves: Sequence[Mapping[int, float]]) -> int | None:
    """The epoch at which `rule` stops a trial with validation curve `curve` (None: it finishes)."""
    best = float("-inf")
    for epoch in sorted(curve):
        best = max(best, curve[epoch])
        if rule is not None and rule.prunes(best, epoch, curves):
            return epoch
    return None


_WORKER_DATA: dict = {}


def fit_trial(task: TrialTask, config: RunConfig, pruning: Callback) -> Any:
    """Train (or reuse) the trial's run with the pruning callback; the decoded data is kept per process."""
    from cnnlab.art.run import prepare_data, train_run

    if config.data not in _WORKER_DATA:
        _WORKER_DATA[config.data] = prepare_data(config)
    return train_run(
        config,
        task.out_root,
        data=_WORKER_DATA[config.data],
        device=task.device,
        callbacks=[pruning, *task.callbacks],
        write_plot=False,
    )


def train_trial(task: TrialTask) -> dict:
    """Train one trial of a batch (in whichever process map_jobs chose): {"state": complete, pruned, invalid or
    failed, "curve": epoch -> val acc, "value", "attrs" (user attributes), "worker": host:pid}."""
    from cnnlab.art.sweep.lifecycle import stop_on_signals
    from cnnlab.core.errors import CnnlabError, ConfigError
    from cnnlab.core.runs.folders import load_history

    me = Path(task.pid_dir, str(os.getpid())) if task.pid_dir else None
    out: dict = {"curve": {}, "attrs": {}, "value": None, "worker": f"{socket.gethostname()}:{os.getpid()}"}
    config = from_dict(RunConfig, task.config)
    pruning = _BatchPruning(task.rule, task.curves)
    try:
        with stop_on_signals():
            if me is not None:
                try:
                    me.touch()
                except OSError:  # the folder is gone: the batch was stopped before this training started
                    raise Stopped(signal.SIGTERM) from None
            result = fit_trial(task, config, pruning)
    except _Pruned as exc:
        return {**out, "state": "pruned", "curve": pruning.curve, "note": f"pruned at epoch {exc.epoch}"}
    except ConfigError as exc:  # the model builder rejected what the space let through
        return {**out, "state": "invalid", "attrs": {"invalid": str(exc)}}
    except Exception as exc:  # noqa: BLE001 - one broken trial must not stop the sweep
        if not isinstance(exc, CnnlabError):
            log.exception("trial %d failed", task.number)
        return {**out, "state": "failed", "attrs": {"error": f"{type(exc).__name__}: {exc}"[:500]}}
    finally:
        if me is not None:
            me.unlink(missing_ok=True)
    curve = {int(r["epoch"]): float(r["val_acc"]) for r in load_history(result.path) if r.get("epoch")}
    s = result.summary
    attrs = {k: s.get(k) for k in ("run_id", "epochs_run", "best_epoch", "final_val_acc", "train_seconds")}
    attrs["cached"] = result.cached
    stop = replay(task.rule, curve, task.curves) if result.cached else None  # a cached run: replay the rule
    if stop is not None:
        kept = {e: v for e, v in curve.items() if e <= stop}
        return {**out, "state": "pruned", "curve": kept, "note": f"pruned at epoch {stop}"}
    return {**out, "state": "complete", "curve": curve, "value": float(s["best_val_acc"]), "attrs": attrs}


# ----------------------------------------------------------------------------- the owner of the study
@dataclass
class BatchRun:
    """What the owner of a batched study needs besides the storage."""

    study_name: str
    base: RunConfig
    out_root: str
    seed: int
    sampler: str
    device: str
    rule: PruneRule | None
    workers: int
    threads: int
    batch: int = BATCH
    callbacks: tuple[Callback, ...] = ()
    stats: dict = field(default_factory=dict)


def run_batches(run: BatchRun, store: Any, sampler_for: Any) -> int:
    """Ask, train and tell batches until the study holds its target of finished trials; returns trials run.
    `sampler_for(slot)` makes the sampler of the trial asked when the study holds `slot` trials."""
    import optuna

    from cnnlab.art.sweep.worker import ATTR_TRIALS

    ran = 0
    while True:
        study = optuna.load_study(study_name=run.study_name, storage=store)
        trials = study.get_trials(deepcopy=False)
        target = int(study.user_attrs.get(ATTR_TRIALS, 0))
        need = target - progress(trials).finished
        if need <= 0:
            return ran
        done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        curves = tuple({int(k): float(v) for k, v in t.intermediate_values.items()} for t in done)
        asked = _ask(run, store, sampler_for, min(run.batch, need))
        if not asked:
            log.warning("no trainable trial could be drawn; stopping with %d of %d trials", target - need, target)
            return ran
        _train_and_tell(run, store, asked, curves)
        ran += len(asked)


def _ask(run: BatchRun, store: Any, sampler_for: Any, n: int) -> list[tuple[Any, Any, RunConfig]]:
    """Ask `n` trainable trials (queued ones first); an untrainable draw is told PRUNED ("invalid") at once."""
    import optuna
    from optuna.trial import TrialState

    asked: list = []
    for _ in range(n + MAX_INVALID):
        if len(asked) == n:
            break
        slot = len(store.get_all_trials(store.get_study_id_from_name(run.study_name), deepcopy=False))
        study = optuna.load_study(study_name=run.study_name, storage=store, sampler=sampler_for(slot))
        with warnings.catch_warnings():  # heartbeats are recorded here (_train_and_tell), not by Study.optimize
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            trial = study.ask()
        try:
            config = suggest_config(trial, run.base)
        except optuna.TrialPruned:
            log.info("trial %d: invalid architecture (%s)", trial.number, trial.user_attrs.get("invalid"))
            study.tell(trial, state=TrialState.PRUNED)
            continue
        trial.set_user_attr("config", to_dict(config))
        asked.append((study, trial, config))
    return asked


def _trial_id(store: Any, study_name: str, number: int) -> int:
    """The storage's id of trial `number` (what heartbeats and give-backs address)."""
    return store.get_trial_id_from_study_id_trial_number(store.get_study_id_from_name(study_name), number)


@contextlib.contextmanager
def _passing_signals_on(pid_dir: Path) -> Iterator[None]:
    """SIGTERM raises Stopped here, after passing the signal on to the processes training this batch (named
    by files in `pid_dir`): a pool's shutdown would otherwise wait for their trainings to end."""

    def stop(signum: int, _frame: Any) -> None:
        for f in list(pid_dir.iterdir()) if pid_dir.is_dir() else []:
            if f.name.isdigit() and int(f.name) != os.getpid():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(f.name), signum)
        shutil.rmtree(pid_dir, ignore_errors=True)  # a training that starts from now on runs nothing
        raise Stopped(signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _train_and_tell(run: BatchRun, store: Any, asked: list, curves: tuple[dict, ...]) -> None:
    """Train the asked trials through map_jobs and tell them in trial order; a signal gives them back."""
    from optuna.trial import TrialState

    from cnnlab.art.sweep.lifecycle import exit_status
    from cnnlab.art.sweep.storage import heartbeat_thread
    from cnnlab.core.pool import map_jobs

    pid_dir = Path(tempfile.mkdtemp(prefix="cnnlab-batch-"))
    tasks = [
        (
            TrialTask(
                trial.number,
                to_dict(config),
                run.out_root,
                run.device,
                curves,
                run.rule,
                run.callbacks,
                str(pid_dir) if run.workers > 1 else None,
            ),
        )
        for _, trial, config in asked
    ]
    try:
        with contextlib.ExitStack() as beats, _passing_signals_on(pid_dir):
            for _, trial, _ in asked:
                beats.enter_context(heartbeat_thread(store, _trial_id(store, run.study_name, trial.number)))
            results = map_jobs(train_trial, tasks, min(run.workers, len(tasks)), run.threads)
    except KeyboardInterrupt as exc:
        reason = "stopped by SIGTERM" if exit_status(exc) == 143 else "interrupted (Ctrl-C)"
        with signals_ignored():  # a second signal must not lose a trial half-way through this
            for study, trial, _ in asked:
                give_back(study, store, _trial_id(store, run.study_name, trial.number), reason)
        raise
    finally:
        shutil.rmtree(pid_dir, ignore_errors=True)
    for (study, trial, _), out in zip(asked, results):
        for epoch, value in sorted(out["curve"].items()):
            trial.report(value, int(epoch))
        trial.set_user_attr("worker", out["worker"])
        for key, value in out["attrs"].items():
            trial.set_user_attr(key, value)
        state = out["state"]
        if state == "complete":
            study.tell(trial, out["value"])
            log.info("trial %d: val acc %.4f (run %s)", trial.number, out["value"], out["attrs"].get("run_id"))
        elif state == "failed":
            study.tell(trial, state=TrialState.FAIL)
            log.error("trial %d failed: %s", trial.number, out["attrs"].get("error"))
        else:  # pruned, or invalid (the model builder refused it)
            study.tell(trial, state=TrialState.PRUNED)
            log.info("trial %d: %s", trial.number, out.get("note") or out["attrs"].get("invalid"))
