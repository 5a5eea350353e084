"""The flags and output every `cnnlab part2` command group shares (cli.part2_small, cli.part2_alexnet): the data,
runtime and training flags, one config per seed, and how finished runs are printed. A module of its own so that neither command group imports the other."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from cnnlab.cli.common import (
    add_actors_arg,
    add_config_args,
    add_field_arg,
    add_runtime_args,
    add_seed_args,
    add_tensorboard_arg,
    bind_field,
    chosen_seeds,
    parse_actors,
    tensorboard_done,
)
from cnnlab.core.train.config import OPTIMIZERS


def add_face_data_args(p: argparse.ArgumentParser, cls: type, jobs: str | None = None) -> None:
    """--config/--set, the data flags (data.*), and what every Part 2 run command takes."""
    add_config_args(p, data=False)
    add_field_arg(
        p,
        cls,
        "data.source",
        "--faces",
        "'olivetti' (embedded) or a folder made by `cnnlab faces download`",
        metavar="SOURCE",
    )
    add_actors_arg(p)
    bind_field(p, "actors", "data.actors", parse_actors)
    for flag, key, what in (
        ("--train-per-actor", "train_per_actor", "training faces per person"),
        ("--min-eval-per-actor", "min_eval_per_actor", "fewest validation and test faces per person, each"),
    ):
        add_field_arg(p, cls, f"data.split.{key}", flag, what, type=int, metavar="N")
    add_field_arg(p, cls, "data.split.seed", "--split-seed", "seed of the per-person split", type=int, metavar="S")
    add_runtime_args(p, "each run is written to <out>/<run id>/", jobs=jobs)
    p.add_argument("--force", action="store_true", help="retrain even if this exact run is cached")
    p.add_argument("--json", action="store_true", help="print summary.json on stdout")
    add_tensorboard_arg(p)


def add_train_args(p: argparse.ArgumentParser, cls: type) -> None:
    """The train.* flags; their defaults are the command's own (cls().train)."""
    add_field_arg(p, cls, "train.epochs", "--epochs", "training epochs", type=int)
    add_field_arg(p, cls, "train.batch_size", "--batch-size", "mini-batch size", type=int)
    add_field_arg(p, cls, "train.optimizer.name", "--optimizer", f"optimizer: {', '.join(OPTIMIZERS)}")
    add_field_arg(p, cls, "train.optimizer.lr", "--lr", "learning rate", type=float)
    add_field_arg(p, cls, "train.optimizer.weight_decay", "--weight-decay", "L2 weight decay", type=float)
    add_field_arg(
        p,
        cls,
        "train.early_stopping.patience",
        "--patience",
        "early stopping after this many epochs without improvement of the validation metric (train.early_stopping.monitor)",
        type=int,
    )
    add_seed_args(p, None, "training seeds, one run each (sets train.seed), then mean +- std")


def seeded(config, args: argparse.Namespace) -> list:
    """One config per seed of --seeds or --repeats (train.seed), or just `config` when neither is given."""
    from cnnlab.faces.run_configs import with_seed

    seeds = chosen_seeds(args)
    return [config] if seeds is None else [with_seed(config, s) for s in seeds]


def print_part2(results: list, args: argparse.Namespace, extra: Callable[[dict], list[str]] | None = None) -> None:
    from cnnlab.core.io import json_text
    from cnnlab.faces.training.small import seed_summary

    if args.json:
        print(json_text([r.summary for r in results] if len(results) > 1 else results[0].summary, indent=2))
        return
    for r in results:
        s = r.summary
        print(f"run {s['run_id']}{' (cached)' if r.cached else ''}: {r.path}")
        print(
            f"  {s['model']}; seed {s['seed']}, best epoch {s['best_epoch']} of {s['epochs_run']} (by {s['selected_by'].replace('_', ' ')})"
        )
        print(f"  accuracy: train {s['train_acc']:.3f}  val {s['val_acc']:.3f}  test {s['test_acc']:.3f}")
        for line in extra(s) if extra else []:
            print(f"  {line}")
        if s.get("warning"):
            print(f"  WARNING: {s['warning']}")
    if len(results) > 1:
        agg = seed_summary(results)
        print(
            f"test accuracy over {agg['n']} seeds: {agg['test_acc_mean']:.3f} +- {agg['test_acc_std']:.3f} "
            f"(val {agg['val_acc_mean']:.3f} +- {agg['val_acc_std']:.3f})"
        )


def finish_tensorboard(results: list, args: argparse.Namespace) -> None:
    import sys

    tensorboard_done(args, args.out, [r.path for r in results], stream=sys.stderr if args.json else None)
