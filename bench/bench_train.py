"""Benchmark: `cnnlab train` as a whole process against a bare hand-written loop on the same work.

Work (the handout's 1.2 run): starter SimpleCNN, 451 images (embedded synthetic-artists, decoded
tensors already cached), batch 16, Adam lr 1e-4, 50 epochs, validation every epoch.
Both sides run as fresh processes (Python + torch start-up included), interleaved, R rounds each;
we print medians, the ratio cnnlab / bare and each side's peak RSS.

    python bench/bench_train.py [--rounds 5] [--epochs 50]
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
epochs = int(sys.argv[1])
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


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
    args = ap.parse_args()
    # Warm the decoded-data cache once so both sides start from cached tensors.
    subprocess.run([sys.executable, "-c", "from cnnlab.art.data import load_art_data; load_art_data('synthetic-artists')"], check=True)
    bare, ours, bare_mem, ours_mem = [], [], [], []
    with tempfile.TemporaryDirectory() as out:
        for r in range(args.rounds):
            w, m = _timed([sys.executable, "-c", BARE_LOOP, str(args.epochs)])
            bare.append(w), bare_mem.append(m)
            w, m = _timed([sys.executable, "-m", "cnnlab", "train", "--out", out, "--force", "--epochs", str(args.epochs), "--json"])
            ours.append(w), ours_mem.append(m)
            print(f"round {r + 1}: bare {bare[-1]:.2f}s  cnnlab train {ours[-1]:.2f}s", flush=True)
    mb, mo = statistics.median(bare), statistics.median(ours)
    print(f"bare loop     median {mb:.2f}s  (min {min(bare):.2f}s)  peak RSS {max(bare_mem):.0f} MB")
    print(f"cnnlab train  median {mo:.2f}s  (min {min(ours):.2f}s)  peak RSS {max(ours_mem):.0f} MB")
    print(f"ratio cnnlab/bare (medians): {mo / mb:.3f}  [target <= 1.25]")


if __name__ == "__main__":
    main()
