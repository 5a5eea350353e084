"""Simulator: a finished report's recorded run times replayed through N one-core workers.

Reads a runs folder written by `cnnlab report` (summary.json of every run: prep_seconds + train_seconds +
wall_seconds, the time one worker spends on that run) and the report's dependencies: the suites run one
after another in the report's order (1.2-1.7), each suite's runs a batch that must finish before the next
starts (a `map_jobs` call); the search's trials in sequential batches of --search-batch (the deterministic
ask-and-tell batches of the search), then its best model's repeats; then Part 2's runs, one batch per run
kind. Within a batch the runs go, in the recorded order, to whichever worker is free first (as Dask and
the process pool hand them out). Prints the predicted wall time of the runs for N = 1, 2, 4, 8, 16, 32
(plus --serial seconds of the client's own work: data, figures, the .tex) and the critical path (every
batch's longest run: no number of workers is faster).

    python bench/simulate_cluster.py RUNS_FOLDER [--search-batch 4] [--serial 0] [--overhead 0.05]
"""

from __future__ import annotations

import argparse
import heapq
import json
from pathlib import Path

SUITE_ORDER = ("baseline", "pooling", "regularization", "architecture", "search", "controls", "robustness")
WORKERS = (1, 2, 4, 8, 16, 32)


def run_seconds(summary: dict) -> float:
    """One worker's time on a run: preparing, training, writing."""
    return sum(float(summary.get(k) or 0.0) for k in ("prep_seconds", "train_seconds", "wall_seconds"))


def load_runs(root: Path) -> dict[str, tuple[float, str, float]]:
    """run id -> (seconds, kind, finish time) of every finished run folder below `root`."""
    runs = {}
    for summary_path in root.rglob("summary.json"):
        try:
            summary = json.loads(summary_path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(summary, dict) and summary.get("run_id") == summary_path.parent.name:
            runs[summary["run_id"]] = (
                run_seconds(summary),
                str(summary.get("kind", "?")),
                summary_path.stat().st_mtime,
            )
    return runs


def _ids(obj: object) -> list[str]:
    """Every run id named in a suite.json value ("run_id"/"run_ids" keys, at any depth), in order."""
    found: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "run_id" and isinstance(value, str):
                found.append(value)
            elif key == "run_ids" and isinstance(value, list):
                found += [v for v in value if isinstance(v, str)]
            else:
                found += _ids(value)
    elif isinstance(obj, list):
        for value in obj:
            found += _ids(value)
    return found


def batches(root: Path, runs: dict[str, tuple[float, str, float]], search_batch: int) -> list[tuple[str, list[str]]]:
    """The report's dependencies as a sequence of (name, run ids) batches."""
    out, claimed = [], set()
    for suite in SUITE_ORDER:
        path = root / "suites" / suite / "suite.json"
        if not path.is_file():
            continue
        meta = json.loads(path.read_text())
        rows = [r for r in dict.fromkeys(_ids(meta.get("rows", []))) if r in runs and r not in claimed]
        extra = [
            r
            for r in dict.fromkeys(_ids({k: v for k, v in meta.items() if k != "rows"}))
            if r in runs and r not in claimed and r not in rows
        ]
        if suite == "search" and extra:  # the trials, batch after batch, then the best model's repeats
            extra.sort(key=lambda r: runs[r][2])
            claimed.update(extra)
            for i in range(0, len(extra), search_batch):
                out.append((f"search trials {i + 1}-{min(i + search_batch, len(extra))}", extra[i : i + search_batch]))
            extra = []
        if rows or extra:
            out.append((suite, extra + rows))
        claimed.update(rows, extra)
    rest = sorted((r for r in runs if r not in claimed), key=lambda r: runs[r][2])
    for kind in dict.fromkeys(runs[r][1] for r in rest):  # Part 2 and anything else: one batch per kind
        out.append((f"other: {kind}", [r for r in rest if runs[r][1] == kind]))
    return out


def makespan(seconds: list[float], workers: int, overhead: float) -> float:
    """Greedy list scheduling in order: each run to the worker free first."""
    free = [0.0] * workers
    for s in seconds:
        heapq.heapreplace(free, free[0] + s + overhead)
    return max(free)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="the runs folder of a finished `cnnlab report`")
    parser.add_argument("--search-batch", type=int, default=4, help="trials per search batch (default 4)")
    parser.add_argument("--serial", type=float, default=0.0, help="seconds of the client's own work to add")
    parser.add_argument("--overhead", type=float, default=0.0, help="seconds added to every run (dispatch)")
    parser.add_argument("--verbose", action="store_true", help="print every batch")
    args = parser.parse_args()
    runs = load_runs(args.runs)
    if not runs:
        raise SystemExit(f"no finished runs in {args.runs}")
    plan = batches(args.runs, runs, max(1, args.search_batch))
    total = sum(s for s, _, _ in runs.values())
    print(f"{len(runs)} runs, {total:.1f} s of run time in {len(plan)} batches; serial client work {args.serial:.1f} s")
    if args.verbose:
        for name, ids in plan:
            times = [runs[r][0] for r in ids]
            print(f"  {name:<28} {len(ids):4d} runs  {sum(times):8.1f} s  longest {max(times):6.1f} s")
    critical = sum(max(runs[r][0] for r in ids) for _, ids in plan)
    for n in WORKERS:
        wall = sum(makespan([runs[r][0] for r in ids], n, args.overhead) for _, ids in plan) + args.serial
        print(
            f"N = {n:2d}: predicted {wall:8.1f} s ({wall / 60:5.1f} min)  speed-up {(total + args.serial) / wall:5.2f}x"
        )
    print(
        f"critical path (every batch's longest run) {critical + args.serial:.1f} s ({(critical + args.serial) / 60:.1f} min)"
    )
    longest = sorted(plan, key=lambda b: -max(runs[r][0] for r in b[1]))[:3]
    print("bounded by: " + "; ".join(f"{name} ({max(runs[r][0] for r in ids):.1f} s)" for name, ids in longest))


if __name__ == "__main__":
    main()
