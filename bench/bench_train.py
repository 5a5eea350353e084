"""Benchmark: `cnnlab train` as a whole process, per torch thread count, and against a bare loop.

Work (the handout's 1.2 run): starter SimpleCNN, 451 images (embedded synthetic-artists, decoded
tensors already cached), batch 16, Adam lr 1e-4, E epochs, validation every epoch.
Every measurement is a fresh process (Python + torch start-up included); settings are interleaved,
R rounds each; we print medians, each side's peak RSS and the ratio cnnlab / bare loop.

Settings (--threads): "default" (no --threads flag: the rule of cnnlab.core.threads) and explicit
counts. The bare loop runs with the default's thread count. --load starts one busy-loop process
(`python -c 'while 1: pass'`) for the whole measurement: "loaded" figures, as on a shared machine.
The 1-minute load average before the run is printed with the figures.

    python bench/bench_train.py [--rounds 5] [--epochs 50] [--threads default,1,2] [--load] [--no-bare]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

BARE_LOOP = r"""
import sys, torch
from torch import nn
from torch.nn import functional as F
from cnnlab.art.data import load_art_data, stratified_split
epochs, threads = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
ds = load_art_data("synthetic-artists")
split = stratified_split(ds.labels)
xtr, ytr = ds.images[split.train], ds.labels[split.train]
xva, yva = ds.images[split.val], ds.labels[split.val]
model = nn.Sequential(
    nn.Conv2d(3, 16, 5, stride=2), nn.ReLU(), nn.Conv2d(16, 16, 5, stride=2), nn.ReLU(),
    nn.Flatten(), nn.Linear(1600, 64), nn.ReLU(), nn.Linear(64, 11))
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
g = torch.Generator().manual_seed(0)
for epoch in range(epochs):
    model.train()
    perm = torch.randperm(len(xtr), generator=g)
    for i in range(0, len(xtr), 16):
        idx = perm[i:i + 16]
        loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(xva).argmax(1) == yva).float().mean().item()
print(f"bare val acc {acc:.3f}")
"""


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--threads", default="default,1,2", help="comma list of settings: default and/or counts")
    ap.add_argument("--load", action="store_true", help="run one busy-loop process during the measurement")
    ap.add_argument("--no-bare", action="store_true", help="skip the bare-loop comparison")
    args = ap.parse_args()
    settings = [s.strip() for s in args.threads.split(",") if s.strip()]
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # the default rule, not the caller's env
    from cnnlab.core.threads import resolve_threads

    default_threads = resolve_threads(None) if "OMP_NUM_THREADS" not in env else None
    # Warm the decoded-data cache once so every process starts from cached tensors.
    subprocess.run(
        [sys.executable, "-c", "from cnnlab.art.data import load_art_data; load_art_data('synthetic-artists')"],
        check=True,
        env=env,
    )
    load_before = os.getloadavg()[0]
    hog = subprocess.Popen([sys.executable, "-c", "while 1: pass"]) if args.load else None
    times: dict[str, list[float]] = {s: [] for s in settings}
    mem: dict[str, list[float]] = {s: [] for s in settings}
    if not args.no_bare:
        times["bare"], mem["bare"] = [], []
    try:
        with tempfile.TemporaryDirectory() as out:
            for r in range(args.rounds):
                line = []
                if not args.no_bare:
                    w, m = _timed([sys.executable, "-c", BARE_LOOP, str(args.epochs), str(default_threads)], env)
                    times["bare"].append(w), mem["bare"].append(m)
                    line.append(f"bare {w:.2f}s")
                for s in settings:
                    flag = [] if s == "default" else ["--threads", s]
                    cmd = [
                        sys.executable,
                        "-m",
                        "cnnlab",
                        "train",
                        "--out",
                        out,
                        "--force",
                        "--epochs",
                        str(args.epochs),
                        "--json",
                        *flag,
                    ]
                    w, m = _timed(cmd, env)
                    times[s].append(w), mem[s].append(m)
                    line.append(f"{s} {w:.2f}s")
                print(f"round {r + 1}: " + "  ".join(line), flush=True)
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    state = "loaded (one busy-loop process)" if args.load else "quiet (no load added)"
    print(
        f"{state}; {os.cpu_count()} CPUs; 1-min load average before: {load_before:.2f}; {args.epochs} epochs, {args.rounds} rounds"
    )
    for s, ts in times.items():
        label = (
            "bare loop"
            if s == "bare"
            else (
                f"cnnlab train, default ({default_threads} thread)" if s == "default" else f"cnnlab train --threads {s}"
            )
        )
        print(f"{label:<40} median {statistics.median(ts):6.2f}s  (min {min(ts):.2f}s)  peak RSS {max(mem[s]):.0f} MB")
    if "bare" in times and "default" in times:
        print(
            f"ratio cnnlab (default) / bare (medians): {statistics.median(times['default']) / statistics.median(times['bare']):.3f}"
            "  [target <= 1.25]"
        )


if __name__ == "__main__":
    main()
