"""Simulator: a finished report's recorded run times replayed through N one-core workers.

Reads a runs folder written by `cnnlab report` (summary.json of every run: prep_seconds + train_seconds +
wall_seconds, the time one worker spends on that run) and replays the report's schedule:

- `local` (`--jobs N`, and a cluster of fewer workers than cnnlab.core.ahead's minimum): the stages one
  after another, each a batch that ends before the next starts (a `map_jobs` call): the suites in the
  report's order (1.2-1.7), the search's trials in sequential batches of --search-batch (its deterministic
  ask-and-tell batches) and then its best model's repeats, then Part 2's runs, one batch per run kind.
- `cluster` (`--cluster` with at least that many workers): the same stages, plus the ones cnnlab starts
  ahead in a second client (cnnlab.core.ahead) at a lower Dask priority: Part 2 from the start, 1.4 and 1.5
  when 1.2 starts (the search waits for them), 1.7's robustness when its controls start. Each early client
  starts --ahead-start seconds after it is asked for (a Python and torch start-up).

Within the ready tasks a free worker takes the highest priority first, then the oldest (as Dask's
scheduler does). The client's own serial work (the figures and LaTeX: --serial, by default read from the
"stage seconds" line of the newest report log in RUNS/logs) is added at the end. Prints the predicted wall
time for N = 1, 2, 4, 8, 16, 32 and the critical path (the same schedule on unlimited workers).

    python bench/simulate_cluster.py RUNS_FOLDER [--search-batch 4] [--serial S] [--schedule auto|local|cluster]
"""

from __future__ import annotations

import argparse
import heapq
import json
from dataclasses import dataclass, field
from pathlib import Path

SUITE_ORDER = ("baseline", "pooling", "regularization", "architecture", "search", "controls", "robustness")
WORKERS = (1, 2, 4, 8, 16, 32)
AHEAD_MIN_WORKERS = 4  # cnnlab.core.ahead.DEFAULT_MIN_WORKERS
SERIAL_STAGES = ("Part 1 figures", "Part 2 figures", "LaTeX")  # the client's work after the runs
UNLIMITED = 100_000


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
    """The report's stages as a sequence of (name, run ids) batches."""
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


@dataclass
class Stream:
    """One client's sequence of steps: ("runs", seconds...), ("start", stream), ("wait", stream)."""

    name: str
    priority: int
    steps: list[tuple[str, object]]
    at: int = 0  # next step
    left: int = 0  # tasks of the current "runs" step still to finish
    active: bool = False
    done: bool = False
    waiting: str | None = None


def plan_streams(plan: list[tuple[str, list[float]]], ahead: bool) -> dict[str, Stream]:
    """The report's clients as streams: one (`ahead` false), or the command plus its early clients."""
    named = dict(plan)
    if not ahead:
        return {"main": Stream("main", 0, [("runs", seconds) for _, seconds in plan], active=True)}
    part2 = [seconds for name, seconds in plan if name.startswith("other: ")]
    early1 = [named.get(n, []) for n in ("regularization", "architecture")]
    main: list[tuple[str, object]] = [("start", "part2"), ("start", "suites")]
    for name, seconds in plan:
        if name in ("regularization", "architecture", "robustness") or name.startswith("other: "):
            continue
        if name == "controls":
            main.append(("start", "robustness"))
        if name.startswith("search trials 1-"):
            main.append(("wait", "suites"))
        main.append(("runs", seconds))
    main += [("wait", "robustness"), ("wait", "suites"), ("wait", "part2")]
    return {
        "main": Stream("main", 0, main, active=True),
        "part2": Stream("part2", -1, [("runs", s) for s in part2]),
        "suites": Stream("suites", -1, [("runs", s) for s in early1]),
        "robustness": Stream("robustness", -1, [("runs", named.get("robustness", []))]),
    }


@dataclass(order=True)
class _Event:
    time: float
    order: int
    what: str = field(compare=False)  # "task" (a worker freed) or "start" (an early client begins)
    stream: str = field(compare=False)


