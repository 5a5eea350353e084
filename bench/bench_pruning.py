"""Benchmark: how often would median pruning stop a trial that would have finished in the top 3?

Runs the report's 1.6 search without pruning (every trial trains to its end: early stopping on validation
accuracy, as in SEARCH_REGIME), in batches as the report does, then replays each pruning rule over the
finished curves in batch order: a trial is stopped at the first epoch the rule fires against the trials of
earlier batches that the same rule let complete. For each rule it prints the trials stopped, the would-be
top 3 (by best validation accuracy) among them, and the share of training epochs saved.

    python bench/bench_pruning.py [--trials 24] [--workers 2] [--data FOLDER] [--out DIR] [--seed 0]
    python bench/bench_pruning.py --out DIR --replay      # replay the rules over DIR's study again, no training
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path


def simulate(curves: list[dict[int, float]], rule, batch: int) -> list[int | None]:
    """Per trial (in trial order), the epoch `rule` stops it at, against earlier batches' completed trials."""
    from cnnlab.art.sweep.batch import replay

    stops: list[int | None] = []
    for start in range(0, len(curves), batch):
        done = tuple(c for c, s in zip(curves[:start], stops) if s is None)
        stops += [replay(rule, c, done) for c in curves[start : start + batch]]
    return stops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", default=None, help="a Part 1 image folder (default: the embedded synthetic set)")
    parser.add_argument("--out", default=None, help="runs folder (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replay", action="store_true", help="only replay the rules over --out's finished study")
    args = parser.parse_args()

    import optuna

    from cnnlab.art.config import DataConfig, RunConfig
    from cnnlab.art.suites.common import with_overrides
    from cnnlab.art.suites.definitions import SEARCH_REGIME
    from cnnlab.art.sweep.batch import BATCH, PRUNE_STARTUP, PruneRule
    from cnnlab.art.sweep.storage import open_storage
    from cnnlab.art.sweep.study import run_sweep

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = RunConfig() if args.data is None else RunConfig(data=DataConfig(name=args.data))
    base = with_overrides(base, SEARCH_REGIME)
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-pruning-"))
    storage = f"sqlite:///{out / 'optuna.db'}"
    if not args.replay:
        run_sweep(
            study_name="pruning",
            storage=storage,
            trials=args.trials,
            workers=args.workers,
            base=base,
            out_root=out,
            seed=args.seed,
            prune=False,
        )
    study = optuna.load_study(study_name="pruning", storage=open_storage(storage, heartbeat=False))
    done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    curves = [{int(k): float(v) for k, v in t.intermediate_values.items()} for t in done]
    values = [t.value for t in done]
    top3 = set(sorted(range(len(done)), key=lambda i: (-values[i], i))[:3])
    epochs = base.train.epochs
    total = sum(len(c) for c in curves)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    chance = sum(v < 1.5 / 11 for v in values)
    print(f"commit {commit}; {len(done)} complete trials of {epochs} epochs max (early stopping), batch {BATCH}")
    print(f"at chance (best validation accuracy below 1.5/11): {chance} of {len(done)}")
    print(f"top 3: trials {sorted(done[i].number for i in top3)} at {sorted((values[i] for i in top3), reverse=True)}")
    print(f"(the rule: startup {PRUNE_STARTUP}, warm-up {max(1, epochs // 4)}, interval 1)")
    print(f"{'startup':>8}{'warm-up':>8}{'interval':>9}{'stopped':>9}{'top-3 stopped':>15}{'epochs saved':>14}")
    settings = [(n, w, i) for n in (5, 3) for w in (1, max(1, epochs // 4), epochs // 3, epochs // 2) for i in (1, 5)]
    for startup, warmup, interval in settings:
        rule = PruneRule(startup=startup, warmup=warmup, interval=interval)
        stops = simulate(curves, rule, BATCH)
        stopped = [i for i, s in enumerate(stops) if s is not None]
        saved = sum(sum(1 for e in curves[i] if e > stops[i]) for i in stopped)
        print(
            f"{startup:>8}{warmup:>8}{interval:>9}{len(stopped):>9}{len(top3 & set(stopped)):>15}{saved / max(total, 1):>13.0%}"
        )


if __name__ == "__main__":
    main()
