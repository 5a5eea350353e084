"""`cnnlab sweep`: the distributed Optuna search (1.6)."""

from __future__ import annotations

import argparse
import logging

from cnnlab.cli.cluster import add_cluster_arg
from cnnlab.cli.common import (
    add_config_args,
    add_device_arg,
    add_out_arg,
    add_tensorboard_arg,
    add_threads_arg,
    resolve_run_config,
    tensorboard_callbacks,
    tensorboard_done,
)
from cnnlab.core.errors import CnnlabError

log = logging.getLogger("cnnlab")
# Defaults of cnnlab.art.sweep.storage (HEARTBEAT, MAX_RETRY), not imported: importing it imports Optuna,
# which the other commands' --help must not pay for. tests/test_sweep_shared.py checks that they agree.
HEARTBEAT, MAX_RETRY = (30, 120), 2
BATCH = 4  # cnnlab.art.sweep.batch.BATCH, not imported for the same reason (tests/art/test_sweep_batch.py checks it)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `cnnlab` parser."""
    _add_sweep(sub)


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep", help="Optuna hyperparameter search on validation accuracy, shareable by many workers/machines"
    )
    add_config_args(p)  # base config; --seed is the training seed, --epochs the epochs per trial
    p.add_argument("--trials", type=int, help="total trials of the study, shared by all workers (rerun to resume)")
    p.add_argument(
        "--storage",
        help="sqlite:///file.db, postgresql://user:pw@host/db or a journal file *.log "
        "(default: sqlite:///<out>/optuna.db)",
    )
    p.add_argument("--study", default="cnnlab", help="study name (default: cnnlab)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default: 1)")
    p.add_argument(
        "--batch",
        type=int,
        default=BATCH,
        metavar="B",
        help=f"trials per synchronous batch: this command owns the study, and any --workers give the same study "
        f"(default: {BATCH}); 0: a shared study that `cnnlab sweep` commands on many machines work on together",
    )
    add_threads_arg(p, "per worker")
    add_cluster_arg(p)  # the workers' trainings on a Dask cluster
    p.add_argument(
        "--heartbeat-interval",
        type=int,
        default=HEARTBEAT[0],
        metavar="S",
        help=f"seconds between a running trial's heartbeats in a database storage (default: {HEARTBEAT[0]})",
    )
    p.add_argument(
        "--grace-period",
        type=int,
        default=HEARTBEAT[1],
        metavar="S",
        help=f"seconds without heartbeat after which a trial's worker counts as dead: a surviving worker "
        f"fails the trial and runs it again, so a lost trial waits about this long (default: {HEARTBEAT[1]}; "
        "use the same values on every host)",
    )
    p.add_argument(
        "--max-retry",
        type=int,
        default=MAX_RETRY,
        metavar="N",
        help=f"times a trial whose worker died is run again before it is failed for good (default: {MAX_RETRY}); "
        "Ctrl-C and SIGTERM give the trial back at once without counting",
    )
    p.add_argument("--sampler-seed", type=int, help="TPE sampler seed (default: the training seed, else 0)")
    p.add_argument("--no-prune", action="store_true", help="no median pruning")
    p.add_argument("--sampler", choices=("tpe", "random"), default="tpe", help="TPE (default) or random search")
    add_out_arg(p, "each trial's run goes to <out>/<run id>/, the default study to <out>/optuna.db")
    add_device_arg(p)
    add_tensorboard_arg(p)
    p.add_argument("--show", action="store_true", help="only print the study's results; run nothing")
    p.add_argument("--top", type=int, default=10, help="trials listed, best first (default: 10)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=_run_sweep)


def _run_sweep(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from cnnlab.art.sweep.storage import Liveness, dashboard_command
    from cnnlab.art.sweep.study import default_storage, load_sweep, run_sweep

    storage = args.storage or default_storage(Path(args.out))
    stream = sys.stderr if args.json else sys.stdout  # --json keeps stdout one JSON document
    dashboard = f'watch the study: {dashboard_command(storage)}  (pip install -e ".[dashboard]")'
    if args.show:
        result = load_sweep(args.study, storage)
    else:
        if args.trials is None or args.trials < 1:
            raise CnnlabError(
                f"--trials must be a positive integer, got {args.trials}"
                if args.trials is not None
                else "--trials is required (or --show to print a study)"
            )
        if args.workers < 1:
            raise CnnlabError("--workers must be a positive integer")
        liveness = Liveness(args.heartbeat_interval, args.grace_period, args.max_retry)
        config = resolve_run_config(args)
        seed = args.sampler_seed if args.sampler_seed is not None else (args.seed or 0)
        callbacks = tensorboard_callbacks(args, args.out)
        print(dashboard, file=stream, flush=True)
        result = run_sweep(
            study_name=args.study,
            storage=args.storage,
            trials=args.trials,
            workers=args.workers,
            base=config,
            out_root=Path(args.out),
            seed=seed,
            prune=not args.no_prune,
            sampler=args.sampler,
            threads=args.threads,
            device=args.device,
            callbacks=callbacks,
            liveness=liveness,
            batch=args.batch,
        )
    _print_result(result, args)
    if not args.show:
        trial_runs = (Path(args.out) / str(t["run_id"]) for t in result.trials if t["run_id"])
        tensorboard_done(args, args.out, [p for p in trial_runs if p.is_dir()], stream=stream)
    print(dashboard, file=stream)
    return 0


def _print_result(result, args: argparse.Namespace) -> None:
    from cnnlab.core.io import json_text

    if args.json:
        print(json_text(result.to_dict(), indent=2, default=str))
        return
    print(f"study {result.study_name!r} in {result.storage}")
    # No target: a study that `cnnlab sweep` did not set up, or whose creator stopped before queuing its trials.
    head = (
        f"{result.n_finished} of {result.target} trials finished"
        if result.target is not None
        else f"{result.n_finished} trials finished (no target: the study was not set up by `cnnlab sweep`)"
    )
    print(
        f"{head}: {result.n_complete} complete, {result.n_pruned} pruned, "
        f"{result.n_failed} failed; {result.n_invalid} invalid architectures replaced; "
        f"{result.n_running} running, {result.n_waiting} waiting"
    )
    if result.best_trial is None:
        print("no complete trial yet")
        return
    print(f"best: trial {result.best_trial}, val acc {result.best_value:.4f}, run {result.best_run_id}")
    for key, value in result.best_params.items():
        print(f"  {key} = {value:.4g}" if isinstance(value, float) else f"  {key} = {value}")
    done = sorted((t for t in result.trials if t["status"] == "complete"), key=lambda t: (-t["value"], t["number"]))
    print(f"{'trial':>6}{'val_acc':>9}{'epochs':>8}{'seconds':>9}  run")
    for t in done[: max(0, args.top)]:
        print(f"{t['number']:>6}{t['value']:>9.4f}{t['epochs']:>8}{t['duration'] or 0:>9.1f}  {t['run_id']}")