def simulate(streams: dict[str, Stream], workers: int, overhead: float, ahead_start: float) -> float:
    """Wall time of the runs: free workers take ready tasks by priority, then age."""
    ready: list[tuple[int, int, float, str]] = []  # (-priority, order, seconds, stream)
    events: list[_Event] = []
    counter = [0]
    free, now = workers, 0.0

    def push(kind: str, at: float, stream: str) -> None:
        counter[0] += 1
        heapq.heappush(events, _Event(at, counter[0], kind, stream))

    def advance(s: Stream) -> None:
        while s.active and not s.done and s.left == 0 and s.waiting is None:
            if s.at == len(s.steps):
                s.done = True
                for other in streams.values():
                    if other.waiting == s.name:
                        other.waiting = None
                        advance(other)
                return
            kind, arg = s.steps[s.at]
            s.at += 1
            if kind == "start":
                push("start", now + ahead_start, str(arg))
            elif kind == "wait":
                if not streams[str(arg)].done:
                    s.waiting = str(arg)
            else:
                for seconds in arg:  # type: ignore[union-attr]
                    counter[0] += 1
                    heapq.heappush(ready, (-s.priority, counter[0], float(seconds), s.name))
                    s.left += 1

    for s in list(streams.values()):
        advance(s)
    while True:
        while free and ready:
            _, _, seconds, name = heapq.heappop(ready)
            free -= 1
            push("task", now + seconds + overhead, name)
        if not events:
            break
        event = heapq.heappop(events)
        now = event.time
        s = streams[event.stream]
        if event.what == "task":
            free += 1
            s.left -= 1
        else:
            s.active = True
        advance(s)
    stuck = [s.name for s in streams.values() if not s.done]
    if stuck:
        raise RuntimeError(f"the schedule never ends: {stuck}")
    return now


def serial_from_log(root: Path) -> float | None:
    """Seconds of the client's serial stages, from the "stage seconds" line of the newest report log."""
    for log in sorted((root / "logs").glob("report-*.log"), reverse=True):
        lines = [line for line in log.read_text(errors="replace").splitlines() if "stage seconds: " in line]
        if lines:
            times = json.loads(lines[-1].split("stage seconds: ", 1)[1])
            return sum(float(times.get(name, 0.0)) for name in SERIAL_STAGES)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="the runs folder of a finished `cnnlab report`")
    parser.add_argument("--search-batch", type=int, default=4, help="trials per search batch (default 4)")
    parser.add_argument("--serial", type=float, default=None, help="seconds of the client's own work (default: log)")
    parser.add_argument("--overhead", type=float, default=0.0, help="seconds added to every run (dispatch)")
    parser.add_argument("--ahead-start", type=float, default=5.0, help="seconds an early client takes to start")
    parser.add_argument(
        "--schedule",
        choices=("auto", "local", "cluster"),
        default="auto",
        help=f"local: stage after stage; cluster: with the stages started ahead; auto: cluster from "
        f"{AHEAD_MIN_WORKERS} workers (default)",
    )
    parser.add_argument("--verbose", action="store_true", help="print every batch")
    args = parser.parse_args()
    runs = load_runs(args.runs)
    if not runs:
        raise SystemExit(f"no finished runs in {args.runs}")
    plan = batches(args.runs, runs, max(1, args.search_batch))
    times = [(name, [runs[r][0] for r in ids]) for name, ids in plan]
    serial = args.serial if args.serial is not None else serial_from_log(args.runs) or 0.0
    total = sum(s for s, _, _ in runs.values())
    print(f"{len(runs)} runs, {total:.1f} s of run time in {len(plan)} batches; serial client work {serial:.1f} s")
    if args.verbose:
        for name, seconds in times:
            print(f"  {name:<28} {len(seconds):4d} runs  {sum(seconds):8.1f} s  longest {max(seconds):6.1f} s")

    def predict(n: int) -> tuple[str, float]:
        ahead = args.schedule == "cluster" or (args.schedule == "auto" and n >= AHEAD_MIN_WORKERS)
        wall = simulate(plan_streams(times, ahead), n, args.overhead, args.ahead_start) + serial
        return ("cluster" if ahead else "local"), wall

    for n in WORKERS:
        schedule, wall = predict(n)
        print(
            f"N = {n:2d}: predicted {wall:8.1f} s ({wall / 60:5.1f} min)  speed-up {(total + serial) / wall:5.2f}x"
            f"  ({schedule} schedule)"
        )
    for schedule in ("local", "cluster"):
        if args.schedule in ("auto", schedule):
            path = simulate(plan_streams(times, schedule == "cluster"), UNLIMITED, args.overhead, args.ahead_start)
            print(f"critical path, {schedule} schedule: {path + serial:.1f} s ({(path + serial) / 60:.1f} min)")
    longest = sorted(times, key=lambda b: -max(b[1]))[:3]
    print("longest runs: " + "; ".join(f"{name} ({max(seconds):.1f} s)" for name, seconds in longest))


if __name__ == "__main__":
    main()
