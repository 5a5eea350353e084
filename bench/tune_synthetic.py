"""Calibrate the synthetic-artists data against the handout's starter SimpleCNN.

Trains the starter network exactly as the handout's run.py does (conv 3->16 k5 s2, ReLU, conv 16->16
k5 s2, ReLU, FC 1600->64, ReLU, FC->11; Adam lr 1e-4, batch 16, 50 epochs, cross-entropy) on the 70%
training split, and prints validation accuracy per seed, mean +- std, and the accuracy of each trained
network on the validation images under the handout's transforms (question 1.7).

    python bench/tune_synthetic.py                       # the shipped data, seeds 0 1 2
    python bench/tune_synthetic.py --mix 0.5 --jitter 1.2  # re-render with other difficulty knobs

The target band is a mean validation accuracy of 40-85% (aim 55-70%): room for pooling,
regularisation and architecture changes to help or hurt.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch import nn

from cnnlab.art.data import load_art_data, stratified_split, synthetic
from cnnlab.art.transforms import SEVERITIES, apply_transform


class StarterCNN(nn.Module):
    """The handout's SimpleCNN with its default hyperparameters (no pooling, no dropout)."""

    def __init__(self, num_classes: int = 11, image_size: int = 50) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 5, stride=2), nn.ReLU(), nn.Conv2d(16, 16, 5, stride=2), nn.ReLU()
        )
        with torch.no_grad():
            n = self.features(torch.zeros(1, 3, image_size, image_size)).numel()  # 16*10*10 at 50px
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(n, 64), nn.ReLU(), nn.Linear(64, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train_starter(x_tr, y_tr, x_val, y_val, seed: int, epochs: int = 50, num_classes: int = 11):
    torch.manual_seed(seed)
    model = StarterCNN(num_classes, x_tr.shape[-1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y_tr), generator=g)
        for i in range(0, len(order), 16):
            idx = order[i : i + 16]
            opt.zero_grad()
            loss_fn(model(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
    return model, accuracy(model, x_tr, y_tr), accuracy(model, x_val, y_val)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--split-seed", type=int, default=0, help="-1: use each training seed as split seed")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--mix", type=float, default=None, help="re-render with this style mixing")
    ap.add_argument("--jitter", type=float, default=None, help="re-render with this jitter")
    ap.add_argument("--nuisance", type=float, default=None, help="re-render with this nuisance opacity")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-robustness", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    if args.mix is None and args.jitter is None and args.nuisance is None:
        ds = load_art_data("synthetic-artists")
        images, labels, label = ds.images, ds.labels, f"shipped data ({ds.summary()})"
    else:
        mix = synthetic.DEFAULT_MIX if args.mix is None else args.mix
        jitter = synthetic.DEFAULT_JITTER if args.jitter is None else args.jitter
        nuisance = synthetic.DEFAULT_NUISANCE if args.nuisance is None else args.nuisance
        x, y = synthetic.render_artists(50, mix=mix, jitter=jitter, nuisance=nuisance)
        label = f"re-rendered mix={mix} jitter={jitter} nuisance={nuisance}"
        images, labels = torch.from_numpy(x), torch.from_numpy(y)
    print(f"data: {label}; load {time.perf_counter() - t0:.2f}s")

    val_accs, train_accs, robust = [], [], {}
    for seed in args.seeds:
        split = stratified_split(labels, seed=seed if args.split_seed < 0 else args.split_seed)
        x_tr, y_tr = images[split.train], labels[split.train]
        x_val, y_val = images[split.val], labels[split.val]
        t = time.perf_counter()
        model, tr, va = train_starter(x_tr, y_tr, x_val, y_val, seed, args.epochs)
        train_accs.append(tr)
        val_accs.append(va)
        print(f"seed {seed}: train {tr:.3f}  val {va:.3f}  ({time.perf_counter() - t:.1f}s)", flush=True)
        if not args.no_robustness:
            for name, sevs in SEVERITIES.items():
                for s in sevs[1:]:
                    xt = apply_transform(name, x_val, s, torch.Generator().manual_seed(seed))
                    robust.setdefault((name, s), []).append(accuracy(model, xt, y_val))

    def ms(v: list[float]) -> str:
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        return f"{100 * statistics.mean(v):.1f} +- {100 * sd:.1f}%"

    print(f"\nstarter SimpleCNN, {args.epochs} epochs, seeds {args.seeds}:")
    print(f"  train accuracy      {ms(train_accs)}")
    print(f"  validation accuracy {ms(val_accs)}   (target band 40-85%, aim 55-70%)")
    print(f"  chance (majority)   {100 * np.bincount(labels.numpy()).max() / len(labels):.1f}%")
    if robust:
        print("\nvalidation accuracy under transforms (mean over seeds; drop vs clean):")
        clean = statistics.mean(val_accs)
        for (name, s), v in robust.items():
            print(f"  {name:<14} severity {s:<5} {ms(v):>16}   drop {100 * (clean - statistics.mean(v)):+5.1f}")


if __name__ == "__main__":
    main()
