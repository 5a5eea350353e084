"""Cross-validate 2.1 MLP recipes on the training + validation faces; the test faces only with --test.

Each recipe is an MLPRunConfig (28x28, 300 hidden units, as the handout asks). Cross-validation pools the
training and validation faces of the configured split, cuts them into 5 stratified folds (scikit-learn,
shuffled, seed 123) and trains fold f with seed f on the other four, early stopping on fold f. It prints
mean ± std validation accuracy per recipe and each recipe's paired difference to the first one (the
folds pair them; mean ± SE and the verdict rule of cnnlab.core.stats). Choose on these numbers alone.

With --test, each recipe is then trained the normal way (`train_mlp`, run folders in a temporary
folder) with seeds 0, 1, 2 and its test accuracy printed: look at it once, for the recipe chosen.

    python bench/tune_faces_mlp.py --faces FACESCRUB_DIR --actors course [--test]
    python bench/tune_faces_mlp.py                        # the embedded Olivetti faces
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace

import torch
from sklearn.model_selection import StratifiedKFold

from cnnlab.core.stats import compare, format_comparison
from cnnlab.core.threads import use_threads
from cnnlab.core.train.config import EarlyStoppingConfig, OptimizerConfig, TrainConfig
from cnnlab.core.train.trainer import Trainer, seed_everything
from cnnlab.faces.data.run_faces import load_run_faces
from cnnlab.faces.models.inputs import input_stats
from cnnlab.faces.models.mlp import MLP
from cnnlab.faces.run_configs import FaceDataConfig, MLPRunConfig
from cnnlab.faces.training.small import mlp_augmentation, train_mlp

FOLDS, FOLD_SEED, TEST_SEEDS = 5, 123, (0, 1, 2)


def recipes(data: FaceDataConfig) -> dict[str, MLPRunConfig]:
    """The recipes compared, the default first (the reference of the paired differences)."""
    default = MLPRunConfig(data=data)
    tuned_train = TrainConfig(
        epochs=100,
        batch_size=32,
        optimizer=OptimizerConfig(name="adam", lr=1e-3, weight_decay=1e-3),
        early_stopping=EarlyStoppingConfig(patience=40, monitor="val_acc"),
    )
    tuned = replace(default, mlp=replace(default.mlp, per_image=True, flip=True, dropout=0.5), train=tuned_train)
    return {
        "default": default,
        "per-image + flips + dropout 0.5": tuned,
        "the same on RGB": replace(tuned, mlp=replace(tuned.mlp, channels=3)),
    }


def cross_validate(config: MLPRunConfig) -> list[float]:
    """Validation accuracy of each of the FOLDS folds over the training + validation faces."""
    faces = load_run_faces(config)
    sets = faces.splits
    x = torch.cat([sets["train"][0], sets["val"][0]])  # (N, C, H, W) in [0, 1]
    y = torch.cat([sets["train"][1], sets["val"][1]])
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=FOLD_SEED).split(x.flatten(1).numpy(), y.numpy())
    accs = []
    for f, (fit, held) in enumerate(folds):
        m = config.mlp
        seed_everything(f)
        mean, std = input_stats(x[fit], m.standardize, m.per_image)
        model = MLP(m, len(faces.class_names), mean, std)
        trainer = Trainer(replace(config.train, seed=f))
        trainer.fit(model, (x[fit], y[fit]), (x[held], y[held]), augment=mlp_augmentation(m.flip, m.shift))
        accs.append(trainer.evaluate(model, x[held], y[held])[1])
    return accs


def test_accuracy(config: MLPRunConfig) -> list[float]:
    """Test accuracy of `train_mlp` with each of TEST_SEEDS (the configured split, early stopping on validation)."""
    faces = load_run_faces(config)
    with tempfile.TemporaryDirectory() as out:
        return [
            train_mlp(faces, replace(config, train=replace(config.train, seed=s)), out).summary["test_acc"]
            for s in TEST_SEEDS
        ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", default="olivetti", help="'olivetti' or a `cnnlab faces download` folder")
    ap.add_argument("--actors", default="", help="comma-separated names or 'course' (default: everyone)")
    ap.add_argument("--test", action="store_true", help="also train with seeds 0-2 and print test accuracy (once)")
    args = ap.parse_args()
    use_threads(1)
    data = FaceDataConfig(source=args.faces, actors=tuple(a for a in args.actors.split(",") if a))
    results: dict[str, list[float]] = {}
    for name, config in recipes(data).items():
        t0 = time.perf_counter()
        results[name] = accs = cross_validate(config)
        line = f"{name:36s} CV validation {statistics.fmean(accs):.3f} ± {statistics.stdev(accs):.3f} (n={len(accs)})"
        if len(results) > 1:
            line += f"; minus default, paired: {format_comparison(compare(accs, next(iter(results.values()))))}"
        if args.test:
            tests = test_accuracy(config)
            line += f"; test {statistics.fmean(tests):.3f} ± {statistics.stdev(tests):.3f} (seeds {TEST_SEEDS})"
        print(f"{line}  [{time.perf_counter() - t0:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
