"""Benchmark: AlexNet feature extraction throughput vs a bare forward pass, and head retraining time.

    python bench/bench_alexnet_features.py [--images 64] [--batch 32] [--repeats 5] [--size 227]

Compares, on the same images and in the same process (medians over repeats, interleaved so load
changes hit every variant alike):
  bare-conv4     net.features[:10](x) on already-normalised images, torch.no_grad, one batch size
  bare-full      the whole AlexNet forward (features + avgpool + classifier), same batches
  extract        cnnlab.faces.alexnet.features.extract_features (per-batch ImageNet normalisation, inference_mode,
                 output copied into one preallocated (N, 43264) tensor)
  extract-cl     the same with channels_last
and the time to train the default 2.2 head (conv4 features -> 64 -> 6, 30 epochs) on cached features
of 6 x 70 training faces (+ 6 x 20 validation and test), plus loading those features from the cache.
Random weights: the arithmetic is the same as with the ImageNet weights.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--size", type=int, default=227)
    ap.add_argument("--head-epochs", type=int, default=30)
    args = ap.parse_args()

    from cnnlab.core.train.config import OptimizerConfig, TrainConfig
    from cnnlab.core.train.trainer import Trainer
    from cnnlab.faces.alexnet.features import cached_features, extract_features
    from cnnlab.faces.alexnet.model import AlexNet, AlexNetTrunk, Normalize
    from cnnlab.faces.models.heads import FeatureHead

    torch.manual_seed(0)
    net = AlexNet().eval()
    trunk = AlexNetTrunk("conv4", init=False)
    trunk.load_from_alexnet(net.state_dict())
    x = torch.rand(args.images, 3, args.size, args.size)  # images in [0, 1]
    with torch.no_grad():
        xn = Normalize()(x)  # pre-normalised copy for the bare references
    conv4 = net.features[:10]
    b = args.batch
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.images} images {args.size}x{args.size}, batch {b}"
    )

    def bare_conv4() -> None:
        with torch.no_grad():
            for i in range(0, len(xn), b):
                conv4(xn[i : i + b])

    def bare_full() -> None:
        with torch.no_grad():
            for i in range(0, len(xn), b):
                net(xn[i : i + b])

    variants = {
        "bare-conv4": bare_conv4,
        "bare-full": bare_full,
        "extract": lambda: extract_features(trunk, x, batch_size=b),
        "extract-cl": lambda: extract_features(trunk, x, batch_size=b, channels_last=True),
    }
    for fn in variants.values():  # warm-up (oneDNN primitive creation)
        fn()
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.repeats):  # interleaved
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    ref = med["bare-conv4"]
    print(f"{'variant':<12}{'median s':>10}{'images/s':>10}{'vs bare-conv4':>15}")
    for name, t in med.items():
        print(f"{name:<12}{t:>10.3f}{args.images / t:>10.1f}{ref / t:>14.2f}x")

    # Head retraining on cached features (the 2.2 loop after the first extraction).
    n_tr, n_ev, k = 70, 20, 6
    feats = {s: torch.rand(n * k, 256 * 13 * 13) for s, n in (("train", n_tr), ("val", n_ev), ("test", n_ev))}
    with tempfile.TemporaryDirectory() as tmp:
        sd = trunk.state_dict()
        # Cache the features once (as extract would), then time a cache hit.
        import numpy as np

        from cnnlab.core.io import atomic_path
        from cnnlab.faces.alexnet.model import FEATURE_CACHE_FORMAT  # noqa: F401  (format documented in alexnet.py)

        small = torch.rand(n_tr * k, 3, 67, 67)
        cached_features(small, state_dict=sd, weights_sha256="bench", layer="conv4", cache_dir=tmp)
        t_hit = _median_time(
            lambda: cached_features(small, state_dict=sd, weights_sha256="bench", layer="conv4", cache_dir=tmp), 3
        )
        path = f"{tmp}/big.npy"
        with atomic_path(path) as p:
            np.save(p, feats["train"].numpy())
        t_load = _median_time(lambda: np.load(path), 3)
    y = {s: torch.arange(k).repeat_interleave(len(v) // k) for s, v in feats.items()}
    head = FeatureHead(feats["train"].shape[1], (64,), k, 0.5)
    head.fit_standardizer(feats["train"])
    cfg = TrainConfig(
        epochs=args.head_epochs, batch_size=32, optimizer=OptimizerConfig(name="adam", lr=1e-4, weight_decay=1e-4)
    )
    t0 = time.perf_counter()
    Trainer(cfg).fit(
        head, (feats["train"], y["train"]), (feats["val"], y["val"]), monitor={"test": (feats["test"], y["test"])}
    )
    t_head = time.perf_counter() - t0
    print(
        f"head 43264 -> 64 -> {k}, {args.head_epochs} epochs on {n_tr * k} cached conv4 features "
        f"(+ val/test curves): {t_head:.2f} s"
    )
    print(
        f"feature cache: hit (hash + load) of {n_tr * k} small faces {t_hit:.3f} s; "
        f"loading {n_tr * k} x 43264 float32 ({feats['train'].numel() * 4 / 2**20:.0f} MiB) {t_load:.3f} s"
    )


if __name__ == "__main__":
    main()
