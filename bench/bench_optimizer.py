"""Benchmark: fused optimizer kernels against torch's per-tensor loop, on the networks cnnlab trains most.

Work: 800 training steps (100 epochs of the Olivetti MLP, batch 32) of
  - the 2.1 MLP, 784-300-40, tanh, Adam lr 1e-3, L2 1e-3;
  - the starter SimpleCNN of Part 1 on 50x50 RGB, batch 16, Adam lr 1e-4;
with one torch thread, each setting in turn, R interleaved rounds; we print medians, the ratio
per-tensor / fused, and whether both end at the same loss (they should, to float rounding).
cnnlab.core.train.trainer.create_optimizer uses the fused kernels wherever torch has them (CPU, CUDA).

    python bench/bench_optimizer.py [--rounds 5] [--steps 800]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F


def mlp() -> tuple[nn.Module, torch.Tensor, torch.Tensor, float]:
    model = nn.Sequential(nn.Linear(784, 300), nn.Tanh(), nn.Linear(300, 40))
    return model, torch.randn(32, 784), torch.randint(0, 40, (32,)), 1e-3


def starter_cnn() -> tuple[nn.Module, torch.Tensor, torch.Tensor, float]:
    from cnnlab.art.config import ModelConfig
    from cnnlab.art.models import SimpleCNN

    model = SimpleCNN(ModelConfig(), num_classes=11, image_size=50)
    return model, torch.randn(16, 3, 50, 50), torch.randint(0, 11, (16,)), 1e-4


def steps(build, fused: bool, n: int) -> tuple[float, float]:
    """Seconds for n Adam steps and the last loss, from the same initial weights and batch."""
    torch.manual_seed(0)
    model, x, y, lr = build()
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-3, fused=fused or None, foreach=False)
    t0 = time.perf_counter()
    for _ in range(n):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0, float(loss.detach())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=800)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()[0]:.2f}; torch {torch.__version__}; 1 thread; {args.steps} Adam steps")
    for name, build in (("MLP 784-300-40", mlp), ("starter SimpleCNN", starter_cnn)):
        times: dict[bool, list[float]] = {False: [], True: []}
        losses: dict[bool, float] = {}
        for _ in range(args.rounds):
            for fused in (False, True):
                seconds, losses[fused] = steps(build, fused, args.steps)
                times[fused].append(seconds)
        slow, fast = statistics.median(times[False]), statistics.median(times[True])
        same = abs(losses[False] - losses[True]) <= 1e-5 * max(1.0, abs(losses[False]))
        print(
            f"{name:<18} per-tensor {slow:.3f} s, fused {fast:.3f} s (medians of {args.rounds}): "
            f"{slow / fast:.2f}x; same final loss: {same} ({losses[False]:.6f} vs {losses[True]:.6f})"
        )


if __name__ == "__main__":
    main()
