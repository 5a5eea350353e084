"""Benchmark: what cnnlab's deterministic CUDA settings cost in speed, to decide whether a
`--fast-nondeterministic` switch would pay.

Deterministic (what every cnnlab run uses, core.device.configure_determinism): deterministic algorithms,
cuDNN without autotuning, no TF32. Fast: none of that (cudnn.benchmark on, TF32 allowed). Work: Trainer.fit
of Part 1 networks on random 50x50 RGB data of the painters' size (660 training, 130 validation images,
11 classes, batch 16, Adam, no early stop), in this process, each setting in turn over R interleaved rounds
after one warm-up fit; we print medians and the ratio deterministic / fast.

    python bench/bench_determinism.py [--device cuda] [--rounds 3] [--epochs 10]

On the CPU both settings are the same code (the switches are CUDA's): `--device cpu` only rehearses it.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

NETWORKS = {
    "starter (16, 16 filters, stride 2)": {},
    "wide pooled (64, 128, 3x3, pool)": {
        "filters": (64, 128),
        "kernel_sizes": 3,
        "strides": 1,
        "paddings": 1,
        "pool": True,
    },
}


def fast_settings() -> None:
    """The nondeterministic settings: what a user would get from plain PyTorch with autotuning on."""
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.deterministic = False
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = True


def fit_seconds(device: torch.device, model_kw: dict, epochs: int, deterministic: bool) -> float:
    from cnnlab.art.config import ModelConfig
    from cnnlab.art.models import SimpleCNN
    from cnnlab.core.train.config import EarlyStoppingConfig, TrainConfig
    from cnnlab.core.train.trainer import Trainer

    trainer = Trainer(TrainConfig(epochs=epochs, early_stopping=EarlyStoppingConfig(patience=None)), device=device)
    if not deterministic:
        fast_settings()  # after the Trainer, which sets the deterministic ones
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(660, 3, 50, 50, generator=gen) - 0.5, torch.randint(0, 11, (660,), generator=gen)  # (N, C, H, W)
    xv, yv = torch.rand(130, 3, 50, 50, generator=gen) - 0.5, torch.randint(0, 11, (130,), generator=gen)
    torch.manual_seed(0)
    model = SimpleCNN(ModelConfig(**model_kw), num_classes=11, image_size=50)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    trainer.fit(model, train=(x, y), val=(xv, yv))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    from cnnlab.core.device import device_name, resolve_device

    device = resolve_device(args.device)
    torch.set_num_threads(1)
    print(f"{device_name(device)}; torch {torch.__version__}; {args.epochs} epochs; {args.rounds} rounds")
    for label, kw in NETWORKS.items():
        fit_seconds(device, kw, 1, True)  # warm-up: CUDA context, kernels, allocator
        times: dict[bool, list[float]] = {True: [], False: []}
        for r in range(args.rounds):
            for det in (True, False) if r % 2 == 0 else (False, True):
                times[det].append(fit_seconds(device, kw, args.epochs, det))
        det, fast = statistics.median(times[True]), statistics.median(times[False])
        print(f"{label:<36} deterministic {det:6.2f} s   fast {fast:6.2f} s   deterministic / fast {det / fast:5.2f}x")


if __name__ == "__main__":
    main()
