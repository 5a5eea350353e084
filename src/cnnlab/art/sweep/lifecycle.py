"""The life of a sweep trial when workers die or are stopped: retries, give-backs, signals, progress.

- A worker that dies (kill -9, the OOM killer, a machine switched off) stops recording its trial's
  heartbeat. After the grace period the next worker that calls `optuna.storages.fail_stale_trials`
  fails the trial, and `RetryLostTrial` (Optuna's RetryHeartbeatStaleTrialCallback) queues a copy with
  the same parameters, at most `max_retry` times; then the trial stays failed, with the reason in the
  study's user attribute `gave_up_key(number)`, and the sweep goes on.
- A worker that is stopped (SIGINT, SIGTERM) gives its trial back at once (`give_back`): failed with
  the reason, and a copy queued that does not count as a retry. `stop_on_signals` (cnnlab.core.processes)
  turns both signals into `Stopped` (a KeyboardInterrupt), raised once and never lost in a finalizer;
  workers also check for it at safe points (each batch, each claim); the exit status is 130 or 143.
- `progress` counts what a study asked for: finished trials (complete, pruned, failed for good), not
  invalid draws or trials that a copy replaced. Workers stop when it reaches the target.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import warnings
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

# The stop by signal is cnnlab.core.processes's, for every command; named here as the sweep has always named it.
from cnnlab.core.processes import Stopped, exit_status, raise_if_stopped, signals_ignored, stop_on_signals

__all__ = [
    "GAVE_UP_PREFIX",
    "Progress",
    "RetryLostTrial",
    "Stopped",
    "exit_status",
    "gave_up_key",
    "give_back",
    "progress",
    "raise_if_stopped",
    "replaced_numbers",
    "retry_attrs",
    "signals_ignored",
    "stop_on_signals",
    "trial_params",
    "trial_status",
]

log = logging.getLogger(__name__)

GAVE_UP_PREFIX = "cnnlab_gave_up_"  # study user attribute per trial failed for good: the reason


def gave_up_key(number: int) -> str:
    """The study user attribute that holds why trial `number` was not run again."""
    return f"{GAVE_UP_PREFIX}{number}"


def retry_attrs(trial: Any) -> dict:
    """User attributes of a trial queued to replace `trial`: same slot (sampler seed), next attempt."""
    return {
        "replaces": trial.number,
        "slot": trial.user_attrs.get("slot", trial.number),
        "attempt": trial.user_attrs.get("attempt", 0) + 1,
        "lost": trial.user_attrs.get("lost", 0),
    }


def trial_params(trial: Any) -> dict:
    """The parameters a retry of `trial` must reuse: those it drew plus those it was queued with."""
    return {**trial.system_attrs.get("fixed_params", {}), **trial.params}


def _retry_copy(trial: Any, lost: int) -> Any:
    """`trial` as the template of its retry: our bookkeeping attributes only (not "worker", "config", ...)."""
    template = copy.deepcopy(trial)
    template.user_attrs = {**retry_attrs(trial), "lost": lost}
    return template


class RetryLostTrial(RetryHeartbeatStaleTrialCallback):
    """Heartbeat-stale callback: queue the lost trial again with the same parameters, up to `max_retry`
    times; past that, record why in the study (`gave_up_key`) and leave the trial failed."""

    def __init__(self, max_retry: int, grace: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            super().__init__(max_retry=max_retry)
        self.grace = grace

    def __call__(self, study: Any, trial: Any) -> None:
        lost = len(trial.system_attrs.get("retry_history", [])) + 1  # times a worker died on these parameters
        if lost > (self._max_retry or 0):
            reason = (
                f"its worker died {lost} time{'s' if lost > 1 else ''} (no heartbeat for {self.grace} s); "
                f"retry limit {self._max_retry} reached"
            )
            study.set_user_attr(gave_up_key(trial.number), reason)
            log.error("trial %d: %s; failed for good, the sweep goes on", trial.number, reason)
            return
        super().__call__(study, _retry_copy(trial, lost))
        log.warning(
            "trial %d lost its worker (no heartbeat for %d s); queued again (retry %d of %d)",
            trial.number,
            self.grace,
            lost,
            self._max_retry,
        )


def give_back(study: Any, store: Any, trial_id: int, reason: str) -> None:
    """Fail the claimed trial `trial_id` (of `study`, in storage `store`) with `reason` and queue a copy at
    once (not counted as a retry)."""
    with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
        store.set_trial_user_attr(trial_id, "interrupted", reason)
    try:
        if not store.set_trial_state_values(trial_id, state=TrialState.FAIL):
            return
    except optuna.exceptions.UpdateFinishedTrialError:
        return  # another worker failed it meanwhile (and queued its retry)
    trial = store.get_trial(trial_id)
    template = _retry_copy(trial, trial.user_attrs.get("lost", 0))
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.WAITING,
            params=template.params,
            distributions=template.distributions,
            user_attrs=template.user_attrs,
            system_attrs=dict(trial.system_attrs),
        )
    )
    log.warning("trial %d %s; queued again", trial.number, reason)


# ----------------------------------------------------------------------------- progress
def trial_status(t: Any, replaced: set[int]) -> str:
    """complete, pruned, failed, invalid, replaced, running or waiting; `replaced`: numbers a copy replaces."""
    if t.state == TrialState.PRUNED:
        return "invalid" if "invalid" in t.user_attrs else "pruned"
    if t.state == TrialState.FAIL:
        return "replaced" if t.number in replaced else "failed"
    return {TrialState.WAITING: "waiting", TrialState.RUNNING: "running", TrialState.COMPLETE: "complete"}[t.state]


def replaced_numbers(trials: Any) -> set[int]:
    """Numbers of the trials that a queued copy replaces (invalid draws, lost or stopped trials)."""
    return {t.user_attrs["replaces"] for t in trials if "replaces" in t.user_attrs}


@dataclass(frozen=True)
class Progress:
    """Where a study stands: trials finished for good (what --trials counts), running, waiting."""

    finished: int
    running: int
    waiting: int


def progress(trials: Any) -> Progress:
    """Count `trials` by what they mean for the study's target."""
    replaced = replaced_numbers(trials)
    status = [trial_status(t, replaced) for t in trials]
    return Progress(
        finished=sum(s in ("complete", "pruned", "failed") for s in status),
        running=status.count("running"),
        waiting=status.count("waiting"),
    )
